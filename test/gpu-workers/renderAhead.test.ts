// The GPU worker renders a video's next chunks (up to two past the latest asked for) and a chunk's audio ahead of
// their activities, on a free slot, as soon as a chunk's frames are done. The activity that asks for it takes those frames: the files are the same bytes as a
// worker that renders the chunk itself; nothing is stored for a chunk whose activity never comes; a cancelled
// activity gives up the chunk rendered ahead.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createGpuActivities, type ChunkJob } from '../../gpu-workers/activities';
import type { Engine, Scene } from '../../gpu-workers/engine/engine';
import { FsBlobStore } from '../../infra/blobs';
import { createLogger } from '../../infra/logger';
import { DEFAULT_WATERMARK } from '../../infra/config';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { testEnv } from '../support/env';
import { testEngine } from '../support/pipeline';

const FRAMES = 24;

/** The engine, counting the video frames and audio chunks it renders, by start frame. */
function countingEngine(engine: Engine) {
  const videoFrames = new Map<number, number>();
  const audioChunks = new Map<number, number>();
  const counted: Engine = {
    ...engine,
    renderVideoChunk: (request) => {
      videoFrames.set(request.startFrame, (videoFrames.get(request.startFrame) ?? 0) + request.numFrames);
      return engine.renderVideoChunk(request);
    },
    renderAudioChunk: (request) => {
      audioChunks.set(request.startFrame, (audioChunks.get(request.startFrame) ?? 0) + 1);
      return engine.renderAudioChunk(request);
    },
  };
  /** Frames rendered from `from` to `from + FRAMES` (a chunk renders in slices). */
  const framesOf = (from: number) => [...videoFrames].filter(([start]) => start >= from && start < from + FRAMES).reduce((n, [, frames]) => n + frames, 0);
  return { engine: counted, framesOf, audioOf: (from: number) => audioChunks.get(from) ?? 0 };
}

function worker(engine: Engine, lookaheadChunks?: number) {
  const blobs = new FsBlobStore(fs.mkdtempSync(path.join(testEnv.tmpDir, 'render-ahead-')));
  const activities = createGpuActivities({
    engine,
    blobs,
    ffmpeg: createFfmpeg({ ffmpegPath: testEnv.ffmpegPath }),
    logger: createLogger({ level: 'silent', name: 'test-gpu' }),
    concurrency: 1,
    lookaheadChunks,
    watermark: DEFAULT_WATERMARK,
  });
  return { blobs, activities };
}

function jobs(videoId: string, scene: Scene, chunks: number): ChunkJob[] {
  return Array.from({ length: chunks }, (_, index) => ({
    videoId,
    index,
    startFrame: index * FRAMES,
    numFrames: FRAMES,
    prompt: 'three bouncy balls collide',
    seed: 7,
    size: '256x256',
    style: 'cinematic',
    camera: 'pan',
    scene,
    ...(index + 1 < chunks
      ? { upcoming: Array.from({ length: chunks - index - 1 }, (_, k) => ({ startFrame: (index + 1 + k) * FRAMES, numFrames: FRAMES })) }
      : {}),
  }));
}

async function files(blobs: FsBlobStore, videoId: string): Promise<Map<string, Buffer>> {
  const keys = await blobs.list(`videos/${videoId}/`);
  return new Map(await Promise.all(keys.map(async (k) => [k, await blobs.get(k)] as const)));
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('rendering ahead', () => {
  let engine: Engine;
  let scene: Scene;

  beforeAll(async () => {
    engine = await testEngine();
    scene = await new MockActivityEnvironment().run(worker(engine).activities.describeVideoScene, {
      videoId: 'v',
      prompt: 'three bouncy balls collide',
      seed: 7,
      size: '256x256',
    });
  });

  it('given chunk 0 names the chunks after it, when chunk 0 is done, then the next two and audio 0 render before their activities, which take them: the same bytes as rendering them there', async () => {
    const videoId = `video_${randomUUID().replace(/-/g, '')}`;
    const counting = countingEngine(engine);
    const ahead = worker(counting.engine);
    const chunks = jobs(videoId, scene, 4);

    await new MockActivityEnvironment().run(ahead.activities.renderVideoChunk, chunks[0]!);
    // Chunks 1 and 2 and chunk 0's sound are rendered with no activity asking for them yet; chunk 3 waits, being more
    // than two chunks past the latest asked for.
    await until(
      () => counting.framesOf(FRAMES) === FRAMES && counting.framesOf(2 * FRAMES) === FRAMES && counting.audioOf(0) === 1,
      'chunks 1 and 2 and audio 0 to render ahead',
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(counting.framesOf(3 * FRAMES)).toBe(0);
    // Nothing of theirs is stored until their activities take them.
    const stored = [...(await files(ahead.blobs, videoId)).keys()];
    expect(stored.some((k) => /\/00[12]\./.test(k))).toBe(false);
    expect(stored.some((k) => k.endsWith('.pcm'))).toBe(false);

    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    await env.run(ahead.activities.renderVideoChunk, chunks[1]!);
    // Asked for chunk 1: chunk 3 is within two of it now.
    await until(() => counting.framesOf(3 * FRAMES) === FRAMES, 'chunk 3 to render ahead');
    for (const job of chunks.slice(2)) await new MockActivityEnvironment().run(ahead.activities.renderVideoChunk, job);
    for (const job of chunks) await new MockActivityEnvironment().run(ahead.activities.renderAudioChunk, job);
    // Taken, not rendered again; the taking activity reported the render's progress.
    for (const k of [1, 2, 3]) expect(counting.framesOf(k * FRAMES)).toBe(FRAMES);
    expect(counting.audioOf(0)).toBe(1);
    expect(beats[0]).toMatchObject({ renderingAhead: true, framesDone: FRAMES, frames: FRAMES });

    // A worker that renders every chunk in its own activity (no `upcoming`) stores the same bytes.
    const plain = worker(engine);
    for (const job of chunks.map(({ upcoming: _, ...job }) => job)) {
      await new MockActivityEnvironment().run(plain.activities.renderVideoChunk, job);
      await new MockActivityEnvironment().run(plain.activities.renderAudioChunk, job);
    }
    const expected = await files(plain.blobs, videoId);
    const actual = await files(ahead.blobs, videoId);
    expect([...actual.keys()]).toEqual([...expected.keys()]);
    for (const [key, bytes] of expected) expect({ key, equal: actual.get(key)!.equals(bytes) }).toEqual({ key, equal: true });
  }, 60_000);

  it('given a chunk rendered ahead, when its activity is cancelled, then it is given up and the next asking activity renders the chunk itself', async () => {
    const videoId = `video_${randomUUID().replace(/-/g, '')}`;
    const counting = countingEngine(engine);
    const ahead = worker(counting.engine);
    const [first, second] = jobs(videoId, scene, 2) as [ChunkJob, ChunkJob];
    await new MockActivityEnvironment().run(ahead.activities.renderVideoChunk, first);

    const cancelled = new MockActivityEnvironment();
    const taking = cancelled.run(ahead.activities.renderVideoChunk, second);
    cancelled.cancel();
    await expect(taking).rejects.toBeInstanceOf(CancelledFailure);
    await until(() => counting.framesOf(FRAMES) >= FRAMES, 'the render ahead to end');
    expect((await files(ahead.blobs, videoId)).has(`videos/${videoId}/chunks/001.carry.json`)).toBe(false);

    // Retried: rendered again from chunk 0's stored state.
    await new MockActivityEnvironment().run(ahead.activities.renderVideoChunk, second);
    expect(counting.framesOf(FRAMES)).toBe(2 * FRAMES);
    expect((await files(ahead.blobs, videoId)).has(`videos/${videoId}/chunks/001.carry.json`)).toBe(true);
  }, 60_000);

  it('given GPU_LOOKAHEAD_CHUNKS=0, when chunk 0 is done, then nothing renders before its activity asks', async () => {
    const videoId = `video_${randomUUID().replace(/-/g, '')}`;
    const counting = countingEngine(engine);
    const off = worker(counting.engine, 0);
    const [first, second] = jobs(videoId, scene, 2) as [ChunkJob, ChunkJob];
    await new MockActivityEnvironment().run(off.activities.renderVideoChunk, first);
    await new Promise((r) => setTimeout(r, 300));
    expect([counting.framesOf(FRAMES), counting.audioOf(0)]).toEqual([0, 0]);
    await new MockActivityEnvironment().run(off.activities.renderVideoChunk, second);
    expect(counting.framesOf(FRAMES)).toBe(FRAMES);
  }, 60_000);
});
