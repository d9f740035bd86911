// Entry point of the projector process: folds the event store into the read models in DATABASE_URL (schema
// `readmodels`), one checkpointed subscription per read model, until it is stopped.
import { loadConfigOrExit } from '../infra/config';
import { openEventStore, type EventStore } from '../infra/eventstore';
import { once, registryMetrics, serveHealth } from '../infra/health';
import { exitOnFatal, handleShutdown } from '../infra/lifecycle';
import { createLogger } from '../infra/logger';
import { setSchemaMigrations } from '../infra/postgres/migrations';
import { errorsCounter, roleRegistry } from '../infra/metrics';
import { createPgPool, pingPgPool } from '../infra/postgres/pool';
import { startFeedRanker } from './feedRanking';
import { startFeedTrimmer } from './feedTrim';
import { ProjectionRunner } from './runner';
import { createReadModels } from './readModels';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  setSchemaMigrations(config.schemaMigrations);
  const logger = createLogger({ level: config.logLevel, name: 'projector' });
  const shutdown = handleShutdown(logger, { graceMs: config.shutdownGraceSeconds * 1000 });
  const fatal = exitOnFatal(logger, 'projector');
  if (!config.databaseUrl) return fatal(new Error('DATABASE_URL is not set (`npm start` sets it to the embedded PostgreSQL)'));
  const eventStoreUrl = config.eventStoreUrl ?? config.databaseUrl;

  // The projector needs the event store and the read models' PostgreSQL; no Temporal, no blob store.
  const readModels = createPgPool({ connectionString: config.databaseUrl, logger });
  // The read models' lag, the events applied and parked, and the projector's errors, at /metrics on the health port.
  const registry = roleRegistry();
  for (const kind of ['projection_parked', 'projection_interrupted']) errorsCounter(registry).inc({ role: 'projector', kind }, 0);
  // What the checks look at once it exists; until then they say "starting".
  const started: { eventStore?: EventStore; runner?: ProjectionRunner } = {};
  const health = await serveHealth({
    role: 'projector',
    host: config.healthHost,
    port: config.healthPort,
    logger,
    checks: {
      eventstore: once(
        () => started.eventStore,
        (store) => store.ping(),
      ),
      readmodels: () => pingPgPool(readModels),
      projections: once(
        () => started.runner,
        async () => undefined,
      ),
    },
    metrics: registryMetrics(registry),
  }).catch(fatal);
  const eventStore = (started.eventStore = await openEventStore({
    url: eventStoreUrl,
    schema: config.eventStoreSchema,
    maxEventBytes: config.eventMaxBytes,
    logger,
  }).catch(fatal));
  await pingPgPool(readModels).catch(fatal);

  const runner = new ProjectionRunner({ eventStore, pool: readModels, schema: config.readModelsSchema, readModels: createReadModels(), logger, registry });

  // The feed's engagement log, trimmed to what open walks can need (projections/feedTrim.ts).
  const trimmer = startFeedTrimmer({ db: readModels, schema: config.readModelsSchema, cursorTtlSeconds: config.feedCursorTtlSeconds, logger });
  // The feed ranked into a table now and then, so pages read it instead of scoring every video (projections/feedRanking.ts).
  const ranker =
    config.feedRankingIntervalSeconds > 0
      ? startFeedRanker({
          pool: readModels,
          schema: config.readModelsSchema,
          intervalSeconds: config.feedRankingIntervalSeconds,
          cursorTtlSeconds: config.feedCursorTtlSeconds,
          logger,
        })
      : undefined;

  // Set before start: a stop request while the runner migrates still closes everything in order.
  shutdown.setStop(async () => {
    // The runner first, so no batch is cut off by its pool closing under it.
    await trimmer.stop();
    await ranker?.stop();
    await runner.stop();
    await Promise.allSettled([eventStore.close(), readModels.end(), health.close()]);
  });
  await runner.start().catch(fatal);
  started.runner = runner;
  logger.info({ schema: runner.schema, readModels: createReadModels().map((m) => m.name) }, 'projector running');
}

main().catch((err: unknown) => {
  process.stderr.write(`projector: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
