// Entry point of the GPU worker: inference activities on task queue `gpu`, as many video chunks at once as the GPU
// has slots (GPU_CONCURRENCY), each with an audio chunk beside it. One process per GPU; it loads the model pack
// and warms it up before it polls.
import os from 'node:os';
import { Worker } from '@temporalio/worker';
import { loadConfigOrExit } from '../infra/config';
import { blobStoreCheck, once, registryMetrics, serveHealth, workerRunning } from '../infra/health';
import { exitOnFatal, handleShutdown } from '../infra/lifecycle';
import { createLogger } from '../infra/logger';
import { errorsCounter, roleRegistry } from '../infra/metrics';
import { startTracing } from '../infra/telemetry/tracing';
import { activityErrorsInterceptor } from '../infra/temporal/metrics';
import { tracingWorkerOptions } from '../infra/temporal/tracing';
import { connectTemporalClient, connectTemporalWorker } from '../infra/temporal/connection';
import { createBlobStore } from '../infra/blobs';
import { createFfmpeg } from '../infra/media/ffmpeg';
import { createGpuActivities, gpuWorkerOptions } from './activities';
import { createEngine, type Engine } from './engine/engine';
import { chunkRenderSeconds, inferenceMeter, meteredEngine, meteredSafety } from './engine/metered';
import { createSafetyClassifier, resolveSafetyModel } from './engine/safety';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, name: 'gpu-worker' });
  const shutdown = handleShutdown(logger, { graceMs: config.shutdownGraceSeconds * 1000 });
  const fatal = exitOnFatal(logger, 'gpu worker');
  // The activities' spans, and each inference call's under them, when OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const tracing = startTracing(config, 'gpu-worker', logger);
  // A GPU worker needs Temporal and the blob store, nothing else (no event store, no PostgreSQL).
  const temporal = connectTemporalClient(config, { tracing });
  const blobs = createBlobStore(config);
  // Time inside inference, chunk render time, the busy fraction (engine/metered.ts) and activity failures.
  const registry = roleRegistry();
  const errors = errorsCounter(registry);
  const chunkSeconds = chunkRenderSeconds(registry);
  const inference = inferenceMeter({ registry, concurrency: config.gpuConcurrency });
  // What the checks look at once it exists; until then they say "starting".
  const started: { worker?: Worker; engine?: Engine } = {};
  const health = await serveHealth({
    role: 'gpu-worker',
    host: config.healthHost,
    port: config.healthPort,
    logger,
    checks: { temporal: () => temporal.ping(), blobs: blobStoreCheck(blobs), worker: once(() => started.worker, workerRunning) },
    // Once the engine is loaded.
    metrics: registryMetrics(() => (started.engine ? registry : undefined)),
  }).catch(fatal);
  // The engine first: a pack that does not load, or no working provider, should stop the worker before it takes a
  // task it cannot render. createEngine logs the provider it chose and why, and the warm-up time.
  const engine = (started.engine = meteredEngine(await createEngine({ config, logger }).catch(fatal), inference));
  // The output safety classifier on the engine's provider: a worker without it would fail every output review, so it
  // stops here, naming what is missing (SAFETY_MODEL_PATH, or the bootstrap's model).
  // Metered with the engine: its scoring takes the device's slots as the renders do.
  const safety = meteredSafety(
    await Promise.resolve()
      .then(() =>
        createSafetyClassifier({ modelPath: resolveSafetyModel(config.safetyModelPath), provider: engine.provider, threads: config.inferenceThreads, logger }),
      )
      .catch(fatal),
    inference,
  );
  const connection = await connectTemporalWorker(config, logger).catch(fatal);
  const worker = (started.worker = await Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.gpuTaskQueue,
    activities: {
      ...createGpuActivities({
        engine,
        blobs,
        safety,
        ffmpeg: createFfmpeg(config),
        logger,
        concurrency: config.gpuConcurrency,
        lookaheadChunks: config.gpuLookaheadChunks,
        watermark: config.watermark,
        onChunkRendered: (seconds) => chunkSeconds.observe(seconds),
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
        // A chunk depends on it: workers of one deployment that disagree here would make retries differ.
        watermark: config.watermark,
      }),
    },
    ...gpuWorkerOptions(config.gpuConcurrency),
    // On SIGTERM it stops polling at once (/readyz turns 503) and a chunk in progress gets this long to finish; then it
    // is cancelled, and its attempt fails with WorkerShutdown, so another worker renders it from its start right away.
    shutdownGraceTime: config.workerDrainSeconds * 1000,
    ...tracingWorkerOptions(tracing, [activityErrorsInterceptor(errors, 'gpu-worker')]),
  }).catch(fatal));

  const running = worker.run();
  shutdown.setStop(async () => {
    worker.shutdown();
    await running;
    await Promise.allSettled([connection.close(), temporal.close(), health.close()]);
    await engine.close();
    await safety.close();
    await tracing?.shutdown();
  });
  logger.info({ taskQueue: config.gpuTaskQueue, concurrency: config.gpuConcurrency, provider: engine.provider, pack: engine.pack.name }, 'gpu worker polling');
  await running.catch(fatal);
}

main().catch((err: unknown) => {
  process.stderr.write(`gpu worker: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
