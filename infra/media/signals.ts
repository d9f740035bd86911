// Measurements on decoded sound that the cameo checks and the likeness share: levels in dBFS, percentiles. Pure
// functions over arrays, so they are tested without ffmpeg.

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

/** The p-th percentile (0..1) with linear interpolation between ranks; undefined for no values. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = p * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.min(sorted.length - 1, low + 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

export function roundTo(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}
