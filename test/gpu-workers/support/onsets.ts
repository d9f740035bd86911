// An onset detector that works on rendered audio alone (never on the event track), so tests can check that sounds
// start where collisions happen. High-frequency energy rise: impacts open with a broadband click, beds and rings do not.

export interface OnsetOptions {
  /** Interleaved channels in `audio`; they are summed. */
  channels?: number;
  /** Length of the energy windows, in samples (32 = 0.67 ms at 48 kHz). */
  windowSamples?: number;
  /** How far back the reference energy looks, in samples: a ring decaying from an onset must not fire again. */
  lookbackSamples?: number;
  /** The window after an onset must hold this many times the loudest window before it. */
  ratio?: number;
  /** Absolute floor for the window energy (of the second difference of the channel sum). */
  minEnergy?: number;
  /** Onsets closer than this are one onset (the first). */
  minGapSamples?: number;
  /** Whether samples before the first are silence (a whole track) or unknown (a chunk that starts mid-sound). */
  startsInSilence?: boolean;
}

/** Defaults tuned for the reference pack: 48 kHz, ambient beds up to 0.05 peak, impacts from about 0.15 amplitude. */
export const DEFAULT_ONSET_OPTIONS: Required<OnsetOptions> = {
  channels: 2,
  windowSamples: 32,
  lookbackSamples: 480,
  ratio: 3,
  minEnergy: 0.05,
  minGapSamples: 480,
  startsInSilence: true,
};

/** Sample indices (per channel, i.e. frame indices of the interleaved buffer) where sounds start, ascending. */
export function detectOnsets(audio: ArrayLike<number>, options: OnsetOptions = {}): number[] {
  const o = { ...DEFAULT_ONSET_OPTIONS, ...options };
  const n = Math.floor(audio.length / o.channels);
  const w = o.windowSamples;
  if (n < w) return [];

  // Second difference of the channel sum: a high-pass that keeps clicks and steps and all but removes low tones.
  const mono = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < o.channels; c++) s += audio[i * o.channels + c]!;
    mono[i] = s;
  }
  const first = o.startsInSilence ? 0 : 2;
  const at = (i: number) => (i < 0 ? 0 : mono[i]!);
  const diff = new Float64Array(n);
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    const d = i < first ? 0 : at(i) - 2 * at(i - 1) + at(i - 2);
    diff[i] = d;
    prefix[i + 1] = prefix[i]! + d * d;
  }
  // The best window start lies up to a window before the click; the click is the first sample of the window's
  // largest high-passed swings.
  const refine = (start: number) => {
    const from = Math.max(0, start - w);
    const to = Math.min(n, start + w);
    let peak = 0;
    for (let i = from; i < to; i++) peak = Math.max(peak, Math.abs(diff[i]!));
    for (let i = from; i < to; i++) if (Math.abs(diff[i]!) >= 0.5 * peak) return i;
    return start;
  };
  const windows = n - w + 1;
  // energy[i]: the window starting at i.
  const energy = new Float64Array(windows);
  for (let i = 0; i < windows; i++) energy[i] = prefix[i + w]! - prefix[i]!;

  // before[i]: the loudest window ending at or before i, within the lookback (monotonic deque of window starts).
  const onsets: number[] = [];
  const deque: number[] = [];
  let head = 0;
  let best = -1;
  let bestScore = 0;
  let lastOnset = -Infinity;
  const earliest = o.startsInSilence ? 0 : w + 2;
  const flush = () => {
    const onset = best >= 0 ? refine(best) : -1;
    if (onset >= 0 && onset - lastOnset >= o.minGapSamples) {
      onsets.push(onset);
      lastOnset = onset;
    }
    best = -1;
    bestScore = 0;
  };
  for (let i = 0; i < windows; i++) {
    const newest = i - w; // the last window wholly before i
    if (newest >= 0) {
      while (deque.length > head && energy[deque[deque.length - 1]!]! <= energy[newest]!) deque.pop();
      deque.push(newest);
    }
    while (deque.length > head && deque[head]! < i - w - o.lookbackSamples) head++;
    const before = deque.length > head ? energy[deque[head]!]! : 0;
    const score = energy[i]! - o.ratio * before;
    const firing = i >= earliest && energy[i]! > o.minEnergy && score > 0;
    if (firing) {
      // The best-scoring start of a run of firing windows is where the window begins at the click.
      if (score > bestScore) {
        best = i;
        bestScore = score;
      }
    } else if (best >= 0) {
      flush();
    }
  }
  flush();
  return onsets;
}

/**
 * Pairs expected onsets with detected ones within `toleranceSamples`: what was missed, what was spurious, and the
 * error of each match.
 */
export function matchOnsets(expected: number[], detected: number[], toleranceSamples: number) {
  const used = new Set<number>();
  const missed: number[] = [];
  const errors: number[] = [];
  for (const e of expected) {
    let match = -1;
    for (let j = 0; j < detected.length; j++) {
      if (used.has(j)) continue;
      if (Math.abs(detected[j]! - e) <= toleranceSamples && (match < 0 || Math.abs(detected[j]! - e) < Math.abs(detected[match]! - e))) match = j;
    }
    if (match < 0) missed.push(e);
    else {
      used.add(match);
      errors.push(detected[match]! - e);
    }
  }
  const spurious = detected.filter((_, j) => !used.has(j));
  return { missed, spurious, errors };
}
