// The visible watermark's drawing (gpu-workers/engine/watermark.ts): where the mark goes for each setting, what it
// does to the pixels under it, and that it touches nothing else.
import { watermarkBox, watermarkChunk, watermarkFrames, type WatermarkBox } from '../../gpu-workers/engine/watermark';
import type { VideoChunk } from '../../gpu-workers/engine/engine';
import { DEFAULT_WATERMARK, WATERMARK_POSITIONS, type WatermarkSettings } from '../../infra/config';

/** `count` frames of one grey. */
function grey(width: number, height: number, value: number, count = 1): Uint8Array {
  return new Uint8Array(width * height * 3 * count).fill(value);
}

/** Frames of a deterministic pattern: every channel of every pixel differs from its neighbours. */
function pattern(width: number, height: number, count: number): Uint8Array {
  return new Uint8Array(width * height * 3 * count).map((_, i) => (i * 7919 + (i >> 9)) & 255);
}

/** The pixels (x, y of frame `frame`) whose bytes differ between `a` and `b`. */
function changedPixels(a: Uint8Array, b: Uint8Array, width: number, height: number, frame = 0): { x: number; y: number }[] {
  const changed = [];
  const base = frame * width * height * 3;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = base + (y * width + x) * 3;
      if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) changed.push({ x, y });
    }
  }
  return changed;
}

function inside(box: WatermarkBox, p: { x: number; y: number }): boolean {
  return p.x >= box.x && p.x < box.x + box.width && p.y >= box.y && p.y < box.y + box.height;
}

describe('the watermark drawn into frames', () => {
  it('given a mid-grey frame, when marked with the default settings, then only pixels inside the bottom-right box change: letters lighter, shadow darker', () => {
    const frames = grey(256, 256, 128);
    const marked = watermarkFrames(frames, 256, 256, DEFAULT_WATERMARK);
    const box = watermarkBox(256, 256, DEFAULT_WATERMARK);
    // 0.04 of 256 is 10.24 pixels: one pixel per font cell (7 rows), a margin of 256/40 = 6 pixels.
    expect(box).toEqual({ x: 256 - 6 - 54, y: 256 - 6 - 8, width: 54, height: 8, cell: 1 });
    const changed = changedPixels(frames, marked, 256, 256);
    expect(changed.length).toBeGreaterThan(100);
    expect(changed.every((p) => inside(box, p))).toBe(true);
    // Letters: (128 * 112 + 255 * 144 + 128) >> 8 = 199; shadow: (128 * 160 + 128) >> 8 = 80. Nothing else.
    expect(new Set(changed.map(({ x, y }) => marked[(y * 256 + x) * 3]))).toEqual(new Set([199, 80]));
    // The frames given are left as they were.
    expect(frames.every((v) => v === 128)).toBe(true);
  });

  it('given the mark at top-left, then its first row of cells spells the tops of R, E, E, L, F, O, R, G, E', () => {
    const settings: WatermarkSettings = { position: 'top-left', scale: 0.1 };
    const marked = watermarkFrames(grey(512, 512, 0), 512, 512, settings);
    const box = watermarkBox(512, 512, settings);
    expect(box.cell).toBe(7); // 51.2 pixels of letters over 7 rows
    // The centre of each cell of the top row, as '#' (letter, lightened) or '.' (black left as it was).
    const row = Array.from({ length: 53 }, (_, column) => {
      const x = box.x + column * box.cell + 3;
      const y = box.y + 3;
      return marked[(y * 512 + x) * 3]! > 100 ? '#' : '.';
    }).join('');
    expect(row).toBe(['####.', '#####', '#####', '#....', '#####', '.###.', '####.', '.###.', '#####'].join('.'));
  });

  it.each(WATERMARK_POSITIONS)('given position %s, then the mark sits in that corner, the same margin from both its edges', (position) => {
    const [width, height] = [854, 480];
    const box = watermarkBox(width, height, { position, scale: 0.05 });
    const left = box.x;
    const right = width - box.x - box.width;
    const top = box.y;
    const bottom = height - box.y - box.height;
    const margin = Math.floor(480 / 40);
    expect(position.endsWith('left') ? [left, right > width / 2] : [right, left > width / 2]).toEqual([margin, true]);
    expect(position.startsWith('top') ? [top, bottom > height / 2] : [bottom, top > height / 2]).toEqual([margin, true]);
    const frames = pattern(width, height, 1);
    const changed = changedPixels(frames, watermarkFrames(frames, width, height, { position, scale: 0.05 }), width, height);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.every((p) => inside(box, p))).toBe(true);
  });

  it('given a portrait and a landscape frame of the same sides, then the mark is the same size: the scale is of the shorter side', () => {
    const settings: WatermarkSettings = { position: 'bottom-right', scale: 0.05 };
    const portrait = watermarkBox(720, 1280, settings);
    const landscape = watermarkBox(1280, 720, settings);
    expect([portrait.width, portrait.height]).toEqual([landscape.width, landscape.height]);
    // 0.05 of 720 is 36 pixels: 5 pixels a cell, the letters 35 pixels high.
    expect(portrait.cell).toBe(5);
    expect(watermarkBox(720, 1280, { ...settings, scale: 0.1 }).cell).toBeGreaterThan(portrait.cell);
  });

  it('given several frames, then each is marked alike, and the same frames always give the same bytes', () => {
    const frames = pattern(256, 256, 3);
    const marked = watermarkFrames(frames, 256, 256, DEFAULT_WATERMARK);
    const again = watermarkFrames(frames.slice(), 256, 256, DEFAULT_WATERMARK);
    expect(Buffer.from(again).equals(Buffer.from(marked))).toBe(true);
    const first = changedPixels(frames, marked, 256, 256, 0);
    for (const frame of [1, 2]) {
      const changed = changedPixels(frames, marked, 256, 256, frame);
      // The pattern differs between frames, so a pixel a blend leaves unchanged may differ; the shape stays.
      expect(changed.length).toBeGreaterThan(first.length * 0.9);
      expect(changed.every((p) => inside(watermarkBox(256, 256, DEFAULT_WATERMARK), p))).toBe(true);
    }
  });

  it('given WATERMARK=off, then the chunk is encoded as the engine rendered it', () => {
    const chunk: VideoChunk = { frames: pattern(256, 256, 2), events: new Float32Array(4), state: new Float32Array(2), numFrames: 2, width: 256, height: 256 };
    expect(watermarkChunk(chunk, 'off')).toBe(chunk);
    const marked = watermarkChunk(chunk, DEFAULT_WATERMARK);
    expect({ ...marked, frames: undefined }).toEqual({ ...chunk, frames: undefined });
    expect(Buffer.from(marked.frames).equals(Buffer.from(chunk.frames))).toBe(false);
  });

  it('refuses frames that are not whole frames of the size given, and a frame too small for the mark, saying which', () => {
    expect(() => watermarkFrames(new Uint8Array(100), 256, 256, DEFAULT_WATERMARK)).toThrow('watermark: 100 bytes is not a whole number of 256x256 RGB frames');
    expect(() => watermarkFrames(grey(48, 48, 0), 48, 48, DEFAULT_WATERMARK)).toThrow(
      'watermark: a 54x8 mark (WATERMARK_SCALE=0.04) does not fit a 48x48 frame',
    );
  });
});
