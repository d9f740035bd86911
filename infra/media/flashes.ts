// The flash measurement of one rendered segment, shared by the orchestration worker's measureSegmentFlashes and the
// GPU worker's renderChunk: the segment decoded as the MP4 will hold it (the mux copies it), shrunk, and the
// per-frame region means the photosensitivity analysis needs stored beside it in the blob store.
import { measureRegions, type RegionSeries } from '../../domain/moderation/photosensitivity';
import { type BlobStore, withLocalCopy } from '../blobs';
import type { Ffmpeg } from './ffmpeg';

export interface StoredMeasurement {
  frames: number;
  regions: RegionSeries[];
}

/** The analysis runs on a small copy of the frames: flashes are area averages, so 96 pixels across are plenty. */
const ANALYSIS_WIDTH = 96;

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
