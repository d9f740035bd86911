// The GPU worker renders a video's next chunk (and a chunk's audio) ahead of its activity, on a free slot, as soon as
// a chunk's frames are done. The activity that asks for it takes those frames: the files are the same bytes as a
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

function worker(engine: Engine) {
  const blobs = new FsBlobStore(fs.mkdtempSync(path.join(testEnv.tmpDir, 'render-ahead-')));
  const activities = createGpuActivities({ engine, blobs, ffmpeg: createFfmpeg({ ffmpegPath: undefined }), logger: createLogger({ level: 'silent', name: 'test-gpu' }), concurrency: 1 });
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
    ...(index + 1 < chunks ? { next: { startFrame: (index + 1) * FRAMES, numFrames: FRAMES } } : {}),
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
    scene = await new MockActivityEnvironment().run(worker(engine).activities.describeVideoScene, { videoId: 'v', prompt: 'three bouncy balls collide', seed: 7, size: '256x256' });
  });

  it('given chunk 0 names chunk 1, when chunk 0 is done, then chunk 1 and audio 0 render before their activities, which take them: the same bytes as rendering them there', async () => {
    const videoId = `video_${randomUUID().replace(/-/g, '')}`;
    const counting = countingEngine(engine);
    const ahead = worker(counting.engine);
    const [first, second] = jobs(videoId, scene, 2) as [ChunkJob, ChunkJob];

    await new MockActivityEnvironment().run(ahead.activities.renderVideoChunk, first);
    // Chunk 1's frames and chunk 0's sound are rendered with no activity asking for them yet.
    await until(() => counting.framesOf(FRAMES) === FRAMES && counting.audioOf(0) === 1, 'chunk 1 and audio 0 to render ahead');
    // Nothing of theirs is stored until their activities take them.
    const stored = [...(await files(ahead.blobs, videoId)).keys()];
    expect(stored.some((k) => k.includes('/001'))).toBe(false);
    expect(stored.some((k) => k.endsWith('.pcm'))).toBe(false);

    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    await env.run(ahead.activities.renderVideoChunk, second);
    await new MockActivityEnvironment().run(ahead.activities.renderAudioChunk, first);
    await new MockActivityEnvironment().run(ahead.activities.renderAudioChunk, second);
    // Taken, not rendered again; the taking activity reported the render's progress.
    expect(counting.framesOf(FRAMES)).toBe(FRAMES);
    expect(counting.audioOf(0)).toBe(1);
    expect(beats[0]).toMatchObject({ renderingAhead: true, framesDone: FRAMES, frames: FRAMES });

    // A worker that renders every chunk in its own activity (no `next`) stores the same bytes.
    const plain = worker(engine);
    for (const job of jobs(videoId, scene, 2).map(({ next: _, ...job }) => job)) {
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
});
