// Entry point of the projector process: folds the event store into read models in DATABASE_URL. It has no read
// models yet, so it holds its connections, checks them now and then, and waits to be stopped.
import { loadConfigOrExit } from '../infra/config';
import { openEventStore } from '../infra/eventstore';
import { exitOnFatal, handleShutdown } from '../infra/lifecycle';
import { createLogger } from '../infra/logger';
import { createPgPool, pingPgPool } from '../infra/postgres/pool';

const CHECK_INTERVAL_MS = 30000;

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, name: 'projector' });
  const shutdown = handleShutdown(logger);
  const fatal = exitOnFatal(logger, 'projector');
  if (!config.databaseUrl) return fatal(new Error('DATABASE_URL is not set (`npm start` sets it to the embedded PostgreSQL)'));
  const eventStoreUrl = config.eventStoreUrl ?? config.databaseUrl;

  const eventStore = await openEventStore({ url: eventStoreUrl, maxEventBytes: config.eventMaxBytes, logger }).catch(fatal);
  const readModels = createPgPool({ connectionString: config.databaseUrl, logger });
  await pingPgPool(readModels).catch(fatal);

  // Also what keeps the process alive: nothing else is scheduled until read models subscribe.
  const timer = setInterval(() => {
    Promise.all([eventStore.ping(), pingPgPool(readModels)]).catch((err: unknown) => logger.warn({ err }, 'a store did not answer'));
  }, CHECK_INTERVAL_MS);

  shutdown.setStop(async () => {
    clearInterval(timer);
    await Promise.allSettled([eventStore.close(), readModels.end()]);
  });
  logger.info('projector running; no read models yet');
}

main().catch((err: unknown) => {
  process.stderr.write(`projector: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
