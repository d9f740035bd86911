// Faults: a GPU worker process killed in the middle of a chunk. The chunk is rendered again by a new worker from the
// state the previous chunk recorded; each chunk is recorded once, and the MP4 is byte-identical to an uninterrupted run.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import pg from 'pg';
import type { VideoRequestedData } from '../../domain/video';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { PROJECT_ROOT } from '../../infra/tools';
import { generationWorkflow } from '../../workflows';
import { realActivities } from '../support/activities';
import { eventually, testEnv } from '../support/env';
import { startPipeline } from '../support/pipeline';
import { sharedDevServer } from '../support/temporal';

function request(): VideoRequestedData {
  return {
    video_id: `video_${randomUUID().replace(/-/g, '')}`,
    owner_id: 'user_test',
    prompt: 'five bouncy balls in a storm',
    model: 'reference',
    seconds: 3,
    size: '1280x720',
    style: 'anime',
    camera: 'pan',
    seed: 1234,
    cameo_ids: [],
    publish: false,
    remixed_from_video_id: null,
    extended_from_video_id: null,
    has_input_reference: false,
    at: 1_700_000_000,
  };
}

/** The real GPU worker entry point as its own process, as `npm start` runs it. */
function startGpuWorker(dataDir: string, gpuTaskQueue: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'gpu-workers/worker.ts')], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: testEnv.temporalAddress,
      GPU_TASK_QUEUE: gpuTaskQueue,
      DATA_DIR: dataDir,
      INFERENCE_EP: 'cpu',
      INFERENCE_THREADS: '1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

describe('faults', () => {
  const schema = `fault_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let env: TestWorkflowEnvironment;
  let store: PgEventStore;

  beforeAll(async () => {
    env = await sharedDevServer();
    store = await PgEventStore.open({ connectionString: testEnv.embeddedPgUrl, schema, maxEventBytes: 1024 * 1024 });
  });
  afterAll(async () => {
    await store?.close();
    await env?.teardown();
    const client = new pg.Client({ connectionString: testEnv.embeddedPgUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });

  it('a GPU worker killed mid-chunk loses only that chunk; the MP4 equals an uninterrupted run', async () => {
    // The uninterrupted run, in process.
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
    const expected = await pipeline.blobs.get(`videos/${reference.video_id}/content.mp4`);

    // The same video, same seed, rendered by GPU worker processes, the first one killed in the middle of chunk 1.
    const dataDir = fs.mkdtempSync(path.join(testEnv.tmpDir, 'faults-'));
    const { activities, blobs } = realActivities(store, dataDir);
    const taskQueue = `orchestration-${randomUUID()}`;
    const gpuTaskQueue = `gpu-${randomUUID()}`;
    const orchestration = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: { codePath: testEnv.workflowBundlePath }, activities });
    const running = orchestration.run();
    let first = startGpuWorker(dataDir, gpuTaskQueue);
    let second: ChildProcess | undefined;
    try {
      const req = { ...request(), video_id: `video_${randomUUID().replace(/-/g, '')}` };
      const handle = await env.client.workflow.start(generationWorkflow, {
        taskQueue,
        workflowId: `video-${req.video_id}`,
        args: [{ request: req, actor: 'user_test', gpuTaskQueue }],
      });
      // Wait until chunk 0 is recorded and chunk 1 has reported progress from inside its render.
      await eventually(
        async () => {
          const events = await store.readStream(`video-${req.video_id}`).catch(() => []);
          if (!events.some((e) => e.type === 'VideoChunkRendered')) return undefined;
          const pending = (await handle.describe()).raw.pendingActivities ?? [];
          const chunk = pending.find((a) => a.activityType?.name === 'renderVideoChunk' && a.heartbeatDetails?.payloads?.length);
          return chunk ? true : undefined;
        },
        'chunk 1 to be in progress',
        120_000,
        10,
      );
      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('exit', resolve));
      second = startGpuWorker(dataDir, gpuTaskQueue);
      const result = await handle.result();
      expect(result).toMatchObject({ status: 'completed' });

      const events = await store.readStream(`video-${req.video_id}`);
      const chunks = events.filter((e) => e.type === 'VideoChunkRendered').map((e) => (e.data as { index: number }).index);
      expect(chunks.sort()).toEqual([0, 1, 2]);
      const actual = await blobs.get(`videos/${req.video_id}/content.mp4`);
      expect(actual.equals(expected)).toBe(true);
    } finally {
      first.kill('SIGKILL');
      second?.kill('SIGTERM');
      orchestration.shutdown();
      await running;
    }
  }, 240_000);
});
