// A video's input_reference image is the backdrop of its frames: the GPU worker decodes it, scales it to cover the frame
// and crops the centre (never stretched), and the engine paints it where the scene shows its background. An image
// ffmpeg cannot decode fails the chunk at once, not after ten retries.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createGpuActivities, type ChunkJob } from '../../gpu-workers/activities';
import { FsBlobStore } from '../../infra/blobs';
import { createLogger } from '../../infra/logger';
import { DEFAULT_WATERMARK } from '../../infra/config';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { testEnv } from '../support/env';
import { testEngine } from '../support/pipeline';
import { stripesPng } from '../support/png';

const RED = [230, 20, 20] as const;
const GREEN = [20, 200, 40] as const;
const BLUE = [20, 30, 230] as const;
const SIZE = 256;
const ffmpeg = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });

type Colour = 'red' | 'green' | 'blue' | 'other';

function classify(r: number, g: number, b: number): Colour {
  const near = (c: readonly number[]) => Math.abs(r - c[0]!) + Math.abs(g - c[1]!) + Math.abs(b - c[2]!) < 90;
  return near(RED) ? 'red' : near(GREEN) ? 'green' : near(BLUE) ? 'blue' : 'other';
}

/** The colour most pixels of column `x` of the first frame are. */
function columnColour(frame: Uint8Array, x: number): Colour {
  const counts = new Map<Colour, number>();
  for (let y = 0; y < SIZE; y++) {
    const i = (y * SIZE + x) * 3;
    const c = classify(frame[i]!, frame[i + 1]!, frame[i + 2]!);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]![0];
}

describe('the input_reference backdrop', () => {
  const blobs = new FsBlobStore(fs.mkdtempSync(path.join(testEnv.tmpDir, 'backdrop-')));
  let activities: ReturnType<typeof createGpuActivities>;

  beforeAll(async () => {
    activities = createGpuActivities({
      engine: await testEngine(),
      blobs,
      ffmpeg,
      logger: createLogger({ level: 'silent', name: 'test-gpu' }),
      concurrency: 1,
      lookaheadChunks: 0,
      watermark: DEFAULT_WATERMARK,
    });
  });

  const job = (videoId: string, backdropKey?: string): ChunkJob => ({
    videoId,
    index: 0,
    startFrame: 0,
    numFrames: 6,
    prompt: 'two small balls bouncing',
    seed: 11,
    size: `${SIZE}x${SIZE}`,
    // anime: no colour grade and no vignette, so the backdrop's pixels come out as they went in.
    style: 'anime',
    camera: 'static',
    ...(backdropKey ? { backdrop: { key: backdropKey } } : {}),
  });

  async function firstFrame(videoId: string): Promise<Uint8Array> {
    const file = path.join(testEnv.tmpDir, `${videoId}.ts`);
    fs.writeFileSync(file, await blobs.get(`videos/${videoId}/chunks/000.ts`));
    return (await ffmpeg.decodeToRgb(file, SIZE, SIZE)).frames.subarray(0, SIZE * SIZE * 3);
  }

  it('a wide image is scaled to cover the square frame and cropped to its centre: the middle stripe fills it, edge to edge', async () => {
    const videoId = `video_${randomUUID().replace(/-/g, '')}`;
    const key = `videos/${videoId}/input_reference`;
    // 768 x 256: red | green | blue. Covering 256 x 256 keeps the green third; stretching would show all three.
    await blobs.put(key, stripesPng(256, 256, [RED, GREEN, BLUE]));
    await new MockActivityEnvironment().run(activities.renderVideoChunk, job(videoId, key));
    const frame = await firstFrame(videoId);
    expect([0, SIZE / 2, SIZE - 1].map((x) => columnColour(frame, x))).toEqual(['green', 'green', 'green']);

    // Without it the same scene shows its own plain background, not the image.
    const plainId = `video_${randomUUID().replace(/-/g, '')}`;
    await new MockActivityEnvironment().run(activities.renderVideoChunk, job(plainId));
    expect(columnColour(await firstFrame(plainId), 0)).not.toBe('green');
  }, 60_000);

  it('an image ffmpeg cannot decode fails the chunk with a non-retryable InvalidRenderInput', async () => {
    const videoId = `video_${randomUUID().replace(/-/g, '')}`;
    const key = `videos/${videoId}/input_reference`;
    // A PNG signature, then nothing a decoder can read.
    await blobs.put(key, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('not really an image')]));
    const failure = (await new MockActivityEnvironment().run(activities.renderVideoChunk, job(videoId, key)).catch((e: unknown) => e)) as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect({ type: failure.type, nonRetryable: failure.nonRetryable }).toEqual({ type: 'InvalidRenderInput', nonRetryable: true });
    expect(failure.message).toMatch(/input_reference image .* could not be decoded/);
  }, 60_000);
});
