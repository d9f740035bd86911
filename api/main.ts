// Entry point of the API process (one of the roles `npm start` supervises; run alone in production):
// opens the event store, the read models' database (users, idempotency keys, cameo challenges, the projector's videos
// table), the blob store and a Temporal client, then serves HTTP on PORT.
// On the very first start it creates the development keys and prints them, once, to stdout.
import { createFfmpeg, type Ffmpeg } from '../infra/media/ffmpeg';
import { createContentCredentials } from '../infra/provenance/c2pa';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfigOrExit } from '../infra/config';
import { createBlobStore } from '../infra/blobs';
import { openEventStore } from '../infra/eventstore';
import { meteredEventStore } from '../infra/eventstore/metered';
import { exitOnFatal, handleShutdown } from '../infra/lifecycle';
import { createLogger, type Logger } from '../infra/logger';
import { setSchemaMigrations } from '../infra/postgres/migrations';
import { roleRegistry } from '../infra/metrics';
import { createPgPool } from '../infra/postgres/pool';
import { startTracing } from '../infra/telemetry/tracing';
import { connectTemporalClient } from '../infra/temporal/connection';
import type { WorkflowCode } from '../infra/temporal/replay';
import type { DevKeysResult } from '../infra/users/port';
import { openUserStore } from '../infra/users/store';
import { PgWebhookEndpointStore } from '../infra/webhooks/store';
import { loadCameoPhrases, PgChallengeStore } from './cameos/challenges';
import { DEFAULT_RECORDING_MAX_BYTES } from './cameos/upload';
import { DEFAULT_INPUT_REFERENCE_MAX_BYTES, buildServer } from './server';
import { PgIdempotencyStore } from './videos/idempotency';
import { createVideoReadModel } from './videos/readModel';

/**
 * Expired Idempotency-Keys and cameo challenges are forgotten this often (claims ignore expired rows anyway; this keeps
 * the tables small).
 */
const IDEMPOTENCY_PURGE_INTERVAL_MS = 60 * 60 * 1000;

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  setSchemaMigrations(config.schemaMigrations);
  const logger = createLogger({ level: config.logLevel, name: 'api' });
  const shutdown = handleShutdown(logger, { graceMs: config.shutdownGraceSeconds * 1000 });
  const fatal = exitOnFatal(logger, 'api');
  if (!config.databaseUrl) return fatal(new Error('DATABASE_URL is not set (`npm start` sets it to the embedded PostgreSQL)'));
  const eventStoreUrl = config.eventStoreUrl ?? config.databaseUrl;

  // Spans of each request, and of the workflows it starts, when OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const tracing = startTracing(config, 'api', logger);
  const metrics = roleRegistry();
  // Temporal is connected lazily: the API starts, and /readyz says "degraded", while Temporal is still down.
  const temporal = connectTemporalClient(config, { tracing });
  const readModels = createPgPool({ connectionString: config.databaseUrl, logger });
  const eventStore = meteredEventStore(
    await openEventStore({ url: eventStoreUrl, schema: config.eventStoreSchema, maxEventBytes: config.eventMaxBytes, logger }).catch(fatal),
    metrics,
  );
  const users = await openUserStore({ pool: readModels, logger }).catch(fatal);
  // Every replica calls it; the store lets exactly one create the keys, so they are printed by one process, once.
  const devKeys = await users.ensureDevKeys(config.dataDir).catch(fatal);
  const idempotency = await PgIdempotencyStore.open({ pool: readModels, logger }).catch(fatal);
  const challenges = await PgChallengeStore.open({ pool: readModels, logger, phrases: loadCameoPhrases(config.cameoPhrasesPath) }).catch(fatal);
  const webhookEndpoints = await PgWebhookEndpointStore.open({ pool: readModels, logger }).catch(fatal);
  const blobs = createBlobStore(config);
  // The projector process writes this table; the API reads it.
  const videoReadModel = createVideoReadModel(readModels, { schema: config.readModelsSchema });
  let ffmpeg: Ffmpeg | undefined;
  const videos = {
    blobs,
    readModel: videoReadModel,
    idempotency,
    // The live preview packages fragments with it: found on the first preview request, not at start.
    ffmpeg: () => (ffmpeg ??= createFfmpeg(config)),
    contentCredentials: createContentCredentials(config),
    config: {
      // MODEL_PACK may be a path; the model's name is its folder's.
      modelName: path.basename(config.modelPack),
      taskQueue: config.orchestrationTaskQueue,
      gpuTaskQueue: config.gpuTaskQueue,
      inputReferenceMaxBytes: DEFAULT_INPUT_REFERENCE_MAX_BYTES,
      contentRedirectSeconds: config.blobContentRedirectSeconds,
      retentionSeconds: config.videoRetentionSeconds,
    },
  };
  const cameos = {
    blobs,
    videos: videoReadModel,
    challenges,
    config: { taskQueue: config.orchestrationTaskQueue, recordingMaxBytes: DEFAULT_RECORDING_MAX_BYTES },
  };
  const debug = { workflowCode: lazyWorkflowCode(logger) };
  const app = await buildServer({
    logger,
    eventStore,
    temporal,
    readModels,
    readModelsSchema: config.readModelsSchema,
    users,
    videos,
    cameos,
    engagement: { schema: config.readModelsSchema, feedCursorTtlSeconds: config.feedCursorTtlSeconds },
    webhooks: {
      store: webhookEndpoints,
      policy: { allowedHosts: config.webhookAllowedHosts },
      deliveries: { eventStore, temporal: () => temporal.client, taskQueue: config.orchestrationTaskQueue, retry: config.webhookRetry },
    },
    debug,
    metrics,
    tracing: tracing !== undefined,
    tiers: config.tiers,
    rateLimit: { tiers: config.tiers, windowSeconds: config.rateLimitWindowSeconds },
  }).catch(fatal);
  const purge = setInterval(() => {
    idempotency.purgeExpired().catch((err: unknown) => logger.warn({ err }, 'expired idempotency keys not purged'));
    challenges.purgeExpired().catch((err: unknown) => logger.warn({ err }, 'expired cameo challenges not purged'));
  }, IDEMPOTENCY_PURGE_INTERVAL_MS);
  purge.unref();

  shutdown.setStop(async () => {
    // Stop taking requests (new connections are refused, a request on a kept-alive one gets 503, /readyz included),
    // end the progress streams, and finish the requests in flight before the stores they use go away. Whatever is
    // still open a second before the grace period ends (a download to a reader that stalled) is cut off.
    clearInterval(purge);
    const cutOff = setTimeout(
      () => {
        logger.warn('requests still open at the end of the grace period (SHUTDOWN_GRACE_SECONDS): closing their connections');
        app.server.closeAllConnections();
      },
      Math.max(config.shutdownGraceSeconds * 1000 - 1000, 0),
    );
    await app.close();
    clearTimeout(cutOff);
    await Promise.allSettled([eventStore.close(), users.close(), temporal.close()]);
    await readModels.end();
    await tracing?.shutdown();
  });

  await app.listen({ port: config.port, host: '0.0.0.0' }).catch((err: unknown) => {
    // The keys were created and will not be created again: print them even though this start fails.
    if (devKeys.created) printDevKeys(devKeys);
    return fatal(err);
  });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, temporal: temporal.address, namespace: temporal.namespace }, `API listening on http://127.0.0.1:${port}`);
  if (devKeys.created) printDevKeys(devKeys, `http://127.0.0.1:${port}`);
}

/**
 * The workflow code replays run against: this build's workflows, bundled on the first replay (seconds of CPU that
 * most API processes never need) and kept. Concurrent first replays share one bundling; a failed one is forgotten, so
 * the next replay tries again.
 */
function lazyWorkflowCode(logger: Logger): () => Promise<WorkflowCode> {
  const bundleLogger = logger.child({ component: 'workflow-bundle' });
  // The bundler's progress (webpack's whole stats) is debug detail; its warnings and errors are not.
  const quiet = (message: string, meta?: Record<string, unknown>) => bundleLogger.debug(meta ?? {}, message);
  let pending: Promise<WorkflowCode> | undefined;
  return () => {
    if (pending) return pending;
    installReplayRuntime(logger);
    const started = Date.now();
    pending = bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows'),
      logger: {
        log: (_level, message, meta) => quiet(message, meta),
        trace: quiet,
        debug: quiet,
        info: quiet,
        warn: (message, meta) => bundleLogger.warn(meta ?? {}, message),
        error: (message, meta) => bundleLogger.error(meta ?? {}, message),
      },
    }).then(
      (bundle): WorkflowCode => {
        bundleLogger.info({ durationMs: Date.now() - started, bytes: bundle.code.length }, 'workflow code bundled for replays');
        return { workflowBundle: bundle };
      },
      (err: unknown) => {
        pending = undefined;
        throw err;
      },
    );
    return pending;
  };
}

let replayRuntimeInstalled = false;

/**
 * Replays run replay workers on the SDK runtime. Installed here rather than left to the SDK's default: its warnings go
 * to pino instead of plain lines on stderr, and it installs no signal handlers, so SIGTERM stays handleShutdown's.
 */
function installReplayRuntime(logger: Logger): void {
  if (replayRuntimeInstalled) return;
  replayRuntimeInstalled = true;
  const temporalLogger = logger.child({ component: 'temporal-sdk' });
  const levels = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => temporalLogger[levels[entry.level]](entry.meta ?? {}, entry.message)),
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} } },
    shutdownSignals: [],
  });
}

/**
 * The keys go to stdout as plain text, not into the JSON log: log pipelines keep and ship what they receive, and
 * these are admin credentials. The log line (from the store) names the file and the user ids only.
 */
function printDevKeys(devKeys: Extract<DevKeysResult, { created: true }>, apiUrl?: string): void {
  process.stdout.write(
    [
      '',
      'Development API keys (created on this first start; shown only now, and kept in the file below, mode 0600):',
      `  admin  ${devKeys.keys.admin}`,
      `  user   ${devKeys.keys.user}`,
      `  file   ${devKeys.file}`,
      ...(apiUrl ? [`  try    curl -H "Authorization: Bearer ${devKeys.keys.user}" ${apiUrl}/v1/users/me`] : []),
      '',
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`api: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
