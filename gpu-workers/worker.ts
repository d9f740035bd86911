// Entry point of the GPU worker: inference activities on task queue `gpu`, as many video chunks at once as the GPU
// has slots (GPU_CONCURRENCY), each with an audio chunk beside it. One process per GPU; it loads the model pack
// and warms it up before it polls.
import os from 'node:os';
import { Worker } from '@temporalio/worker';
import type { Registry } from 'prom-client';
import { loadConfigOrExit } from '../infra/config';
import { blobStoreCheck, once, serveHealth, workerRunning } from '../infra/health';
import { exitOnFatal, handleShutdown } from '../infra/lifecycle';
import { createLogger } from '../infra/logger';
import { connectTemporalClient, connectTemporalWorker } from '../infra/temporal/connection';
import { createBlobStore } from '../infra/blobs';
import { createFfmpeg } from '../infra/media/ffmpeg';
import { createGpuActivities, gpuWorkerOptions } from './activities';
import { createEngine } from './engine/engine';
import { meteredEngine } from './engine/metered';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, name: 'gpu-worker' });
  const shutdown = handleShutdown(logger, { graceMs: config.shutdownGraceSeconds * 1000 });
  const fatal = exitOnFatal(logger, 'gpu worker');
  // A GPU worker needs Temporal and the blob store, nothing else (no event store, no PostgreSQL).
  const temporal = connectTemporalClient(config);
  const blobs = createBlobStore(config);
  // What the checks look at once it exists; until then they say "starting".
  const started: { worker?: Worker; registry?: Registry } = {};
  const health = await serveHealth({
    role: 'gpu-worker',
    host: config.healthHost,
    port: config.healthPort,
    logger,
    checks: { temporal: () => temporal.ping(), blobs: blobStoreCheck(blobs), worker: once(() => started.worker, workerRunning) },
    // Time inside inference (reelforge_gpu_inference_seconds_total) and the process metrics, once the engine is loaded.
    metrics: async () => {
      if (!started.registry) throw new Error('starting');
      return { contentType: started.registry.contentType, body: await started.registry.metrics() };
    },
  }).catch(fatal);
  // The engine first: a pack that does not load, or no working provider, should stop the worker before it takes a
  // task it cannot render. createEngine logs the provider it chose and why, and the warm-up time.
  const { engine, registry } = meteredEngine(await createEngine({ config, logger }).catch(fatal));
  started.registry = registry;
  const connection = await connectTemporalWorker(config, logger).catch(fatal);
  const worker = (started.worker = await Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.gpuTaskQueue,
    activities: {
      ...createGpuActivities({
        engine,
        blobs,
        ffmpeg: createFfmpeg(config),
        logger,
        concurrency: config.gpuConcurrency,
        lookaheadChunks: config.gpuLookaheadChunks,
      }),
      // Which GPU worker picks up a task, its provider and its pack: a cheap check for operators.
      gpuWorkerInfo: async () => ({
        hostname: os.hostname(),
        pid: process.pid,
        inferenceEp: config.inferenceEp,
        provider: engine.provider,
        threads: engine.report.threads,
        pack: `${engine.pack.name}@${engine.pack.version}`,
        concurrency: config.gpuConcurrency,
      }),
    },
    ...gpuWorkerOptions(config.gpuConcurrency),
    // On SIGTERM it stops polling at once (/readyz turns 503) and a chunk in progress gets this long to finish; then it
    // is cancelled, and its attempt fails with WorkerShutdown, so another worker renders it from its start right away.
    shutdownGraceTime: config.workerDrainSeconds * 1000,
  }).catch(fatal));

  const running = worker.run();
  shutdown.setStop(async () => {
    worker.shutdown();
    await running;
    await Promise.allSettled([connection.close(), temporal.close(), health.close()]);
    await engine.close();
  });
  logger.info({ taskQueue: config.gpuTaskQueue, concurrency: config.gpuConcurrency, provider: engine.provider, pack: engine.pack.name }, 'gpu worker polling');
  await running.catch(fatal);
}

main().catch((err: unknown) => {
  process.stderr.write(`gpu worker: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
