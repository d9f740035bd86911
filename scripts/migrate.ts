// `npm run migrate` (the container image's `migrate` command, deploy/'s migrate job): applies every pending schema
// migration of the stores in PostgreSQL (the event store, when it is PostgreSQL; users, Idempotency-Keys, cameo
// challenges, webhook endpoints; the projector's checkpoints) and exits. Safe to run again and beside running roles: each store migrates
// under its advisory lock. Roles started with SCHEMA_MIGRATIONS=verify then only check that it ran. The read models'
// own tables stay the projector's: it builds (and rebuilds) them from the events.
// `--wait [--timeout S]` applies nothing: it waits until every schema is current (the roles' init containers in
// deploy/kubernetes, while the migrate Job runs), at most S seconds (default 600).
import { parseArgs } from 'node:util';
import { PgChallengeStore } from '../api/cameos/challenges';
import { PgIdempotencyStore } from '../api/videos/idempotency';
import { loadConfigOrExit, type Config } from '../infra/config';
import { openEventStore } from '../infra/eventstore';
import { createLogger, type Logger } from '../infra/logger';
import { SchemaNotMigrated, setSchemaMigrations } from '../infra/postgres/migrations';
import { createPgPool } from '../infra/postgres/pool';
import { openUserStore } from '../infra/users/store';
import { PgWebhookEndpointStore } from '../infra/webhooks/store';
import { migrateStore } from '../projections/store';
import { findDatabase, NoDatabaseError, redactUrl, type FoundDatabase } from './database';

const USAGE = 'usage: npm run migrate [-- --wait [--timeout SECONDS]]';
const WAIT_POLL_MS = 2000;

/** Opens every store once, which applies (or, in verify mode, checks) its migrations, and closes them. */
async function migrateAll(config: Config, db: FoundDatabase, logger: Logger): Promise<void> {
  const eventStoreUrl = config.eventStoreUrl ?? db.eventStoreUrl ?? db.url;
  const eventStore = await openEventStore({ url: eventStoreUrl, schema: config.eventStoreSchema, maxEventBytes: config.eventMaxBytes, logger });
  await eventStore.close();
  const pool = createPgPool({ connectionString: db.url, max: 2, logger });
  try {
    await (await openUserStore({ pool, logger })).close();
    await PgIdempotencyStore.open({ pool, logger });
    await PgChallengeStore.open({ pool, logger });
    await PgWebhookEndpointStore.open({ pool, logger });
    await migrateStore(pool, config.readModelsSchema);
  } finally {
    await pool.end();
  }
}

async function main(): Promise<void> {
  let values: { wait?: boolean; timeout?: string };
  try {
    ({ values } = parseArgs({ args: process.argv.slice(2), options: { wait: { type: 'boolean' }, timeout: { type: 'string' } }, strict: true }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  const timeoutS = values.timeout === undefined ? 600 : Number(values.timeout);
  if (!Number.isInteger(timeoutS) || timeoutS < 1) throw new UsageError(`--timeout ${values.timeout}: a whole number of seconds, at least 1\n${USAGE}`);
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, name: 'migrate' });
  const db = findDatabase(config, 'migrate');
  const started = Date.now();
  if (!values.wait) {
    logger.info({ database: redactUrl(db.url), from: db.from }, 'applying schema migrations');
    await migrateAll(config, db, logger);
    logger.info({ ms: Date.now() - started }, 'schema migrations applied');
    process.stdout.write(`migrate: every schema is current (${redactUrl(db.url)}, in ${Date.now() - started} ms)\n`);
    return;
  }
  setSchemaMigrations('verify');
  let lastReported = 0;
  for (;;) {
    try {
      await migrateAll(config, db, logger);
      process.stdout.write(`migrate: every schema is current (waited ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
      return;
    } catch (err) {
      const waited = Date.now() - started;
      if (waited > timeoutS * 1000) throw new Error(`schemas still not current after ${timeoutS} s: ${(err as Error).message}`);
      if (Date.now() - lastReported > 10000) {
        lastReported = Date.now();
        const why = err instanceof SchemaNotMigrated ? err.message : `database not reachable yet: ${(err as Error).message}`;
        logger.info({ waitedMs: waited }, `waiting for the migrate job: ${why}`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
  }
}

class UsageError extends Error {}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`migrate: ${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof NoDatabaseError) {
    process.stderr.write(`migrate: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`migrate: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
