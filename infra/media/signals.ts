// Measurements on decoded pictures and sound that the cameo checks and the likeness share: levels in dBFS, picture
// change between frames, percentiles. Pure functions over arrays, so they are tested without ffmpeg.

/** What digital silence measures: log10(0) is -Infinity, which JSON cannot carry and no threshold needs. */
export const SILENCE_FLOOR_DBFS = -100;

/** The level of an RMS amplitude (full scale = 1), in dB relative to full scale, never below the floor. */
export function dbfs(rms: number): number {
  return rms > 0 ? Math.max(SILENCE_FLOOR_DBFS, 20 * Math.log10(rms)) : SILENCE_FLOOR_DBFS;
}

export function rms(samples: ArrayLike<number>, start = 0, end = samples.length): number {
  if (end <= start) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / (end - start));
}

/** The level of each whole window of `windowS` between `fromS` and `toS` (mono samples). */
export function windowLevelsDbfs(samples: Float32Array, sampleRateHz: number, windowS: number, fromS: number, toS: number): number[] {
  const size = Math.max(1, Math.round(windowS * sampleRateHz));
  const first = Math.max(0, Math.round(fromS * sampleRateHz));
  const last = Math.min(samples.length, Math.round(toS * sampleRateHz));
  const levels: number[] = [];
  for (let at = first; at + size <= last; at += size) levels.push(dbfs(rms(samples, at, at + size)));
  return levels;
}

/** The p-th percentile (0..1) with linear interpolation between ranks; undefined for no values. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = p * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.min(sorted.length - 1, low + 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

/**
 * Mean absolute difference between consecutive frames, in 0..255 levels per RGB sample, averaged over the pairs;
 * null with fewer than two frames.
 */
export function meanFrameChange(frames: Uint8Array, count: number, frameBytes: number): number | null {
  if (count < 2) return null;
  let total = 0;
  for (let f = 1; f < count; f++) {
    const a = (f - 1) * frameBytes;
    const b = f * frameBytes;
    let sum = 0;
    for (let i = 0; i < frameBytes; i++) sum += Math.abs(frames[b + i]! - frames[a + i]!);
    total += sum / frameBytes;
  }
  return total / (count - 1);
}

export function roundTo(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}
