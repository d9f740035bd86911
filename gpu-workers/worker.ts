// Entry point of the GPU worker: inference activities on task queue `gpu`, as many at once as the GPU has
// slots (GPU_CONCURRENCY). One process per GPU; the renderers arrive with the inference engine.
import os from 'node:os';
import { Worker } from '@temporalio/worker';
import { loadConfigOrExit } from '../infra/config';
import { exitOnFatal, handleShutdown } from '../infra/lifecycle';
import { createLogger } from '../infra/logger';
import { connectTemporalWorker } from '../infra/temporal/connection';

export const GPU_TASK_QUEUE = 'gpu';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, name: 'gpu-worker' });
  const shutdown = handleShutdown(logger);
  const fatal = exitOnFatal(logger, 'gpu worker');
  const connection = await connectTemporalWorker(config, logger).catch(fatal);
  const worker = await Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: GPU_TASK_QUEUE,
    // No renderers yet. The SDK refuses a worker with nothing to run, so until they arrive it runs one
    // diagnostic activity, which also shows which GPU worker picks up a task and how it is configured.
    activities: {
      gpuWorkerInfo: async () => ({ hostname: os.hostname(), pid: process.pid, inferenceEp: config.inferenceEp, concurrency: config.gpuConcurrency }),
    },
    maxConcurrentActivityTaskExecutions: config.gpuConcurrency,
    // A chunk in progress gets this long to finish; a chunk cut short is retried elsewhere from its start.
    shutdownGraceTime: '10 seconds',
  }).catch(fatal);

  const running = worker.run();
  shutdown.setStop(async () => {
    worker.shutdown();
    await running;
    await connection.close();
  });
  logger.info({ taskQueue: GPU_TASK_QUEUE, concurrency: config.gpuConcurrency, inferenceEp: config.inferenceEp }, 'gpu worker polling');
  await running.catch(fatal);
}

main().catch((err: unknown) => {
  process.stderr.write(`gpu worker: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
