// Rebuild-and-swap (`npm run projections:rebuild`): each read model is refolded from position zero into fresh tables
// in a scratch schema of its own, then swapped in for the live ones in one transaction while the projector runs on.
//
// Why the live runner carries on unharmed. The swap moves the live checkpoint row to the rebuilt checkpoint. The live
// runner moves its checkpoint only from the position it believes committed (Projection.writeCheckpoint), so at its next
// commit it either finds the same position (it was exactly where the rebuild stopped: its batch lands in the
// swapped-in tables, which hold everything up to there) or another one (CheckpointMoved: its transaction is rolled back
// and it resumes from the rebuilt checkpoint). The rebuild is caught up, under the swap's locks, to at least the live
// checkpoint, so the rebuilt one is never behind it: a runner idle at the head stays right, and none of the events the
// live runner had committed are lost by the swap.
//
// Locks, in the order the runner's own migration takes them (so the two never wait on each other in a circle): the
// schema's migration lock, then the live tables in ACCESS EXCLUSIVE mode (waits for a batch in flight to commit; the
// next one waits for the swap), then the live checkpoint row. A batch that had already written to one of the feed's
// tables when the swap locked another can still deadlock with it; PostgreSQL then aborts one of the two, and either
// retries: the runner from its committed checkpoint, the swap from the top.
import { createHash } from 'node:crypto';
import { comparePositions, positionFromString, type EventStore, type Position } from '../infra/eventstore/port';
import type { Logger } from '../infra/logger';
import type { PgPool } from '../infra/postgres/pool';
import type { ReadModel } from './projection';
import { catchUp, rebuild } from './rebuild';
import { leaseClient, migrateStore, migrationLockKey, quoteSchema, type LeasedClient } from './store';

export interface RebuildSwapOptions {
  eventStore: EventStore;
  pool: PgPool;
  /** The read models to rebuild, one after the other. */
  readModels: readonly ReadModel[];
  /** The live read models schema (READMODELS_SCHEMA). */
  schema: string;
  logger: Logger;
  /** Events per transaction of the rebuild. */
  batchSize?: number;
  /**
   * Called with each read model's rebuilt tables in their scratch schema, caught up to what $all held a moment before,
   * before they are swapped in: a test compares them with the live ones here.
   */
  beforeSwap?(rebuilt: { readModel: ReadModel; scratchSchema: string }): Promise<void>;
  /** Swap attempts lost to a deadlock or a lock timeout before giving up. */
  swapAttempts?: number;
}

export interface RebuildSwapResult {
  readModel: string;
  /** Events folded: the rebuild from zero plus the catch-ups after it. */
  events: number;
  parked: number;
  /** The checkpoint ("commit/prepare") the read model was swapped in at. */
  checkpoint: string;
  seconds: number;
}

const TABLE = /^[a-z][a-z0-9_]{0,62}$/;

/** Where a read model is rebuilt: `<schema>_rebuild_<read model>`, shortened with a hash past PostgreSQL's 63 characters. */
export function scratchSchemaFor(schema: string, readModel: string): string {
  const name = `${schema}_rebuild_${readModel}`;
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${name.slice(0, 63 - hash.length - 1)}_${hash}`;
}

/** The session lock that keeps two rebuilds of one read model (which share a scratch schema) from running at once. */
function rebuildLockKey(schema: string, readModel: string): string {
  return `reelforge-rebuild:${schema}.${readModel}`;
}

/** Whether the swap lost a deadlock or a lock wait: nothing was changed, and it is tried again. */
function lostLockRace(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '40P01' || code === '55P03';
}

/** Rebuilds each read model into fresh tables and swaps them in for the live ones; one result per read model. */
export async function rebuildAndSwap(options: RebuildSwapOptions): Promise<RebuildSwapResult[]> {
  quoteSchema(options.schema);
  for (const model of options.readModels) {
    for (const table of model.tables) if (!TABLE.test(table)) throw new Error(`read model ${model.name}: invalid table name ${JSON.stringify(table)}`);
  }
  // The live schema's own tables (checkpoints, parked) exist before anything is swapped into it.
  await migrateStore(options.pool, options.schema);
  const results: RebuildSwapResult[] = [];
  for (const model of options.readModels) results.push(await rebuildOne(options, model));
  return results;
}

async function rebuildOne(options: RebuildSwapOptions, model: ReadModel): Promise<RebuildSwapResult> {
  const started = performance.now();
  const { pool, schema } = options;
  const scratch = scratchSchemaFor(schema, model.name);
  if (scratch === schema) throw new Error(`the scratch schema of ${model.name} would be the live schema ${schema}`);
  const logger = options.logger.child({ readModel: model.name, schema, scratchSchema: scratch });
  const guard = await leaseClient(pool);
  guard.on('error', (err) => logger.warn({ err }, 'rebuild connection lost'));
  let ours = false;
  try {
    const locked = await guard.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [rebuildLockKey(schema, model.name)]);
    if (!locked.rows[0]!.locked) throw new Error(`read model ${model.name} of schema ${schema} is being rebuilt by another process; wait for it to finish`);
    ours = true;
    // Left over by a rebuild that was interrupted: nothing in it is live.
    await guard.query(`DROP SCHEMA IF EXISTS ${quoteSchema(scratch)} CASCADE`);
    const step = { eventStore: options.eventStore, pool, readModel: model, schema: scratch, logger: options.logger, batchSize: options.batchSize };
    logger.info('rebuilding read model from position zero into fresh tables');
    // Each pass folds what was recorded before it began, so appends arriving faster than the fold cannot keep it going.
    const built = await rebuild({ ...step, until: { recordedBefore: new Date() } });
    let events = built.events;
    // The rebuild may have taken a while: what was appended meanwhile is folded before anyone compares or swaps.
    events += (await catchUp({ ...step, until: { recordedBefore: new Date() } })).events;
    await options.beforeSwap?.({ readModel: model, scratchSchema: scratch });

    const attempts = options.swapAttempts ?? 5;
    let swapped: { checkpoint: string; parked: number; events: number } | undefined;
    for (let attempt = 1; !swapped; attempt++) {
      try {
        swapped = await swap(guard, options, model, scratch, (atLeast) =>
          catchUp({ ...step, until: { recordedBefore: new Date(), ...(atLeast ? { atLeast } : {}) } }),
        );
      } catch (err) {
        if (!lostLockRace(err) || attempt >= attempts) throw err;
        logger.warn({ err, attempt }, 'swap lost a lock race with the live projector; trying again');
      }
    }
    events += swapped.events;
    await guard.query(`DROP SCHEMA IF EXISTS ${quoteSchema(scratch)} CASCADE`);
    const seconds = (performance.now() - started) / 1000;
    logger.info({ events, parked: swapped.parked, checkpoint: swapped.checkpoint, seconds }, 'read model rebuilt and swapped in');
    return { readModel: model.name, events, parked: swapped.parked, checkpoint: swapped.checkpoint, seconds };
  } catch (err) {
    // Nothing of a failed rebuild is live; its scratch schema goes (the next rebuild would drop it anyway).
    if (ours) await guard.query(`DROP SCHEMA IF EXISTS ${quoteSchema(scratch)} CASCADE`).catch(() => undefined);
    throw err;
  } finally {
    // Ends the session, and with it the rebuild lock.
    guard.release(true);
  }
}

/**
 * One transaction: live tables dropped, rebuilt ones moved in (ALTER TABLE ... SET SCHEMA takes the table's indexes,
 * constraints and owned sequences along, under the names they had, which the live schema no longer holds once its
 * tables are dropped), the live checkpoint set to the rebuilt one and the parked events replaced by the rebuild's.
 */
async function swap(
  client: LeasedClient,
  options: RebuildSwapOptions,
  model: ReadModel,
  scratch: string,
  catchUpScratch: (atLeast: Position | undefined) => Promise<{ events: number }>,
): Promise<{ checkpoint: string; parked: number; events: number }> {
  const live = quoteSchema(options.schema);
  const rebuilt = quoteSchema(scratch);
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL lock_timeout = '30s'`);
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [migrationLockKey(options.schema)]);
    const existing = await client.query<{ table: string }>(
      `SELECT c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind IN ('r', 'p')`,
      [options.schema, model.tables],
    );
    const liveTables = existing.rows.map((r) => `${live}."${r.table}"`);
    if (liveTables.length > 0) await client.query(`LOCK TABLE ${liveTables.join(', ')} IN ACCESS EXCLUSIVE MODE`);
    const liveCheckpoint = await client.query<{ position: string }>(`SELECT position FROM ${live}.projection_checkpoints WHERE read_model = $1 FOR UPDATE`, [
      model.name,
    ]);
    // The live runner cannot commit now: the rebuild is brought to its checkpoint at least, and to what was recorded
    // until now; what comes after is the live runner's to project.
    const livePosition = liveCheckpoint.rows[0]?.position;
    const { events } = await catchUpScratch(livePosition ? positionFromString(livePosition) : undefined);
    const target = await client.query<{ version: number; position: string; last_event_at: Date | null }>(
      `SELECT version, position, last_event_at FROM ${rebuilt}.projection_checkpoints WHERE read_model = $1`,
      [model.name],
    );
    const row = target.rows[0];
    if (!row) throw new Error(`the rebuild of ${model.name} left no checkpoint in ${scratch}`);
    if (livePosition && comparePositions(positionFromString(row.position), positionFromString(livePosition)) < 0) {
      throw new Error(`the rebuild of ${model.name} stopped at ${row.position}, behind the live checkpoint ${livePosition}; nothing was swapped`);
    }
    for (const table of model.tables) {
      await client.query(`DROP TABLE IF EXISTS ${live}."${table}"`);
      await client.query(`ALTER TABLE ${rebuilt}."${table}" SET SCHEMA ${live}`);
    }
    await client.query(
      `INSERT INTO ${live}.projection_checkpoints (read_model, version, position, last_event_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (read_model) DO UPDATE SET version = EXCLUDED.version, position = EXCLUDED.position, last_event_at = EXCLUDED.last_event_at, updated_at = now()`,
      [model.name, row.version, row.position, row.last_event_at],
    );
    await client.query(`DELETE FROM ${live}.projection_parked WHERE read_model = $1`, [model.name]);
    const parked = await client.query(
      `INSERT INTO ${live}.projection_parked (read_model, position, event_id, stream, type, revision, error, parked_at)
       SELECT read_model, position, event_id, stream, type, revision, error, parked_at FROM ${rebuilt}.projection_parked WHERE read_model = $1`,
      [model.name],
    );
    await client.query('COMMIT');
    return { checkpoint: row.position, parked: parked.rowCount ?? 0, events };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
