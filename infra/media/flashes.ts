// The flash measurement of one rendered segment, shared by the orchestration worker's measureSegmentFlashes and the
// GPU worker's renderChunk: the segment decoded as the MP4 will hold it (the mux copies it), shrunk, and the
// per-frame region means the photosensitivity analysis needs stored beside it in the blob store.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { measureRegions, type RegionSeries } from '../../domain/moderation/photosensitivity';
import type { BlobStore } from '../blobs';
import type { Ffmpeg } from './ffmpeg';

export interface StoredMeasurement {
  frames: number;
  regions: RegionSeries[];
}

/** The analysis runs on a small copy of the frames: flashes are area averages, so 96 pixels across are plenty. */
const ANALYSIS_WIDTH = 96;

/** Copies a blob to a temporary file for ffmpeg, and removes it afterwards. */
export async function withLocalCopy<T>(blobs: BlobStore, key: string, use: (file: string) => Promise<T>): Promise<T> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'reelforge-blob-'));
  const file = path.join(dir, path.basename(key));
  try {
    await pipeline(await blobs.stream(key), fs.createWriteStream(file));
    return await use(file);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/** Measures the segment at `segmentKey` (a `width` x `height` video) and stores the measurement at `<segmentKey>.flash.json`. */
export async function measureSegmentFlashes(
  deps: { blobs: BlobStore; ffmpeg: Ffmpeg },
  input: { segmentKey: string; width: number; height: number },
): Promise<{ measurementKey: string; frames: number }> {
  const width = ANALYSIS_WIDTH;
  // Even dimensions keep ffmpeg's scaler exact for yuv420p sources.
  const height = Math.max(2, Math.round((input.height * width) / input.width / 2) * 2);
  const decoded = await withLocalCopy(deps.blobs, input.segmentKey, (file) => deps.ffmpeg.decodeToRgb(file, width, height));
  const regions = measureRegions({ frames: decoded.frames, width, height });
  const measurementKey = `${input.segmentKey}.flash.json`;
  const stored: StoredMeasurement = {
    frames: decoded.count,
    regions: regions.map((r) => ({ name: r.name, luminance: Array.from(r.luminance), red: Array.from(r.red) })),
  };
  await deps.blobs.put(measurementKey, Buffer.from(JSON.stringify(stored)));
  return { measurementKey, frames: decoded.count };
}
