// Entry point of the API process (one of the roles `npm start` supervises; run alone in production):
// opens the event store, the read models' database and a Temporal client, then serves HTTP on PORT.
import { loadConfigOrExit } from '../infra/config';
import { openEventStore } from '../infra/eventstore';
import { exitOnFatal, handleShutdown } from '../infra/lifecycle';
import { createLogger } from '../infra/logger';
import { createPgPool } from '../infra/postgres/pool';
import { connectTemporalClient } from '../infra/temporal/connection';
import { buildServer } from './server';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, name: 'api' });
  const shutdown = handleShutdown(logger);
  const fatal = exitOnFatal(logger, 'api');
  if (!config.databaseUrl) return fatal(new Error('DATABASE_URL is not set (`npm start` sets it to the embedded PostgreSQL)'));
  const eventStoreUrl = config.eventStoreUrl ?? config.databaseUrl;

  // Temporal is connected lazily: the API starts, and /readyz says "degraded", while Temporal is still down.
  const temporal = connectTemporalClient(config);
  const readModels = createPgPool({ connectionString: config.databaseUrl, logger });
  const eventStore = await openEventStore({ url: eventStoreUrl, maxEventBytes: config.eventMaxBytes, logger }).catch(fatal);
  const app = await buildServer({ logger, eventStore, temporal, readModels }).catch(fatal);

  shutdown.setStop(async () => {
    // Stop taking requests and finish those in flight before the stores they use go away.
    await app.close();
    await Promise.allSettled([eventStore.close(), readModels.end(), temporal.close()]);
  });

  await app.listen({ port: config.port, host: '0.0.0.0' }).catch(fatal);
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, temporal: temporal.address, namespace: temporal.namespace }, `API listening on http://127.0.0.1:${port}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`api: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
