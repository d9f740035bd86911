// A read model's projection: its checkpoint and the transactions that move it, with poison events parked; and how a
// read model's tables are brought to its version. Shared by the live runner (worker.ts) and the rebuild (rebuild.ts).
//
// The one-transaction invariant. A batch's row changes and its checkpoint are written by one transaction on one
// connection, so after a crash either both are there or neither is: restarting from the committed checkpoint never
// applies an event twice and never skips one. Everything the runner keeps in memory (its checkpoint, the events it
// buffered) is thrown away on any failure and re-read from the database and the event store.
import { positionFromString, positionToString, START, type Position, type RecordedEvent } from '../infra/eventstore/port';
import type { Logger } from '../infra/logger';
import type { Metrics } from './metrics';
import { leaseLockKey, migrationLockKey, quoteSchema, type SqlClient } from './store';

/** A read model: tables in the read models schema and how each event changes them. */
export interface ReadModel {
  /** Its key in projection_checkpoints; lower-case letters, digits and "_". */
  readonly name: string;
  /** Bump it when the rows an event produces change: the runner then drops the tables and rebuilds from zero. */
  readonly version: number;
  /** Its tables, dropped on a rebuild or a version change. */
  readonly tables: readonly string[];
  /** Creates its tables and indexes if missing (IF NOT EXISTS); runs inside the runner's transaction. */
  migrate(client: SqlClient, schema: string): Promise<void>;
  /** Whether apply wants this event; the others only move the checkpoint. */
  handles(eventType: string, streamName: string): boolean;
  /**
   * Writes the event's effect, inside the runner's transaction (never COMMIT or ROLLBACK here). Throwing marks the
   * event as poison: it is parked and the read model moves on, unless the error is a connection or transaction
   * failure, which is retried.
   */
  apply(client: SqlClient, event: RecordedEvent, schema: string): Promise<void>;
  /**
   * Optional: the events of a batch this read model handles, at once, with exactly the rows `apply` would leave one
   * event at a time (fewer round trips: a rebuild and a catch-up go faster). A throw is handled as apply's: the batch
   * is then replayed one event per transaction through `apply`, which finds the poison one.
   */
  applyBatch?(client: SqlClient, events: readonly RecordedEvent[], schema: string): Promise<void>;
}

/**
 * A read model's apply and applyBatch from one fold of a batch (apply folds a batch of one): one code path, so the
 * rows a batch leaves are those of one event at a time by construction, as far as the fold keeps events in order.
 */
export function foldingBatches(
  fold: (client: SqlClient, events: readonly RecordedEvent[], schema: string) => Promise<void>,
): Pick<ReadModel, 'apply'> & Required<Pick<ReadModel, 'applyBatch'>> {
  return {
    apply: (client, event, schema) => fold(client, [event], schema),
    applyBatch: (client, events, schema) => fold(client, events, schema),
  };
}

/** What a read model's name and its tables' names may be: lower-case letters, digits and "_". */
export const NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** An error thrown by a read model's apply, as opposed to one from the runner's own statements. */
class ApplyFailure extends Error {
  constructor(
    readonly event: RecordedEvent,
    override readonly cause: unknown,
  ) {
    super(`apply failed at ${positionToString(event.position)}: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'ApplyFailure';
  }
}

class CheckpointMoved extends Error {
  constructor(readModel: string, expected: string) {
    super(`the checkpoint of ${readModel} is no longer ${expected}: another runner advanced it`);
    this.name = 'CheckpointMoved';
  }
}

/**
 * Whether an error says the connection or the transaction failed rather than the event: those are retried from the
 * committed checkpoint, never parked. SQLSTATE classes 08 connection, 40 rollback (serialization, deadlock),
 * 53 resources, 57 operator intervention (a terminated backend, a statement timeout), 58 system, 55P03 lock not
 * available; and socket errors. A statement that always times out stalls the read model (its lag says so) rather
 * than parking events that are fine.
 */
export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') {
    if (/^(08|40|53|57|58)[0-9A-Z]{3}$/.test(code) || code === '55P03') return true;
    if (/^E[A-Z]+$/.test(code)) return true;
  }
  const message = (err as Error)?.message ?? '';
  return /Connection terminated|connection error|Client was closed|not queryable|timeout exceeded when trying to connect/i.test(message);
}

/**
 * A read model's checkpoint and the transactions that move it; shared by the live runner and rebuild(), so both fold
 * events through exactly the same code.
 */
export class Projection {
  parkedCount = 0;

  constructor(
    readonly model: ReadModel,
    private readonly schema: string,
    public checkpoint: Position,
    public lastEventAt: Date | null,
    private readonly logger: Logger,
    private readonly metrics: Metrics | undefined,
    private readonly onAdvance: () => void = () => undefined,
    /**
     * How long the checkpoint may stay ahead of the stored one over batches this read model has nothing in (0: never).
     * Such a batch changes no row, so advancing in memory keeps read-your-writes true for this process; the stored
     * checkpoint follows with the next batch it writes, or `flush`. A crash meanwhile re-reads events it skips again.
     */
    private readonly deferIdleMs = 0,
  ) {
    this.committed = checkpoint;
  }

  /** The checkpoint as stored; `checkpoint` may be ahead of it (deferIdleMs). */
  private committed: Position;
  private unsavedSince: number | undefined;

  /** Whether the checkpoint is ahead of the stored one. */
  get unsaved(): boolean {
    return this.unsavedSince !== undefined;
  }

  /** Stores the checkpoint if it is ahead of the stored one (one statement). */
  async flush(client: SqlClient): Promise<void> {
    if (this.unsavedSince === undefined) return;
    const at = this.checkpoint;
    await this.writeCheckpoint(client, at, this.lastEventAt);
    this.saved(at);
  }

  /** Applies a batch in one transaction with its checkpoint; on a poison event, replays it one event per transaction. */
  async commit(client: SqlClient, events: readonly RecordedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const last = events[events.length - 1]!;
    const handled = events.filter((e) => this.model.handles(e.type, e.streamName));
    if (handled.length === 0) {
      // No row changes: the checkpoint alone, in memory for a while (deferIdleMs), else in one statement.
      this.unsavedSince ??= Date.now();
      if (Date.now() - this.unsavedSince >= this.deferIdleMs) {
        await this.writeCheckpoint(client, last.position, last.created);
        this.saved(last.position);
      }
      this.advance(last, 0);
      return;
    }
    let applied = 0;
    try {
      await client.query('BEGIN');
      if (this.model.applyBatch) applied = await this.applyAll(client, handled);
      else {
        for (const event of events) {
          if (await this.applyOne(client, event)) applied++;
        }
      }
      await this.writeCheckpoint(client, last.position, last.created);
      await client.query('COMMIT');
      this.saved(last.position);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (!(err instanceof ApplyFailure)) throw err;
      if (isTransient(err.cause)) throw err.cause;
      // Something in the batch is poison; which one is found by replaying the batch one event per transaction.
      for (const event of events) await this.commitOne(client, event);
      return;
    }
    this.advance(last, applied);
  }

  private async commitOne(client: SqlClient, event: RecordedEvent): Promise<void> {
    let applied = 0;
    try {
      await client.query('BEGIN');
      if (await this.applyOne(client, event)) applied++;
      await this.writeCheckpoint(client, event.position, event.created);
      await client.query('COMMIT');
      this.saved(event.position);
      this.advance(event, applied);
      return;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (!(err instanceof ApplyFailure)) throw err;
      if (isTransient(err.cause)) throw err.cause;
      await this.park(client, event, err.cause);
    }
  }

  /** Parking and moving the checkpoint past the event are one transaction too: a parked event is never re-applied. */
  private async park(client: SqlClient, event: RecordedEvent, cause: unknown): Promise<void> {
    const position = positionToString(event.position);
    const error = (cause as Error)?.stack ?? String(cause);
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO ${quoteSchema(this.schema)}.projection_parked (read_model, position, event_id, stream, type, revision, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (read_model, position) DO UPDATE SET error = EXCLUDED.error, parked_at = now()`,
        [this.model.name, position, event.id, event.streamName, event.type, event.revision.toString(), error],
      );
      await this.writeCheckpoint(client, event.position, event.created);
      await client.query('COMMIT');
      this.saved(event.position);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    this.parkedCount++;
    this.metrics?.parked.inc({ read_model: this.model.name });
    this.metrics?.errors.inc({ role: 'projector', kind: 'projection_parked' });
    this.logger.error(
      { readModel: this.model.name, position, eventId: event.id, stream: event.streamName, type: event.type, revision: event.revision.toString(), err: cause },
      `poison event parked by read model ${this.model.name}: ${(cause as Error)?.message ?? String(cause)}`,
    );
    this.advance(event, 0);
  }

  /** The batch's handled events (some) through the read model's applyBatch; how many there were. */
  private async applyAll(client: SqlClient, handled: readonly RecordedEvent[]): Promise<number> {
    try {
      await this.model.applyBatch!(client, handled, this.schema);
    } catch (cause) {
      throw new ApplyFailure(handled[0]!, cause);
    }
    return handled.length;
  }

  private async applyOne(client: SqlClient, event: RecordedEvent): Promise<boolean> {
    if (!this.model.handles(event.type, event.streamName)) return false;
    try {
      await this.model.apply(client, event, this.schema);
    } catch (cause) {
      throw new ApplyFailure(event, cause);
    }
    return true;
  }

  /**
   * Moves the checkpoint only from where this runner believes it is: if another process moved it (two runners of
   * one read model, despite the lease), the transaction fails and nothing it wrote is kept.
   */
  private async writeCheckpoint(client: SqlClient, position: Position, lastEventAt: Date | null): Promise<void> {
    const expected = positionToString(this.committed);
    const res = await client.query(
      `UPDATE ${quoteSchema(this.schema)}.projection_checkpoints
       SET position = $2, last_event_at = $3, updated_at = now()
       WHERE read_model = $1 AND position = $4`,
      [this.model.name, positionToString(position), lastEventAt, expected],
    );
    if (res.rowCount !== 1) throw new CheckpointMoved(this.model.name, expected);
  }

  private saved(position: Position): void {
    this.committed = position;
    this.unsavedSince = undefined;
  }

  private advance(event: RecordedEvent, applied: number): void {
    this.checkpoint = event.position;
    this.lastEventAt = event.created;
    if (applied > 0) this.metrics?.applied.inc({ read_model: this.model.name }, applied);
    this.onAdvance();
  }
}

/** Drops a read model's tables and parked events and sets its checkpoint to the start; inside the caller's transaction. */
export async function resetReadModel(client: SqlClient, model: ReadModel, schema: string): Promise<void> {
  const s = quoteSchema(schema);
  for (const table of model.tables) {
    if (!NAME.test(table)) throw new Error(`read model ${model.name}: invalid table name ${JSON.stringify(table)}`);
    await client.query(`DROP TABLE IF EXISTS ${s}."${table}" CASCADE`);
  }
  await model.migrate(client, schema);
  await client.query(
    `INSERT INTO ${s}.projection_checkpoints (read_model, version, position, last_event_at) VALUES ($1, $2, $3, NULL)
     ON CONFLICT (read_model) DO UPDATE SET version = EXCLUDED.version, position = EXCLUDED.position, last_event_at = NULL, updated_at = now()`,
    [model.name, model.version, positionToString(START)],
  );
  await client.query(`DELETE FROM ${s}.projection_parked WHERE read_model = $1`, [model.name]);
}

/**
 * Brings a read model's tables to its version: new or another version → rebuilt from zero (a missing checkpoint
 * also means "from zero", so deleting the row is how an operator asks for a rebuild). Returns the stored checkpoint.
 */
export async function prepareReadModel(
  client: SqlClient,
  model: ReadModel,
  schema: string,
  logger: Logger,
): Promise<{ position: Position; lastEventAt: Date | null; parked: number }> {
  const s = quoteSchema(schema);
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [migrationLockKey(schema)]);
    const res = await client.query<{ version: number; position: string; last_event_at: Date | null }>(
      `SELECT version, position, last_event_at FROM ${s}.projection_checkpoints WHERE read_model = $1 FOR UPDATE`,
      [model.name],
    );
    const row = res.rows[0];
    if (!row || row.version !== model.version) {
      logger.info({ schema, from: row?.version ?? null, to: model.version }, 'building read model from position zero');
      await resetReadModel(client, model, schema);
    } else {
      await model.migrate(client, schema);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  const res = await client.query<{ position: string; last_event_at: Date | null; parked: string }>(
    `SELECT c.position, c.last_event_at, (SELECT count(*) FROM ${s}.projection_parked p WHERE p.read_model = c.read_model) AS parked
     FROM ${s}.projection_checkpoints c WHERE c.read_model = $1`,
    [model.name],
  );
  const row = res.rows[0]!;
  return { position: positionFromString(row.position), lastEventAt: row.last_event_at, parked: Number(row.parked) };
}

/** Takes the read model's lease in `schema` on this connection (a session advisory lock), unless another holds it. */
export async function tryLease(client: SqlClient, schema: string, readModel: string): Promise<boolean> {
  const res = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [leaseLockKey(schema, readModel)]);
  return res.rows[0]!.locked;
}
