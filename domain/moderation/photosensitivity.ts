// The output check for photosensitive-seizure risk (WCAG 2.3.1, "Three Flashes or Below Threshold"), measured on
// decoded RGB frames. A flash is a pair of opposing changes in relative luminance of at least 0.1 where the darker
// state is below 0.8 (general flash), or a pair of opposing transitions involving a saturated red whose value
// (R - G - B) x 320 changes by more than 20 (red flash). More than three of either in any one second fails.
//
// WCAG counts a flash when it covers at least a quarter of any 10-degree visual field. We approximate the field
// by a 3 x 3 grid of cells (each about a ninth of the frame, the size of a 10-degree field at a normal viewing
// distance from a phone or monitor) plus the whole frame, and count a cell's transitions on its mean values:
// a change of 0.1 in a cell's mean needs at least a quarter of the cell changing by 0.4 or more. Pure code.

export interface FrameSequence {
  /** RGB bytes, frame after frame, row after row. */
  frames: Uint8Array;
  width: number;
  height: number;
  fps: number;
}

export interface FlashReport {
  verdict: 'allow' | 'block';
  generalFlashesPerSecond: number;
  redFlashesPerSecond: number;
  /** Where the worst one-second window starts, and in which region ("frame" or "cell r,c"). */
  worst: { kind: 'general' | 'red'; startFrame: number; region: string } | null;
  reasons: string[];
}

export const MAX_FLASHES_PER_SECOND = 3;
const GENERAL_DELTA = 0.1;
const GENERAL_DARK_BELOW = 0.8;
const RED_DELTA = 20;
const GRID = 3;

const LINEAR = Array.from({ length: 256 }, (_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

/** One region's per-frame means: relative luminance and saturated-red value. */
export interface RegionSeries {
  name: string;
  luminance: ArrayLike<number>;
  red: ArrayLike<number>;
}

/**
 * Per region (the whole frame, then the 3 x 3 cells) and frame: mean relative luminance and mean saturated-red
 * value. What the analysis needs of the pixels; the series of consecutive pieces of one video join by concatenation
 * (see joinRegionSeries), so a video can be measured chunk by chunk as it is rendered.
 */
export function measureRegions(seq: Pick<FrameSequence, 'frames' | 'width' | 'height'>): { name: string; luminance: Float64Array; red: Float64Array }[] {
  const { width: w, height: h, frames } = seq;
  if (w <= 0 || h <= 0) throw new RangeError('width and height must be positive');
  const frameCount = Math.floor(frames.length / (w * h * 3));
  const regions = [{ name: 'frame', x0: 0, x1: w, y0: 0, y1: h }];
  for (let r = 0; r < GRID; r++) {
    for (let c = 0; c < GRID; c++) {
      regions.push({
        name: `cell ${r},${c}`,
        x0: Math.floor((c * w) / GRID),
        x1: Math.floor(((c + 1) * w) / GRID),
        y0: Math.floor((r * h) / GRID),
        y1: Math.floor(((r + 1) * h) / GRID),
      });
    }
  }
  return regions.map((reg) => {
    const luminance = new Float64Array(frameCount);
    const red = new Float64Array(frameCount);
    const n = (reg.x1 - reg.x0) * (reg.y1 - reg.y0);
    for (let f = 0; f < frameCount; f++) {
      let lum = 0;
      let redSum = 0;
      for (let y = reg.y0; y < reg.y1; y++) {
        let i = ((f * h + y) * w + reg.x0) * 3;
        for (let x = reg.x0; x < reg.x1; x++, i += 3) {
          const R = LINEAR[frames[i]!]!;
          const G = LINEAR[frames[i + 1]!]!;
          const B = LINEAR[frames[i + 2]!]!;
          lum += 0.2126 * R + 0.7152 * G + 0.0722 * B;
          const sum = R + G + B;
          if (sum > 0 && R / sum >= 0.8) redSum += Math.max(0, R - G - B) * 320;
        }
      }
      luminance[f] = lum / n;
      red[f] = redSum / n;
    }
    return { name: reg.name, luminance, red };
  });
}

/**
 * Frames at which a transition completes: the value has moved by at least `delta` from the last extreme, in the
 * direction opposite to the previous transition (a slow fade counts once, however many frames it takes).
 */
export function transitions(series: ArrayLike<number>, delta: number, darkBelow = Infinity): number[] {
  const out: number[] = [];
  if (series.length === 0) return out;
  let low = series[0]!;
  let high = series[0]!;
  let direction = 0; // +1 last transition went up, -1 down, 0 none yet
  for (let t = 1; t < series.length; t++) {
    const v = series[t]!;
    if (direction >= 0) {
      // Looking for a fall from the high.
      if (v > high) high = v;
      if (high - v >= delta && Math.min(high, v) < darkBelow) {
        out.push(t);
        direction = -1;
        low = v;
        continue;
      }
    }
    if (direction <= 0) {
      if (v < low) low = v;
      if (v - low >= delta && Math.min(low, v) < darkBelow) {
        out.push(t);
        direction = 1;
        high = v;
        continue;
      }
    }
    if (direction === 1 && v > high) high = v;
    if (direction === -1 && v < low) low = v;
  }
  return out;
}

/** The most flashes (pairs of opposing transitions) within any window of `fps` frames, and where it starts. */
export function maxFlashesPerSecond(transitionFrames: number[], fps: number): { flashes: number; startFrame: number } {
  let best = { flashes: 0, startFrame: 0 };
  let start = 0;
  for (let end = 0; end < transitionFrames.length; end++) {
    while (transitionFrames[end]! - transitionFrames[start]! >= fps) start++;
    const flashes = Math.floor((end - start + 1) / 2);
    if (flashes > best.flashes) best = { flashes, startFrame: transitionFrames[start]! };
  }
  return best;
}

/** The series of consecutive pieces of one video, in order, as the series of the whole. */
export function joinRegionSeries(pieces: readonly (readonly RegionSeries[])[]): RegionSeries[] {
  if (pieces.length === 0) return [];
  const names = pieces[0]!.map((r) => r.name);
  for (const [i, piece] of pieces.entries()) {
    if (piece.length !== names.length || piece.some((r, j) => r.name !== names[j])) {
      throw new RangeError(`piece ${i} measures regions ${piece.map((r) => r.name).join(', ')}, not ${names.join(', ')}`);
    }
  }
  return names.map((name, j) => ({
    name,
    luminance: pieces.flatMap((piece) => Array.from(piece[j]!.luminance)),
    red: pieces.flatMap((piece) => Array.from(piece[j]!.red)),
  }));
}

export function analyzeFlashes(seq: FrameSequence): FlashReport {
  if (seq.fps <= 0) throw new RangeError('fps must be positive');
  return analyzeRegionSeries(measureRegions(seq), seq.fps);
}

/** The WCAG 2.3.1 verdict on measured region series (measureRegions) of frames shown at `fps`. */
export function analyzeRegionSeries(regions: readonly RegionSeries[], fps: number): FlashReport {
  if (fps <= 0) throw new RangeError('fps must be positive');
  let general = { flashes: 0, startFrame: 0, region: 'frame' };
  let red = { flashes: 0, startFrame: 0, region: 'frame' };
  for (const region of regions) {
    const g = maxFlashesPerSecond(transitions(region.luminance, GENERAL_DELTA, GENERAL_DARK_BELOW), fps);
    if (g.flashes > general.flashes) general = { ...g, region: region.name };
    const r = maxFlashesPerSecond(transitions(region.red, RED_DELTA), fps);
    if (r.flashes > red.flashes) red = { ...r, region: region.name };
  }
  const reasons: string[] = [];
  if (general.flashes > MAX_FLASHES_PER_SECOND) {
    reasons.push(
      `${general.flashes} general flashes within one second (from frame ${general.startFrame}, ${general.region}); at most ${MAX_FLASHES_PER_SECOND} are allowed`,
    );
  }
  if (red.flashes > MAX_FLASHES_PER_SECOND) {
    reasons.push(`${red.flashes} red flashes within one second (from frame ${red.startFrame}, ${red.region}); at most ${MAX_FLASHES_PER_SECOND} are allowed`);
  }
  const worstKind = red.flashes > general.flashes ? 'red' : 'general';
  const worstOf = worstKind === 'red' ? red : general;
  return {
    verdict: reasons.length ? 'block' : 'allow',
    generalFlashesPerSecond: general.flashes,
    redFlashesPerSecond: red.flashes,
    worst: worstOf.flashes > 0 ? { kind: worstKind, startFrame: worstOf.startFrame, region: worstOf.region } : null,
    reasons,
  };
}
