// Rebuilding a read model: its tables dropped and refolded from position zero, or a rebuilt copy caught up, through
// the same transactions as the live runner (Projection), on a connection holding the read model's lease.
import { comparePositions, positionFromString, positionToString, START, type EventStore, type Position, type RecordedEvent } from '../infra/eventstore/port';
import type { Logger } from '../infra/logger';
import type { PgPool } from '../infra/postgres/pool';
import { Projection, resetReadModel, tryLease, type ReadModel } from './projection';
import { leaseClient, migrateStore, migrationLockKey, quoteSchema, type LeasedClient, type SqlClient } from './store';

export interface RebuildOptions {
  eventStore: EventStore;
  pool: PgPool;
  readModel: ReadModel;
  /** Where to rebuild; a schema of its own leaves the live tables untouched while it runs. */
  schema: string;
  logger: Logger;
  /** Events per transaction. */
  batchSize?: number;
  /**
   * Where folding stops: at the head of $all, or before the first event past `atLeast` recorded at or after
   * `recordedBefore`, whichever comes first. Without a bound, appends arriving faster than the fold would keep it from
   * ever reaching the head; the live runner projects whatever comes after.
   */
  until?: { recordedBefore?: Date; atLeast?: Position };
}

export interface RebuildResult {
  schema: string;
  readModel: string;
  checkpoint: string;
  events: number;
  parked: number;
}

/**
 * Drops the read model's tables in `schema`, recreates them and replays $all from position zero until it is caught
 * up, through the same transactions as the live runner: what DESIGN's "rebuilt from position zero and identical" runs.
 * Refuses while a runner holds the read model in that schema.
 */
export async function rebuild(options: RebuildOptions): Promise<RebuildResult> {
  const { pool, readModel, schema } = options;
  const logger = options.logger.child({ readModel: readModel.name, schema, rebuild: true });
  await migrateStore(pool, schema);
  return withRebuildLease(pool, schema, readModel, logger, async (client) => {
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [migrationLockKey(schema)]);
      await resetReadModel(client, readModel, schema);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    const projection = new Projection(readModel, schema, START, null, logger, undefined);
    const events = await foldToHead(options, client, projection);
    logger.info({ events, parked: projection.parkedCount, checkpoint: positionToString(projection.checkpoint) }, 'read model rebuilt');
    return { schema, readModel: readModel.name, checkpoint: positionToString(projection.checkpoint), events, parked: projection.parkedCount };
  });
}

/**
 * Folds the events after the read model's committed checkpoint in `schema` until it reaches the head of $all, through
 * the same transactions as rebuild(): how a rebuilt copy is brought up to date again just before it is swapped in.
 * `events` counts what this call folded; `parked` is the read model's whole parked count there. Refuses while a
 * runner holds the read model in that schema, and when it has no checkpoint there (never built).
 */
export async function catchUp(options: RebuildOptions): Promise<RebuildResult> {
  const { pool, readModel, schema } = options;
  const logger = options.logger.child({ readModel: readModel.name, schema, rebuild: true });
  return withRebuildLease(pool, schema, readModel, logger, async (client) => {
    const s = quoteSchema(schema);
    const res = await client.query<{ version: number; position: string; last_event_at: Date | null; parked: string }>(
      `SELECT c.version, c.position, c.last_event_at, (SELECT count(*) FROM ${s}.projection_parked p WHERE p.read_model = c.read_model) AS parked
       FROM ${s}.projection_checkpoints c WHERE c.read_model = $1`,
      [readModel.name],
    );
    const row = res.rows[0];
    if (!row) throw new Error(`read model ${readModel.name} has no checkpoint in schema ${schema}: rebuild it before catching it up`);
    if (row.version !== readModel.version) {
      throw new Error(`read model ${readModel.name} in schema ${schema} was built by version ${row.version}, not ${readModel.version}: rebuild it`);
    }
    const projection = new Projection(readModel, schema, positionFromString(row.position), row.last_event_at, logger, undefined);
    projection.parkedCount = Number(row.parked);
    const events = await foldToHead(options, client, projection);
    return { schema, readModel: readModel.name, checkpoint: positionToString(projection.checkpoint), events, parked: projection.parkedCount };
  });
}

/** Runs `work` on a connection of its own holding the read model's lease in `schema`; refuses while a runner holds it. */
async function withRebuildLease<T>(pool: PgPool, schema: string, readModel: ReadModel, logger: Logger, work: (client: LeasedClient) => Promise<T>): Promise<T> {
  const client = await leaseClient(pool);
  client.on('error', (err) => logger.warn({ err }, 'rebuild connection lost'));
  try {
    if (!(await tryLease(client, schema, readModel.name))) {
      throw new Error(`read model ${readModel.name} in schema ${schema} is run by a projector; stop it or rebuild into another schema`);
    }
    return await work(client);
  } finally {
    // Destroyed rather than returned to the pool: that ends the session, and with it the lease lock.
    client.release(true);
  }
}

/** Commits pages of $all after the projection's checkpoint up to `options.until` or the head; returns how many events. */
async function foldToHead(options: RebuildOptions, client: SqlClient, projection: Projection): Promise<number> {
  const batchSize = options.batchSize ?? 500;
  const { recordedBefore, atLeast } = options.until ?? {};
  const wanted = (event: RecordedEvent) =>
    recordedBefore === undefined || event.created < recordedBefore || (atLeast !== undefined && comparePositions(event.position, atLeast) <= 0);
  let events = 0;
  for (;;) {
    const page = await options.eventStore.readAll({ fromPosition: projection.checkpoint, maxCount: batchSize });
    const end = page.findIndex((event) => !wanted(event));
    const batch = end < 0 ? page : page.slice(0, end);
    if (batch.length > 0) await projection.commit(client, batch);
    events += batch.length;
    if (batch.length === 0 || end >= 0) return events;
  }
}
