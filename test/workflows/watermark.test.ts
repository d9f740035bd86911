// The visible watermark through the whole pipeline on the dev server: a GPU worker told to draw it top-left, and one
// told not to, render the same video; the MP4s, thumbnails and spritesheets (decoded with ffmpeg) differ at the mark
// and (within what H.264 and JPEG re-encoding move) nowhere else, and a rerun gives the same bytes.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { contentKeys } from '../../domain/video/content';
import type { VideoRequestedData } from '../../domain/video';
import { watermarkBox, type WatermarkBox } from '../../gpu-workers/engine/watermark';
import type { WatermarkSettings } from '../../infra/config';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { testEnv } from '../support/env';
import { usePipeline, videoRequest } from '../support/pipeline';

const ffmpeg = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });
const SIDE = 256;
/** Not the default corner or size, so the test sees the settings reach the GPU worker. */
const SETTINGS: WatermarkSettings = { position: 'top-left', scale: 0.1 };
/** Pixels around the mark that re-encoding may touch: H.264's 16-pixel macroblocks and its deblocking. */
const SPILL = 16;

type Rect = { x: number; y: number; width: number; height: number };

/** Mean absolute difference of the RGB bytes of `a` and `b` (frames of `width` x `height`) inside or outside `rect`. */
function meanDifference(a: Uint8Array, b: Uint8Array, width: number, height: number, rect: Rect, where: 'inside' | 'outside'): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < a.length; i += 3) {
    const pixel = (i / 3) % (width * height);
    const x = pixel % width;
    const y = Math.floor(pixel / width);
    const isInside = x >= rect.x && x < rect.x + rect.width && y >= rect.y && y < rect.y + rect.height;
    if (isInside !== (where === 'inside')) continue;
    sum += Math.abs(a[i]! - b[i]!) + Math.abs(a[i + 1]! - b[i + 1]!) + Math.abs(a[i + 2]! - b[i + 2]!);
    n += 3;
  }
  return sum / n;
}

function grown(box: Rect, by: number): Rect {
  return { x: box.x - by, y: box.y - by, width: box.width + 2 * by, height: box.height + 2 * by };
}

function scaled(box: Rect, factor: number): Rect {
  return { x: Math.floor(box.x * factor), y: Math.floor(box.y * factor), width: Math.ceil(box.width * factor), height: Math.ceil(box.height * factor) };
}

describe('the visible watermark through the pipeline', () => {
  const marked = usePipeline('watermark_on', { watermark: SETTINGS });
  const plain = usePipeline('watermark_off', { watermark: 'off' });
  const box: WatermarkBox = watermarkBox(SIDE, SIDE, SETTINGS);
  const request = () => videoRequest('three red balls bouncing', { seconds: 1, size: `${SIDE}x${SIDE}`, seed: 21 });
  let tmp: string;
  /** The same request rendered with the mark twice (the second a rerun) and once without. */
  let first: VideoRequestedData;
  let rerun: VideoRequestedData;
  let unmarked: VideoRequestedData;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(testEnv.tmpDir, 'watermark-'));
    [first, rerun, unmarked] = [request(), request(), request()];
    const results = await Promise.all([marked.generate(first), marked.generate(rerun), plain.generate(unmarked)]);
    for (const result of results) expect(result).toMatchObject({ status: 'completed' });
  }, 240_000);

  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A blob of a video written to a file for ffmpeg. */
  async function file(stack: typeof marked, key: string): Promise<string> {
    const out = path.join(tmp, `${randomUUID()}${path.extname(key)}`);
    fs.writeFileSync(out, await stack.pipeline.blobs.get(key));
    return out;
  }

  it('every frame of the MP4 carries the mark at the configured corner, and the picture elsewhere is the unmarked render', async () => {
    const withMark = await ffmpeg.decodeToRgb(await file(marked, contentKeys(first.video_id).content), SIDE, SIDE);
    const without = await ffmpeg.decodeToRgb(await file(plain, contentKeys(unmarked.video_id).content), SIDE, SIDE);
    expect([withMark.count, without.count]).toEqual([24, 24]);
    const frameBytes = SIDE * SIDE * 3;
    for (let f = 0; f < 24; f++) {
      const a = withMark.frames.subarray(f * frameBytes, (f + 1) * frameBytes);
      const b = without.frames.subarray(f * frameBytes, (f + 1) * frameBytes);
      // The mark's box is top-left, as configured: the letters and their shadow move its pixels by tens of levels...
      expect(box).toMatchObject({ x: 6, y: 6 });
      expect(meanDifference(a, b, SIDE, SIDE, box, 'inside')).toBeGreaterThan(20);
      // ...while away from it the two renders are the same picture, up to the encoder's rounding.
      expect(meanDifference(a, b, SIDE, SIDE, grown(box, SPILL), 'outside')).toBeLessThan(1);
    }
  });

  it('the thumbnail and the spritesheet, made from the MP4, carry it too', async () => {
    const picture = async (stack: typeof marked, key: string, width: number, height: number) =>
      (await ffmpeg.decodeFrames(await file(stack, key), { width, height, maxFrames: 1 })).frames;
    const thumbnails = await Promise.all([
      picture(marked, contentKeys(first.video_id).thumbnail, SIDE, SIDE),
      picture(plain, contentKeys(unmarked.video_id).thumbnail, SIDE, SIDE),
    ]);
    expect(meanDifference(...thumbnails, SIDE, SIDE, box, 'inside')).toBeGreaterThan(20);
    expect(meanDifference(...thumbnails, SIDE, SIDE, grown(box, SPILL), 'outside')).toBeLessThan(1.5);
    // One second: two tiles of 160x160 side by side, each a frame with the mark scaled with it.
    const sheets = await Promise.all([
      picture(marked, contentKeys(first.video_id).spritesheet, 320, 160),
      picture(plain, contentKeys(unmarked.video_id).spritesheet, 320, 160),
    ]);
    for (const tile of [0, 1]) {
      const inTile = scaled(box, 160 / SIDE);
      expect(meanDifference(...sheets, 320, 160, { ...inTile, x: inTile.x + tile * 160 }, 'inside')).toBeGreaterThan(15);
    }
    expect(meanDifference(...sheets, 320, 160, { x: 0, y: 0, width: 320, height: scaled(grown(box, SPILL), 160 / SIDE).height }, 'outside')).toBeLessThan(1.5);
  });

  it('a rerun with the same seed gives the same bytes: every chunk, the MP4, the thumbnail and the spritesheet', async () => {
    const blobs = marked.pipeline.blobs;
    const keysOf = (videoId: string) => [
      `videos/${videoId}/chunks/000.ts`,
      contentKeys(videoId).content,
      contentKeys(videoId).thumbnail,
      contentKeys(videoId).spritesheet,
    ];
    const [a, b] = [keysOf(first.video_id), keysOf(rerun.video_id)];
    // The MP4 as muxed, before its content credentials (which name the video and are signed anew): Muxed's media_sha256.
    for (const [i, key] of a.entries()) if (i !== 1) expect((await blobs.get(key)).equals(await blobs.get(b[i]!))).toBe(true);
    const media = async (ctx: typeof marked, videoId: string) =>
      ((await ctx.store.readStream(`video-${videoId}`)).find((e) => e.type === 'Muxed')!.data as { media_sha256: string }).media_sha256;
    expect(await media(marked, rerun.video_id)).toBe(await media(marked, first.video_id));
    // And the mark is what the rerun drew too: its media is not the unmarked one's.
    expect(await media(marked, rerun.video_id)).not.toBe(await media(plain, unmarked.video_id));
  });
});
