// The photosensitivity check (WCAG 2.3.1) on synthetic frame sequences with known flash rates.
import {
  analyzeFlashes,
  analyzeRegionSeries,
  joinRegionSeries,
  maxFlashesPerSecond,
  measureRegions,
  transitions,
} from '../../domain/moderation/photosensitivity';

const W = 48;
const H = 36;
const FPS = 24;

/** `seconds` of frames; `colourAt(frame, x, y)` gives the RGB of each pixel. */
function frames(seconds: number, colourAt: (f: number, x: number, y: number) => [number, number, number]) {
  const count = seconds * FPS;
  const data = new Uint8Array(count * W * H * 3);
  for (let f = 0; f < count; f++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = ((f * H + y) * W + x) * 3;
        [data[i], data[i + 1], data[i + 2]] = colourAt(f, x, y);
      }
    }
  }
  return { frames: data, width: W, height: H, fps: FPS };
}

/** A square wave between two colours at `hz`, on global time. */
const strobe = (hz: number, on: [number, number, number], off: [number, number, number]) => (f: number) =>
  Math.floor((2 * hz * f) / FPS) % 2 === 0 ? on : off;

describe('photosensitivity check', () => {
  it('blocks a full-frame strobe at 5 Hz: 5 general flashes per second', () => {
    const report = analyzeFlashes(frames(2, strobe(5, [240, 240, 240], [20, 20, 20])));
    expect(report.verdict).toBe('block');
    expect(report.generalFlashesPerSecond).toBe(5);
    expect(report.reasons[0]).toMatch(/5 general flashes within one second/);
  });

  it('allows the same strobe at 1 Hz and at exactly 3 Hz', () => {
    expect(analyzeFlashes(frames(3, strobe(1, [240, 240, 240], [20, 20, 20])))).toMatchObject({ verdict: 'allow', generalFlashesPerSecond: 1 });
    expect(analyzeFlashes(frames(2, strobe(3, [240, 240, 240], [20, 20, 20])))).toMatchObject({ verdict: 'allow', generalFlashesPerSecond: 3 });
  });

  it('ignores fast changes that are too small, or that stay bright', () => {
    // 6 Hz between two greys 0.04 apart in luminance: below the 0.1 threshold.
    expect(analyzeFlashes(frames(2, strobe(6, [120, 120, 120], [110, 110, 110]))).generalFlashesPerSecond).toBe(0);
    // 6 Hz between two bright states: the darker one is above 0.8.
    expect(analyzeFlashes(frames(2, strobe(6, [255, 255, 255], [240, 240, 240]))).verdict).toBe('allow');
  });

  it('catches a flash confined to one region of the frame', () => {
    const report = analyzeFlashes(frames(2, (f, x, y) => (x < W / 3 && y < H / 3 ? strobe(5, [190, 190, 190], [0, 0, 0])(f) : [90, 90, 90])));
    // The patch is a ninth of the frame: the frame's mean luminance changes by less than 0.1, the cell's by 0.5.
    expect(report).toMatchObject({ verdict: 'block', generalFlashesPerSecond: 5, worst: { region: 'cell 0,0' } });
  });

  it('counts saturated red flashes separately', () => {
    // Red against black at 4 Hz: red flashes; luminance of pure red (0.21) also counts as general flashing.
    const report = analyzeFlashes(frames(2, strobe(4, [255, 0, 0], [0, 0, 0])));
    expect(report.redFlashesPerSecond).toBe(4);
    expect(report.verdict).toBe('block');
    expect(report.reasons.some((r) => r.includes('red flashes'))).toBe(true);
  });

  it('counts a slow fade as one transition, not one per frame', () => {
    const fade = Array.from({ length: 48 }, (_, i) => i / 47);
    expect(transitions(fade, 0.1)).toHaveLength(1);
    expect(maxFlashesPerSecond([1, 3, 5, 7, 9, 11, 13, 15, 40], 24)).toEqual({ flashes: 4, startFrame: 1 });
  });

  it('passes a steady scene with a body moving across it', () => {
    const report = analyzeFlashes(frames(2, (f, x, y) => ((x - f) ** 2 + (y - 18) ** 2 < 25 ? [220, 30, 30] : [30, 40, 60])));
    // A red body entering and leaving a cell is one change each way at most, never a strobe.
    expect(report.verdict).toBe('allow');
    expect(report.generalFlashesPerSecond).toBe(0);
    expect(report.redFlashesPerSecond).toBeLessThanOrEqual(1);
  });

  it('gives the same verdict on a video measured chunk by chunk as on the whole, with a strobe across chunk seams', () => {
    // Given 3 s of a 5 Hz strobe, measured in 1 s pieces as chunks are rendered
    const whole = frames(3, strobe(5, [240, 240, 240], [20, 20, 20]));
    const frameBytes = W * H * 3;
    const pieces = [0, 1, 2].map((s) =>
      measureRegions({ frames: whole.frames.subarray(s * FPS * frameBytes, (s + 1) * FPS * frameBytes), width: W, height: H }),
    );
    // When the pieces are joined and analysed
    const joined = analyzeRegionSeries(joinRegionSeries(pieces), FPS);
    // Then the report equals that of the whole sequence
    expect(joined).toEqual(analyzeFlashes(whole));
    expect(joined.verdict).toBe('block');
  });

  it('refuses to join pieces measured over different regions', () => {
    const a = measureRegions(frames(1, () => [0, 0, 0]));
    expect(() => joinRegionSeries([a, a.slice(1)])).toThrow(/piece 1 measures regions/);
  });
});
