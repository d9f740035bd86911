// Stores a rendered chunk for the mux step: the frames as one H.264 MPEG-TS segment, the audio as raw PCM (s16le,
// interleaved stereo), under videos/<id>/chunks/<index>.*, with the format in the key and in what is returned.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BlobStore } from '../../infra/blobs';
import type { Ffmpeg } from '../../infra/media/ffmpeg';
import type { VideoChunk } from './engine';

/** Three digits keep a prefix listing in chunk order; 1,000 chunks is far beyond the longest video (20 s of 1 s chunks). */
export const MAX_CHUNKS = 1000;
export const AUDIO_CHANNELS = 2;

export interface VideoSegment {
  key: string;
  bytes: number;
  container: 'mpegts';
  codec: 'h264';
  width: number;
  height: number;
  fps: number;
  startFrame: number;
  frames: number;
}

export interface AudioSegment {
  key: string;
  bytes: number;
  encoding: 's16le';
  sampleRateHz: number;
  channels: number;
  /** Sample frames (one per channel pair). */
  samples: number;
}

function chunkPrefix(videoId: string, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_CHUNKS)
    throw new RangeError(`chunk index must be an integer from 0 to ${MAX_CHUNKS - 1}, got ${index}`);
  return `videos/${videoId}/chunks/${String(index).padStart(3, '0')}`;
}

export function videoSegmentKey(videoId: string, index: number): string {
  return `${chunkPrefix(videoId, index)}.ts`;
}

export function audioSegmentKey(videoId: string, index: number, sampleRateHz: number): string {
  return `${chunkPrefix(videoId, index)}.s16le-${sampleRateHz}hz-${AUDIO_CHANNELS}ch.pcm`;
}

/** Float samples in -1..1 to signed 16-bit little-endian; clamped, so a loud mix clips rather than wraps. */
export function toS16le(samples: Float32Array): Buffer {
  const out = Buffer.allocUnsafe(samples.length * 2);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i]!));
    out.writeInt16LE(Math.round(v * 32767), i * 2);
  }
  return out;
}

export async function writeVideoSegment(args: {
  blobs: BlobStore;
  ffmpeg: Ffmpeg;
  videoId: string;
  index: number;
  startFrame: number;
  fps: number;
  video: VideoChunk;
}): Promise<VideoSegment> {
  const { blobs, ffmpeg, video } = args;
  const key = videoSegmentKey(args.videoId, args.index);
  // ffmpeg writes a file; it goes into the store by the store's own atomic put, so no half segment is ever visible.
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'reelforge-segment-'));
  try {
    const file = path.join(dir, 'segment.ts');
    await ffmpeg.encodeRgbSegment({
      frames: video.frames,
      width: video.width,
      height: video.height,
      fps: args.fps,
      startFrame: args.startFrame,
      outFile: file,
    });
    const info = await blobs.put(key, fs.createReadStream(file));
    return {
      key,
      bytes: info.bytes,
      container: 'mpegts',
      codec: 'h264',
      width: video.width,
      height: video.height,
      fps: args.fps,
      startFrame: args.startFrame,
      frames: video.numFrames,
    };
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

export async function writeAudioSegment(args: {
  blobs: BlobStore;
  videoId: string;
  index: number;
  sampleRateHz: number;
  audio: Float32Array;
}): Promise<AudioSegment> {
  if (args.audio.length % AUDIO_CHANNELS !== 0)
    throw new RangeError(`audio has ${args.audio.length} values, not whole ${AUDIO_CHANNELS}-channel sample frames`);
  const key = audioSegmentKey(args.videoId, args.index, args.sampleRateHz);
  const info = await args.blobs.put(key, toS16le(args.audio));
  return { key, bytes: info.bytes, encoding: 's16le', sampleRateHz: args.sampleRateHz, channels: AUDIO_CHANNELS, samples: args.audio.length / AUDIO_CHANNELS };
}

/**
 * Both halves of a chunk. The generation workflow renders audio chunk i beside video chunk i+1, so it calls the two
 * writers separately; this is for callers that have both at once.
 */
export async function writeChunk(args: {
  blobs: BlobStore;
  ffmpeg: Ffmpeg;
  videoId: string;
  index: number;
  startFrame: number;
  fps: number;
  sampleRateHz: number;
  video: VideoChunk;
  audio: Float32Array;
}): Promise<{ video: VideoSegment; audio: AudioSegment }> {
  const [video, audio] = await Promise.all([writeVideoSegment(args), writeAudioSegment(args)]);
  return { video, audio };
}
