// Entry point of the orchestration worker: every workflow, and the light activities, on task queue
// ORCHESTRATION_TASK_QUEUE (default `orchestration`; one of the roles `npm start` supervises; scale it out with
// replicas in production).
import { Worker } from '@temporalio/worker';
import { loadConfigOrExit } from '../infra/config';
import { createBlobStore } from '../infra/blobs';
import { openEventStore, type EventStore } from '../infra/eventstore';
import { meteredEventStore } from '../infra/eventstore/metered';
import { blobStoreCheck, once, registryMetrics, serveHealth, workerRunning } from '../infra/health';
import { exitOnFatal, handleShutdown } from '../infra/lifecycle';
import { createLogger } from '../infra/logger';
import { setSchemaMigrations } from '../infra/postgres/migrations';
import { errorsCounter, roleRegistry } from '../infra/metrics';
import { startTracing } from '../infra/telemetry/tracing';
import { activityErrorsInterceptor, taskQueueBacklogGauge } from '../infra/temporal/metrics';
import { tracingWorkerOptions } from '../infra/temporal/tracing';
import { createFfmpeg } from '../infra/media/ffmpeg';
import { createContentCredentials, signingProblem } from '../infra/provenance/c2pa';
import { connectTemporalClient, connectTemporalWorker } from '../infra/temporal/connection';
import { createPgPool } from '../infra/postgres/pool';
import type { PgPool } from '../infra/postgres/pool';
import { PgWebhookEndpointStore } from '../infra/webhooks/store';
import { loadPolicy } from './moderation';
import { WebhookDispatcher } from './webhookDispatcher';
import { createActivities } from './index';

export { ORCHESTRATION_TASK_QUEUE } from '../workflows/definitions';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  setSchemaMigrations(config.schemaMigrations);
  const logger = createLogger({ level: config.logLevel, name: 'orchestration-worker' });
  const shutdown = handleShutdown(logger, { graceMs: config.shutdownGraceSeconds * 1000 });
  const fatal = exitOnFatal(logger, 'orchestration worker');
  const eventStoreUrl = config.eventStoreUrl ?? config.databaseUrl;
  if (!eventStoreUrl) return fatal(new Error('neither EVENTSTORE_URL nor DATABASE_URL is set (`npm start` sets them)'));

  // Every mux signs: without a readable key and chain, refuse to start (naming the variables) rather than fail every
  // video at its end. `npm start` and the tests always give it one; deploy/ mounts the operator's.
  const unsigned = signingProblem(config);
  if (unsigned) return fatal(new Error(unsigned));
  let policy;
  try {
    policy = loadPolicy(config.moderationPolicyPath);
  } catch (err) {
    return fatal(err);
  }
  // Spans of the workflows and activities (under the API request that started them) when OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const tracing = startTracing(config, 'orchestration-worker', logger);
  // For the activities that send Updates to other workflows (cameo consent), the readiness probe and the backlog gauge.
  const temporal = connectTemporalClient(config, { tracing });
  const blobs = createBlobStore(config);
  // Jobs by status and append latency (the event store), activity failures, and the task queues' backlog.
  const registry = roleRegistry();
  const errors = errorsCounter(registry);
  taskQueueBacklogGauge(
    registry,
    temporal,
    [
      { name: config.orchestrationTaskQueue, types: ['workflow', 'activity'] },
      { name: config.gpuTaskQueue, types: ['activity'] },
    ],
    logger,
  );
  // What the checks look at once it exists; until then they say "starting".
  const started: { eventStore?: EventStore; worker?: Worker } = {};
  const health = await serveHealth({
    role: 'orchestration-worker',
    host: config.healthHost,
    port: config.healthPort,
    logger,
    checks: {
      temporal: () => temporal.ping(),
      eventstore: once(
        () => started.eventStore,
        (store) => store.ping(),
      ),
      blobs: blobStoreCheck(blobs),
      worker: once(() => started.worker, workerRunning),
    },
    metrics: registryMetrics(registry),
  }).catch(fatal);
  const eventStore = (started.eventStore = meteredEventStore(
    await openEventStore({
      url: eventStoreUrl,
      schema: config.eventStoreSchema,
      maxEventBytes: config.eventMaxBytes,
      logger,
    }).catch(fatal),
    registry,
  ));
  // Webhooks: the endpoints live in DATABASE_URL; without it (an event store elsewhere and no DATABASE_URL) this
  // worker neither delivers nor dispatches them, and says so.
  let webhooks: { store: PgWebhookEndpointStore; pool: PgPool } | undefined;
  if (config.databaseUrl) {
    const pool = createPgPool({ connectionString: config.databaseUrl, max: 4, logger });
    webhooks = { pool, store: await PgWebhookEndpointStore.open({ pool, logger }).catch(fatal) };
  } else {
    logger.warn('DATABASE_URL is not set: webhook deliveries are neither dispatched nor sent by this worker');
  }
  const connection = await connectTemporalWorker(config, logger).catch(fatal);
  const worker = (started.worker = await Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.orchestrationTaskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: createActivities({
      eventStore,
      logger,
      blobs,
      ffmpeg: createFfmpeg(config),
      contentCredentials: createContentCredentials(config),
      modelPack: config.modelPack,
      policy,
      ...(config.cameoFaceModelPath ? { cameoFaceModelPath: config.cameoFaceModelPath } : {}),
      temporal: () => temporal.client,
      ...(webhooks ? { webhooks: { store: webhooks.store, policy: { allowedHosts: config.webhookAllowedHosts } } } : {}),
    }),
    // On SIGTERM it stops polling at once (/readyz turns 503); activities in flight get this long to finish before
    // shutdown cancels them (their attempts fail and are retried on another worker at once).
    shutdownGraceTime: config.workerDrainSeconds * 1000,
    ...tracingWorkerOptions(tracing, [activityErrorsInterceptor(errors, 'orchestration-worker')]),
  }).catch(fatal));

  const dispatcher = webhooks
    ? new WebhookDispatcher({
        eventStore,
        store: webhooks.store,
        temporal: () => temporal.client,
        taskQueue: config.orchestrationTaskQueue,
        retry: config.webhookRetry,
        logger: logger.child({ component: 'webhook-dispatcher' }),
      })
    : undefined;
  const running = worker.run();
  dispatcher?.start();
  shutdown.setStop(async () => {
    worker.shutdown();
    await Promise.all([running, dispatcher?.stop()]);
    await Promise.allSettled([eventStore.close(), connection.close(), temporal.close(), health.close(), webhooks?.pool.end()]);
    await tracing?.shutdown();
  });
  logger.info({ taskQueue: config.orchestrationTaskQueue, namespace: config.temporalNamespace }, 'orchestration worker polling');
  await running.catch(fatal);
}

main().catch((err: unknown) => {
  process.stderr.write(`orchestration worker: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
