// The visible watermark every rendered frame carries: "REELFORGE" in a built-in 5x7 bitmap font, light letters over a
// dark drop shadow, blended into one corner at fixed strengths. Drawn in JavaScript with integer arithmetic only, on
// the RGB frames before they are encoded, so the same frames give the same bytes on every host; ffmpeg's drawtext
// would depend on the fonts and the build of each host's ffmpeg.
import type { WatermarkSettings } from '../../infra/config';
import type { VideoChunk } from './engine';

const TEXT = 'REELFORGE';
const GLYPH_COLUMNS = 5;
const GLYPH_ROWS = 7;
/** One blank column between letters. */
const GLYPH_ADVANCE = GLYPH_COLUMNS + 1;

const GLYPHS: Record<string, readonly string[]> = {
  R: ['####.', '#...#', '#...#', '####.', '#.#..', '#..#.', '#...#'],
  E: ['#####', '#....', '#....', '####.', '#....', '#....', '#####'],
  L: ['#....', '#....', '#....', '#....', '#....', '#....', '#####'],
  F: ['#####', '#....', '#....', '####.', '#....', '#....', '#....'],
  O: ['.###.', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  G: ['.###.', '#...#', '#....', '#.###', '#...#', '#...#', '.####'],
};

/**
 * How strongly a letter's pixel is pulled towards white and a shadow's towards black, out of 256. Neither replaces the
 * picture: the mark stays a mid-grey, low-contrast overlay that is the same in every frame, so it adds no flash (the
 * photosensitivity check) and no shape the safety classifier reacts to.
 */
const LETTER_ALPHA = 144;
const SHADOW_ALPHA = 96;

const NONE = 0;
const LETTER = 1;
const SHADOW = 2;

/** The mark in font cells, row by row: the letters, and their shadow one cell right and down where no letter is. */
const MASK_COLUMNS = TEXT.length * GLYPH_ADVANCE - 1 + 1;
const MASK_ROWS = GLYPH_ROWS + 1;
const MASK: Uint8Array = (() => {
  const mask = new Uint8Array(MASK_COLUMNS * MASK_ROWS);
  [...TEXT].forEach((letter, i) => {
    const glyph = GLYPHS[letter]!;
    for (let row = 0; row < GLYPH_ROWS; row++) {
      for (let column = 0; column < GLYPH_COLUMNS; column++) {
        if (glyph[row]![column] === '#') mask[row * MASK_COLUMNS + i * GLYPH_ADVANCE + column] = LETTER;
      }
    }
  });
  for (let row = MASK_ROWS - 1; row >= 1; row--) {
    for (let column = MASK_COLUMNS - 1; column >= 1; column--) {
      const at = row * MASK_COLUMNS + column;
      if (mask[at] === NONE && mask[at - MASK_COLUMNS - 1] === LETTER) mask[at] = SHADOW;
    }
  }
  return mask;
})();

/** Where the mark sits in a frame, in pixels: its box (letters and shadow) and the side of one font cell. */
export interface WatermarkBox {
  x: number;
  y: number;
  width: number;
  height: number;
  cell: number;
}

/**
 * The mark's box in a `width` x `height` frame: letters `settings.scale` of the shorter side high (whole font cells, at
 * least one pixel each), a margin of a fortieth of the shorter side (at least a cell) from the two edges of its corner.
 */
export function watermarkBox(width: number, height: number, settings: WatermarkSettings): WatermarkBox {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`watermark: ${width}x${height} is not a frame size`);
  }
  const shorter = Math.min(width, height);
  const cell = Math.max(1, Math.floor((shorter * settings.scale) / GLYPH_ROWS));
  const margin = Math.max(cell, Math.floor(shorter / 40));
  const box = { width: MASK_COLUMNS * cell, height: MASK_ROWS * cell };
  if (box.width + 2 * margin > width || box.height + 2 * margin > height) {
    throw new RangeError(`watermark: a ${box.width}x${box.height} mark (WATERMARK_SCALE=${settings.scale}) does not fit a ${width}x${height} frame`);
  }
  const left = settings.position.endsWith('left');
  const top = settings.position.startsWith('top');
  return {
    x: left ? margin : width - margin - box.width,
    y: top ? margin : height - margin - box.height,
    ...box,
    cell,
  };
}

/**
 * `frames` (RGB, F x height x width x 3) with the mark drawn into each frame, as a new array: the rendered frames are
 * left as they were (a chunk rendered ahead may still be read by whoever holds it).
 */
export function watermarkFrames(frames: Uint8Array, width: number, height: number, settings: WatermarkSettings): Uint8Array {
  const box = watermarkBox(width, height, settings);
  const frameBytes = width * height * 3;
  if (frames.length % frameBytes !== 0) {
    throw new RangeError(`watermark: ${frames.length} bytes is not a whole number of ${width}x${height} RGB frames`);
  }
  const out = frames.slice();
  for (let frame = 0; frame < frames.length; frame += frameBytes) {
    for (let dy = 0; dy < box.height; dy++) {
      const maskRow = Math.floor(dy / box.cell) * MASK_COLUMNS;
      const rowStart = frame + ((box.y + dy) * width + box.x) * 3;
      for (let dx = 0; dx < box.width; dx++) {
        const kind = MASK[maskRow + Math.floor(dx / box.cell)];
        if (kind === NONE) continue;
        const at = rowStart + dx * 3;
        for (let c = at; c < at + 3; c++) {
          // Rounded to nearest, in integers: (v * (256 - a) + target * a + 128) >> 8 stays within 0..255.
          out[c] = kind === LETTER ? (out[c]! * (256 - LETTER_ALPHA) + 255 * LETTER_ALPHA + 128) >> 8 : (out[c]! * (256 - SHADOW_ALPHA) + 128) >> 8;
        }
      }
    }
  }
  return out;
}

/**
 * A rendered chunk as it is encoded: its frames marked (a copy), or the chunk itself when the mark is off. Applied after
 * the engine, so its output (and the chunk the next one continues from) is the same whether the mark is on or off.
 */
export function watermarkChunk(chunk: VideoChunk, watermark: WatermarkSettings | 'off'): VideoChunk {
  if (watermark === 'off') return chunk;
  return { ...chunk, frames: watermarkFrames(chunk.frames, chunk.width, chunk.height, watermark) };
}
