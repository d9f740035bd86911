// The whole generation pipeline for tests: an orchestration worker running the workflow bundle with the real
// activities, and a GPU worker with the real engine (CPU) and GPU activities, sharing one blob store.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createGpuActivities, gpuWorkerOptions } from '../../gpu-workers/activities';
import { createEngine, type Engine } from '../../gpu-workers/engine/engine';
import { createSafetyClassifier, resolveSafetyModel, type SafetyClassifier } from '../../gpu-workers/engine/safety';
import type { PromptPolicy } from '../../domain/moderation/promptPolicy';
import type { BlobStore } from '../../infra/blobs';
import { DEFAULT_WATERMARK, type WatermarkSettings } from '../../infra/config';
import type { EventStore } from '../../infra/eventstore/port';
import type { PgEventStore } from '../../infra/eventstore/postgres';
import type { VideoRequestedData } from '../../domain/video';
import { generationWorkflow } from '../../workflows';
import type { Progress } from '../../workflows/generation';
import { createLogger } from '../../infra/logger';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { realActivities } from './activities';
import { testEnv } from './env';
import { freshEventStore } from './schemas';
import { sharedDevServer } from './temporal';

/** Videos of one test file render side by side on the test's GPU worker. */
const TEST_GPU_CONCURRENCY = 2;

let sharedEngine: Promise<Engine> | undefined;

/** One engine per test file: loading and warming the pack takes a moment. */
export function testEngine(): Promise<Engine> {
  sharedEngine ??= createEngine({
    config: { inferenceEp: 'cpu', inferenceThreads: 2, modelPack: 'reference' },
    logger: createLogger({ level: 'silent', name: 'test-engine' }),
  });
  return sharedEngine;
}

let sharedSafety: Promise<SafetyClassifier> | undefined;

/** One safety classifier per test file (the bootstrap's open_nsfw model), on the CPU like the test engine. */
export function testSafetyClassifier(): Promise<SafetyClassifier> {
  sharedSafety ??= createSafetyClassifier({
    modelPath: resolveSafetyModel(undefined),
    provider: 'cpu',
    threads: 2,
    logger: createLogger({ level: 'silent', name: 'test-safety' }),
  });
  return sharedSafety;
}

/** The orchestration worker of the tests: the prebuilt workflow bundle and the given activities. */
export function createOrchestrationWorker(connection: NativeConnection, taskQueue: string, activities: object): Promise<Worker> {
  return Worker.create({ connection, taskQueue, workflowBundle: { codePath: testEnv.workflowBundlePath }, activities });
}

type Wrap = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => (...args: A) => Promise<R>;

/**
 * A GPU worker in this process: the file's engine, the real GPU activities (each passed through `wrap`), `blobs`, and
 * the mark a deployment draws by default unless `watermark` says otherwise.
 */
export async function createGpuWorker(
  connection: NativeConnection,
  taskQueue: string,
  blobs: BlobStore,
  wrap: Wrap = (fn) => fn,
  watermark: WatermarkSettings | 'off' = DEFAULT_WATERMARK,
): Promise<Worker> {
  const engine = await testEngine();
  const gpuActivities = createGpuActivities({
    engine,
    blobs,
    safety: await testSafetyClassifier(),
    ffmpeg: createFfmpeg({ ffmpegPath: testEnv.ffmpegPath }),
    logger: createLogger({ level: 'silent', name: 'test-gpu' }),
    concurrency: TEST_GPU_CONCURRENCY,
    watermark,
  });
  return Worker.create({
    connection,
    taskQueue,
    ...gpuWorkerOptions(TEST_GPU_CONCURRENCY),
    activities: {
      describeVideoScene: wrap(gpuActivities.describeVideoScene),
      renderVideoChunk: wrap(gpuActivities.renderVideoChunk),
      renderAudioChunk: wrap(gpuActivities.renderAudioChunk),
      renderChunk: wrap(gpuActivities.renderChunk),
      scoreSegmentSafety: wrap(gpuActivities.scoreSegmentSafety),
    },
  });
}

export interface PipelineOptions {
  policy?: PromptPolicy;
  /** The GPU worker's WATERMARK* settings; a deployment's default when absent. */
  watermark?: WatermarkSettings | 'off';
}

export async function startPipeline(env: TestWorkflowEnvironment, eventStore: EventStore, options: PipelineOptions = {}) {
  const dataDir = fs.mkdtempSync(path.join(testEnv.tmpDir, 'pipeline-'));
  const { activities, blobs } = realActivities(eventStore, dataDir, env.client, options.policy);
  const taskQueue = `orchestration-${randomUUID()}`;
  const gpuTaskQueue = `gpu-${randomUUID()}`;
  const orchestration = await createOrchestrationWorker(env.nativeConnection, taskQueue, activities);
  // Counts GPU activities running in this worker, so a test can see GPU work stop.
  let inFlight = 0;
  const counted =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      inFlight++;
      try {
        return await fn(...args);
      } finally {
        inFlight--;
      }
    };
  const gpu = await createGpuWorker(env.nativeConnection, gpuTaskQueue, blobs, counted, options.watermark);
  const running = Promise.all([orchestration.run(), gpu.run()]);
  return {
    taskQueue,
    gpuTaskQueue,
    blobs,
    dataDir,
    inFlight: () => inFlight,
    async stop() {
      orchestration.shutdown();
      gpu.shutdown();
      await running;
    },
  };
}

export { videoRequest } from './videos';

/**
 * A pipeline for the describe block it is called in: the shared dev server, an event store in a schema of its own
 * and the workers, started before its tests and stopped (the schema dropped) after them. Read the fields in tests.
 */
export function usePipeline(prefix: string, options: PipelineOptions = {}) {
  const ctx = {
    /** Runs a generation to its end on this pipeline (workflow id `video-<id>`, as the API starts it). */
    generate: (req: VideoRequestedData) =>
      ctx.env.client.workflow.execute(generationWorkflow, {
        taskQueue: ctx.pipeline.taskQueue,
        workflowId: `video-${req.video_id}`,
        args: [{ request: req, actor: req.owner_id, gpuTaskQueue: ctx.pipeline.gpuTaskQueue }],
      }),
  } as {
    env: TestWorkflowEnvironment;
    store: PgEventStore;
    pipeline: Awaited<ReturnType<typeof startPipeline>>;
    generate(req: VideoRequestedData): Promise<Progress>;
  };
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ctx.env = await sharedDevServer();
    const fresh = await freshEventStore(prefix);
    ctx.store = fresh.store;
    drop = fresh.drop;
    ctx.pipeline = await startPipeline(ctx.env, ctx.store, options);
  });
  afterAll(async () => {
    await ctx.pipeline?.stop();
    await ctx.env?.teardown();
    await drop?.();
  });
  return ctx;
}
