// Faults in the middle of a job: a GPU worker process killed mid-chunk, the orchestration worker process killed, the
// Temporal server restarted. Each time the job completes, each chunk is recorded once, and the MP4 is byte-identical
// to that of an uninterrupted run with the same seed (shared by the tests: rendering is the expensive part).
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { VideoRequestedData } from '../../domain/video';
import { FsBlobStore } from '../../infra/blobs';
import type { EventStore } from '../../infra/eventstore/port';
import { freePort } from '../../infra/postgres/embedded';
import { startTemporalDevServer, type TemporalDevServer } from '../../infra/temporal/devServer';
import { readTools } from '../../infra/tools';
import { generationWorkflow } from '../../workflows';
import { realActivities } from '../support/activities';
import { eventually, testEnv } from '../support/env';
import { createGpuWorker, createOrchestrationWorker, startPipeline, videoRequest } from '../support/pipeline';
import { startRole, withRoleOutput, type RoleProcess } from '../support/processes';
import { freshEventStore } from '../support/schemas';
import { sharedDevServer } from '../support/temporal';

function request(): VideoRequestedData {
  return videoRequest('five bouncy balls in a storm', { seconds: 3, size: '1280x720', style: 'anime', camera: 'pan', seed: 1234 });
}

function startGeneration(client: Client, req: VideoRequestedData, taskQueue: string, gpuTaskQueue: string) {
  return client.workflow.start(generationWorkflow, {
    taskQueue,
    workflowId: `video-${req.video_id}`,
    args: [{ request: req, actor: 'user_test', gpuTaskQueue }],
  });
}

/** The chunk indexes of each kind recorded in the video's stream, in order of recording. */
async function recordedChunks(store: EventStore, videoId: string): Promise<{ video: number[]; audio: number[] }> {
  const events = await store.readStream(`video-${videoId}`).catch(() => []);
  const indexes = (type: string) => events.filter((e) => e.type === type).map((e) => (e.data as { index: number }).index);
  return { video: indexes('VideoChunkRendered'), audio: indexes('AudioChunkRendered') };
}

/**
 * Chunk 0 is recorded and chunk 1's activity is pending: the GPU worker is rendering chunk 1 by then, in its activity
 * or (it starts the next chunk as soon as a chunk's frames are done) ahead of it.
 */
async function waitForChunkInProgress(store: EventStore, videoId: string, handle: WorkflowHandle): Promise<void> {
  await eventually(
    async () => {
      if ((await recordedChunks(store, videoId)).video.length === 0) return undefined;
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      const chunk = pending.find((a) => a.activityType?.name === 'renderChunk');
      return chunk ? true : undefined;
    },
    'chunk 1 to be in progress',
    120_000,
    10,
  );
}

/** Resolves with the job's result, or fails as soon as `stopped` settles: a worker that died would leave it waiting. */
function resultUnless<T>(handle: WorkflowHandle, stopped: Promise<T>, what: string): Promise<unknown> {
  return Promise.race([handle.result(), stopped.then((how) => Promise.reject(new Error(`${what} stopped (${String(how)}) before the job completed`)))]);
}

describe('faults', () => {
  let env: TestWorkflowEnvironment;
  let store: EventStore;
  let schema: string;
  let dropStore: (() => Promise<void>) | undefined;
  /**
   * The uninterrupted run's MP4 before its content credentials (Muxed's media_sha256): the manifest names the video
   * and is signed anew each time, the media must be the same bytes.
   */
  let expected: string;
  const mediaOf = async (videoId: string) =>
    ((await store.readStream(`video-${videoId}`)).find((e) => e.type === 'Muxed')!.data as { media_sha256: string }).media_sha256;
  const roles: RoleProcess[] = [];

  beforeAll(async () => {
    env = await sharedDevServer();
    ({ store, schema, drop: dropStore } = await freshEventStore('fault_test'));
    const reference = request();
    const pipeline = await startPipeline(env, store);
    try {
      await env.client.workflow.execute(generationWorkflow, {
        taskQueue: pipeline.taskQueue,
        workflowId: `video-${reference.video_id}`,
        args: [{ request: reference, actor: 'user_test', gpuTaskQueue: pipeline.gpuTaskQueue }],
      });
    } finally {
      await pipeline.stop();
    }
    expected = await mediaOf(reference.video_id);
    expect(expected).toMatch(/^[0-9a-f]{64}$/);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(roles.map((r) => r.kill('SIGKILL')));
    await dropStore?.();
    await env?.teardown();
  });

  /** Each chunk recorded once, and the same bytes as the uninterrupted run. */
  async function expectSameVideo(videoId: string, blobs: FsBlobStore): Promise<void> {
    const chunks = await recordedChunks(store, videoId);
    expect(chunks.video.sort()).toEqual([0, 1, 2]);
    expect(chunks.audio.sort()).toEqual([0, 1, 2]);
    // The MP4 is stored and signed; its media is the uninterrupted run's, byte for byte.
    expect(await blobs.exists(`videos/${videoId}/content.mp4`)).toBe(true);
    expect(await mediaOf(videoId)).toBe(expected);
  }

  it('a GPU worker killed mid-chunk loses only that chunk; the MP4 equals an uninterrupted run', async () => {
    const dataDir = fs.mkdtempSync(path.join(testEnv.tmpDir, 'faults-'));
    const { activities, blobs } = realActivities(store, dataDir);
    const taskQueue = `orchestration-${randomUUID()}`;
    const gpuTaskQueue = `gpu-${randomUUID()}`;
    const orchestration = await createOrchestrationWorker(env.nativeConnection, taskQueue, activities);
    const running = orchestration.run();
    // The real GPU worker entry point, as `npm start` runs it.
    const gpuEnv = {
      TEMPORAL_ADDRESS: testEnv.temporalAddress,
      GPU_TASK_QUEUE: gpuTaskQueue,
      DATA_DIR: dataDir,
      INFERENCE_EP: 'cpu',
      INFERENCE_THREADS: '1',
      LOG_LEVEL: 'warn',
    };
    const first = startRole('gpu-workers/worker.ts', gpuEnv);
    roles.push(first);
    try {
      await withRoleOutput(
        () => roles,
        async () => {
          const req = request();
          const handle = await startGeneration(env.client, req, taskQueue, gpuTaskQueue);
          await waitForChunkInProgress(store, req.video_id, handle);
          await first.kill('SIGKILL');
          const second = startRole('gpu-workers/worker.ts', gpuEnv);
          roles.push(second);
          const result = await resultUnless(handle, second.exited, 'the second GPU worker');
          expect(result).toMatchObject({ status: 'completed' });
          await expectSameVideo(req.video_id, blobs);
        },
      );
    } finally {
      await Promise.all(roles.map((r) => r.kill('SIGTERM')));
      orchestration.shutdown();
      await running;
    }
  }, 120_000);

  it('an orchestration worker killed mid-job is replaced by a new one; the MP4 equals an uninterrupted run', async () => {
    const dataDir = fs.mkdtempSync(path.join(testEnv.tmpDir, 'faults-'));
    const blobs = new FsBlobStore(path.join(dataDir, 'blobs'));
    const taskQueue = `orchestration-${randomUUID()}`;
    const gpuTaskQueue = `gpu-${randomUUID()}`;
    const gpu = await createGpuWorker(env.nativeConnection, gpuTaskQueue, blobs);
    const running = gpu.run();
    // The real orchestration worker entry point, on this test's schema, blob folder and task queue.
    const orchestrationEnv = {
      TEMPORAL_ADDRESS: testEnv.temporalAddress,
      DATA_DIR: dataDir,
      EVENTSTORE_URL: testEnv.embeddedPgUrl,
      EVENTSTORE_SCHEMA: schema,
      ORCHESTRATION_TASK_QUEUE: taskQueue,
      LOG_LEVEL: 'warn',
    };
    const first = startRole('activities/worker.ts', orchestrationEnv);
    roles.push(first);
    try {
      await withRoleOutput(
        () => roles,
        async () => {
          const req = request();
          const handle = await startGeneration(env.client, req, taskQueue, gpuTaskQueue);
          // Killed as soon as chunk 0 is recorded, often before the append's completion has reached Temporal: the
          // append is then retried after its start-to-close timeout (30 s), and its event ids make it a no-op.
          await eventually(async () => ((await recordedChunks(store, req.video_id)).video.length > 0 ? true : undefined), 'chunk 0 to be recorded', 90_000, 10);
          await first.kill('SIGKILL');
          const second = startRole('activities/worker.ts', orchestrationEnv);
          roles.push(second);
          const result = await resultUnless(handle, second.exited, 'the second orchestration worker');
          expect(result).toMatchObject({ status: 'completed' });
          await expectSameVideo(req.video_id, blobs);
        },
      );
    } finally {
      await Promise.all(roles.map((r) => r.kill('SIGTERM')));
      gpu.shutdown();
      await running;
    }
  }, 120_000);

  it('a Temporal server restarted mid-job: the workers reconnect by themselves; the MP4 equals an uninterrupted run', async () => {
    // A server of its own, persisting to SQLite in this folder, so a restart on the same port keeps the job.
    const dataDir = fs.mkdtempSync(path.join(testEnv.tmpDir, 'faults-'));
    const cli = readTools().temporalCli;
    const port = await freePort();
    let uiPort = await freePort();
    while (uiPort === port) uiPort = await freePort();
    const startServer = () => startTemporalDevServer({ cli, dataDir, port, uiPort, namespace: 'default' });
    let server: TemporalDevServer = await startServer();
    const connection = await NativeConnection.connect({ address: server.address });
    const clientConnection = await Connection.connect({ address: server.address });
    const client = new Client({ connection: clientConnection });
    const { activities, blobs } = realActivities(store, dataDir);
    const taskQueue = `orchestration-${randomUUID()}`;
    const gpuTaskQueue = `gpu-${randomUUID()}`;
    const workers: Worker[] = [];
    let running: Promise<unknown> = Promise.resolve();
    try {
      workers.push(await createOrchestrationWorker(connection, taskQueue, activities), await createGpuWorker(connection, gpuTaskQueue, blobs));
      running = Promise.all(workers.map((w) => w.run()));
      const req = request();
      const handle = await startGeneration(client, req, taskQueue, gpuTaskQueue);
      await waitForChunkInProgress(store, req.video_id, handle);

      process.kill(server.pid, 'SIGKILL');
      await server.exited;
      server = await startServer();

      // The same workers, never restarted: their polls fail while the server is away and resume once it is back.
      const result = await resultUnless(handle, running, 'a worker');
      expect(result).toMatchObject({ status: 'completed' });
      expect(workers.map((w) => w.getState())).toEqual(['RUNNING', 'RUNNING']);
      await expectSameVideo(req.video_id, blobs);
    } finally {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running.catch(() => undefined);
      await Promise.allSettled([connection.close(), clientConnection.close()]);
      await server.stop();
    }
  }, 120_000);
});
