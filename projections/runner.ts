// The projection runner: one checkpointed $all subscription per read model, each batch of rows committed in the same
// transaction as the checkpoint that covers it; poison events parked per read model; lag measured and exported.
//
// The one-transaction invariant. A batch's row changes and its checkpoint are written by one transaction on one
// connection, so after a crash either both are there or neither is: restarting from the committed checkpoint never
// applies an event twice and never skips one. Everything the runner keeps in memory (its checkpoint, the events it
// buffered) is thrown away on any failure and re-read from the database and the event store.
import { Counter, Gauge, Registry } from 'prom-client';
import { comparePositions, positionFromString, positionToString, START, type EventStore, type Position, type RecordedEvent } from '../infra/eventstore/port';
import type { Logger } from '../infra/logger';
import type { PgPool } from '../infra/postgres/pool';
import {
  DEFAULT_READMODELS_SCHEMA,
  leaseClient,
  leaseLockKey,
  migrateStore,
  migrationLockKey,
  quoteSchema,
  readCheckpoint,
  type LeasedClient,
  type SqlClient,
} from './store';

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
}

export type RunnerPhase = 'idle' | 'standby' | 'running' | 'retrying' | 'stopped';

export interface ReadModelStatus {
  readModel: string;
  phase: RunnerPhase;
  /** "commit/prepare" of the last event whose effects are committed. */
  checkpoint: string;
  /** When the event at the checkpoint was recorded. */
  lastEventAt: Date | null;
  parked: number;
  /** Events in $all after the checkpoint, counted up to LAG_COUNT_CAP. */
  lagEvents: number;
  /** Age of the oldest event not yet projected; 0 when caught up. */
  lagMs: number;
}

export interface ProjectionRunnerOptions {
  eventStore: EventStore;
  /** The read models' database; the runner holds one connection per read model and does not end the pool. */
  pool: PgPool;
  readModels: readonly ReadModel[];
  /** Schema of the tables and checkpoints; tests use one of their own. */
  schema?: string;
  logger: Logger;
  /** Where the lag gauges and counters are registered (the process serves it at /metrics). */
  registry?: Registry;
  /** Most events applied in one transaction. */
  batchSize?: number;
  /** Events read ahead of the applier before the subscription is paused. */
  maxBufferedEvents?: number;
  /** How often lag is measured, exported and logged at debug. */
  lagIntervalMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  /** How often a standby runner tries to take over a read model another process runs. */
  leaseRetryMs?: number;
}

/** Lag counting reads the pending events; beyond this many it reports this many (the age says the rest). */
export const LAG_COUNT_CAP = 1000;

const NAME = /^[a-z][a-z0-9_]{0,62}$/;

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

interface Metrics {
  lagEvents: Gauge<'read_model'>;
  lagSeconds: Gauge<'read_model'>;
  applied: Counter<'read_model'>;
  parked: Counter<'read_model'>;
}

function metricsOn(registry: Registry): Metrics {
  // Get-or-create: several runners (tests, a rebuild beside a live runner) may share one registry.
  const gauge = (name: string, help: string) =>
    (registry.getSingleMetric(name) as Gauge<'read_model'> | undefined) ?? new Gauge({ name, help, labelNames: ['read_model'], registers: [registry] });
  const counter = (name: string, help: string) =>
    (registry.getSingleMetric(name) as Counter<'read_model'> | undefined) ?? new Counter({ name, help, labelNames: ['read_model'], registers: [registry] });
  return {
    lagEvents: gauge('reelforge_projection_lag_events', `Events in $all after the read model's checkpoint (capped at ${LAG_COUNT_CAP})`),
    lagSeconds: gauge('reelforge_projection_lag_seconds', 'Age of the oldest event the read model has not projected yet; 0 when caught up'),
    applied: counter('reelforge_projection_events_applied_total', 'Events applied to the read model'),
    parked: counter('reelforge_projection_events_parked_total', 'Poison events parked by the read model'),
  };
}

/**
 * A read model's checkpoint and the transactions that move it; shared by the live runner and rebuild(), so both fold
 * events through exactly the same code.
 */
class Projection {
  parkedCount = 0;

  constructor(
    readonly model: ReadModel,
    private readonly schema: string,
    public checkpoint: Position,
    public lastEventAt: Date | null,
    private readonly logger: Logger,
    private readonly metrics: Metrics | undefined,
    private readonly onAdvance: () => void = () => undefined,
  ) {}

  /** Applies a batch in one transaction with its checkpoint; on a poison event, replays it one event per transaction. */
  async commit(client: SqlClient, events: readonly RecordedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const last = events[events.length - 1]!;
    let applied = 0;
    try {
      await client.query('BEGIN');
      for (const event of events) {
        if (await this.applyOne(client, event)) applied++;
      }
      await this.writeCheckpoint(client, last);
      await client.query('COMMIT');
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
      await this.writeCheckpoint(client, event);
      await client.query('COMMIT');
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
      await this.writeCheckpoint(client, event);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    this.parkedCount++;
    this.metrics?.parked.inc({ read_model: this.model.name });
    this.logger.error(
      { readModel: this.model.name, position, eventId: event.id, stream: event.streamName, type: event.type, revision: event.revision.toString(), err: cause },
      `poison event parked by read model ${this.model.name}: ${(cause as Error)?.message ?? String(cause)}`,
    );
    this.advance(event, 0);
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
  private async writeCheckpoint(client: SqlClient, event: RecordedEvent): Promise<void> {
    const expected = positionToString(this.checkpoint);
    const res = await client.query(
      `UPDATE ${quoteSchema(this.schema)}.projection_checkpoints
       SET position = $2, last_event_at = $3, updated_at = now()
       WHERE read_model = $1 AND position = $4`,
      [this.model.name, positionToString(event.position), event.created, expected],
    );
    if (res.rowCount !== 1) throw new CheckpointMoved(this.model.name, expected);
  }

  private advance(event: RecordedEvent, applied: number): void {
    this.checkpoint = event.position;
    this.lastEventAt = event.created;
    if (applied > 0) this.metrics?.applied.inc({ read_model: this.model.name }, applied);
    this.onAdvance();
  }
}

/** Drops a read model's tables and parked events and sets its checkpoint to the start; inside the caller's transaction. */
async function resetReadModel(client: SqlClient, model: ReadModel, schema: string): Promise<void> {
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
async function prepareReadModel(client: SqlClient, model: ReadModel, schema: string, logger: Logger): Promise<{ position: Position; lastEventAt: Date | null; parked: number }> {
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

async function tryLease(client: SqlClient, schema: string, readModel: string): Promise<boolean> {
  const res = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [leaseLockKey(schema, readModel)]);
  return res.rows[0]!.locked;
}

/** Events from the subscription, buffered ahead of the applier up to a high-water mark (the pump then waits). */
class EventQueue {
  private items: RecordedEvent[] = [];
  private ended = false;
  private error: unknown;
  private wakeTaker: (() => void) | undefined;
  private wakePump: (() => void) | undefined;

  constructor(private readonly highWater: number) {}

  push(event: RecordedEvent): boolean {
    if (this.ended) return false;
    this.items.push(event);
    this.wakeTaker?.();
    return true;
  }

  async room(): Promise<void> {
    while (!this.ended && this.items.length >= this.highWater) {
      await new Promise<void>((resolve) => (this.wakePump = resolve));
    }
  }

  /** Up to `max` events, waiting for at least one; null once ended. */
  async take(max: number): Promise<RecordedEvent[] | null> {
    while (!this.ended && this.items.length === 0) {
      await new Promise<void>((resolve) => (this.wakeTaker = resolve));
    }
    // One turn of the event loop lets the subscription hand over the rest of the page it already holds, so a batch
    // is "what arrived", not just the first event of it.
    if (!this.ended && this.items.length < max) await new Promise((resolve) => setImmediate(resolve));
    if (this.error !== undefined) throw this.error;
    if (this.ended) return null;
    const batch = this.items.splice(0, max);
    this.wakePump?.();
    return batch;
  }

  end(): void {
    this.ended = true;
    this.wakeTaker?.();
    this.wakePump?.();
  }

  fail(err: unknown): void {
    this.error = err ?? new Error('subscription failed');
    this.end();
  }
}

interface Waiter {
  position: Position;
  resolve: () => void;
}

/** One read model's loop: lease, prepare, subscribe from the checkpoint, commit batches; on failure, back off and redo. */
class ReadModelWorker {
  phase: RunnerPhase = 'idle';
  private projection: Projection | undefined;
  private storedCheckpoint: Position = START;
  private storedLastEventAt: Date | null = null;
  private storedParked = 0;
  private stopping = false;
  private queue: EventQueue | undefined;
  private wakeSleep: (() => void) | undefined;
  private waiters = new Set<Waiter>();
  private lagTimer: NodeJS.Timeout | undefined;
  private lag = { events: 0, ms: 0 };
  private done: Promise<void> | undefined;
  private readonly logger: Logger;

  constructor(
    private readonly model: ReadModel,
    private readonly options: Required<Omit<ProjectionRunnerOptions, 'registry' | 'readModels'>>,
    private readonly metrics: Metrics,
  ) {
    this.logger = options.logger.child({ readModel: model.name });
  }

  start(): void {
    this.done = this.run();
    this.lagTimer = setInterval(() => {
      this.measureLag()
        .then(() => this.logger.debug({ lagEvents: this.lag.events, lagMs: this.lag.ms, checkpoint: positionToString(this.checkpoint) }, 'projection lag'))
        .catch((err: unknown) => this.logger.debug({ err }, 'lag not measured'));
    }, this.options.lagIntervalMs);
    this.lagTimer.unref();
  }

  get checkpoint(): Position {
    return this.projection?.checkpoint ?? this.storedCheckpoint;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.lagTimer);
    this.queue?.end();
    this.wakeSleep?.();
    await this.done;
    this.phase = 'stopped';
  }

  /** A promise of the checkpoint reaching `position`, and how to stop waiting. */
  waitFor(position: Position): { reached: Promise<void>; cancel: () => void } {
    if (comparePositions(this.checkpoint, position) >= 0) return { reached: Promise.resolve(), cancel: () => undefined };
    let waiter: Waiter | undefined;
    const reached = new Promise<void>((resolve) => {
      waiter = { position, resolve };
      this.waiters.add(waiter);
    });
    return { reached, cancel: () => this.waiters.delete(waiter!) };
  }

  async status(): Promise<ReadModelStatus> {
    await this.measureLag().catch((err: unknown) => this.logger.debug({ err }, 'lag not measured'));
    return {
      readModel: this.model.name,
      phase: this.phase,
      checkpoint: positionToString(this.checkpoint),
      lastEventAt: this.projection?.lastEventAt ?? this.storedLastEventAt,
      parked: this.projection?.parkedCount ?? this.storedParked,
      lagEvents: this.lag.events,
      lagMs: this.lag.ms,
    };
  }

  private async measureLag(): Promise<void> {
    if (!this.projection) {
      // Standing by or between attempts: the committed checkpoint (maybe another process's) is the truth, not ours.
      const stored = await readCheckpoint(this.options.pool, this.options.schema, this.model.name).catch(() => undefined);
      if (stored) {
        this.storedCheckpoint = positionFromString(stored.position);
        this.storedLastEventAt = stored.lastEventAt;
      }
    }
    const from = this.checkpoint;
    const pending = await this.options.eventStore.readAll({ fromPosition: from, maxCount: LAG_COUNT_CAP });
    const oldest = pending[0];
    this.lag = { events: pending.length, ms: oldest ? Math.max(0, Date.now() - oldest.created.getTime()) : 0 };
    this.metrics.lagEvents.set({ read_model: this.model.name }, this.lag.events);
    this.metrics.lagSeconds.set({ read_model: this.model.name }, this.lag.ms / 1000);
  }

  private onAdvance(): void {
    const at = this.checkpoint;
    for (const w of this.waiters) {
      if (comparePositions(at, w.position) >= 0) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  private async run(): Promise<void> {
    let delayMs = this.options.retryMinMs;
    while (!this.stopping) {
      let client: LeasedClient | undefined;
      let connectionError: Error | undefined;
      try {
        client = await leaseClient(this.options.pool);
        // A checked-out connection that dies emits 'error' on the client; unheard, that would crash the process.
        client.on('error', (err) => (connectionError = err));
        if (!(await this.acquireLease(client))) break;
        const stored = await prepareReadModel(client, this.model, this.options.schema, this.logger);
        this.storedCheckpoint = stored.position;
        this.storedLastEventAt = stored.lastEventAt;
        this.storedParked = stored.parked;
        this.projection = new Projection(this.model, this.options.schema, stored.position, stored.lastEventAt, this.logger, this.metrics, () => {
          delayMs = this.options.retryMinMs;
          this.onAdvance();
        });
        this.projection.parkedCount = stored.parked;
        // A checkpoint committed before a retry (or by another runner) may already be past what someone waits for.
        this.onAdvance();
        this.phase = 'running';
        this.logger.info({ checkpoint: positionToString(stored.position), parked: stored.parked }, 'read model subscribed');
        await this.consume(client, this.projection);
      } catch (err) {
        if (this.stopping) break;
        this.phase = 'retrying';
        this.logger.warn({ err, connectionError, retryInMs: delayMs }, 'read model interrupted; resuming from its committed checkpoint');
        await this.sleep(delayMs);
        delayMs = Math.min(delayMs * 2, this.options.retryMaxMs);
      } finally {
        if (this.projection) {
          this.storedCheckpoint = this.projection.checkpoint;
          this.storedLastEventAt = this.projection.lastEventAt;
          this.storedParked = this.projection.parkedCount;
          this.projection = undefined;
        }
        // Destroyed rather than returned to the pool: that ends the session, and with it the lease lock.
        client?.release(true);
      }
    }
  }

  private async acquireLease(client: SqlClient): Promise<boolean> {
    let logged = false;
    while (!this.stopping) {
      if (await tryLease(client, this.options.schema, this.model.name)) return true;
      if (!logged) this.logger.info('another projector runs this read model; standing by');
      logged = true;
      this.phase = 'standby';
      await this.sleep(this.options.leaseRetryMs);
    }
    return false;
  }

  private async consume(client: SqlClient, projection: Projection): Promise<void> {
    const queue = new EventQueue(this.options.maxBufferedEvents);
    this.queue = queue;
    if (this.stopping) return;
    const subscription = this.options.eventStore.subscribeToAll({ fromPosition: projection.checkpoint });
    const pump = (async () => {
      try {
        for await (const event of subscription) {
          if (!queue.push(event)) break;
          await queue.room();
        }
        queue.end();
      } catch (err) {
        queue.fail(err);
      }
    })();
    try {
      for (;;) {
        const batch = await queue.take(this.options.batchSize);
        if (!batch) break;
        await projection.commit(client, batch);
      }
      if (!this.stopping) throw new Error('the subscription ended');
    } finally {
      queue.end();
      await subscription.close();
      await pump;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeSleep = done;
    });
  }
}

/** Runs read models side by side: one subscription, connection and loop each, so one read model's trouble stops only it. */
export class ProjectionRunner {
  private readonly workers = new Map<string, ReadModelWorker>();
  private readonly options: Required<Omit<ProjectionRunnerOptions, 'registry' | 'readModels'>>;
  private readonly metrics: Metrics;
  private started = false;
  private stopped = false;

  constructor(options: ProjectionRunnerOptions) {
    this.options = {
      eventStore: options.eventStore,
      pool: options.pool,
      schema: options.schema ?? DEFAULT_READMODELS_SCHEMA,
      logger: options.logger,
      batchSize: options.batchSize ?? 100,
      maxBufferedEvents: options.maxBufferedEvents ?? 1000,
      lagIntervalMs: options.lagIntervalMs ?? 5000,
      retryMinMs: options.retryMinMs ?? 500,
      retryMaxMs: options.retryMaxMs ?? 30000,
      leaseRetryMs: options.leaseRetryMs ?? 2000,
    };
    quoteSchema(this.options.schema);
    this.metrics = metricsOn(options.registry ?? new Registry());
    for (const model of options.readModels) {
      if (!NAME.test(model.name)) throw new Error(`invalid read model name ${JSON.stringify(model.name)}`);
      if (this.workers.has(model.name)) throw new Error(`read model ${model.name} is given twice`);
      this.workers.set(model.name, new ReadModelWorker(model, this.options, this.metrics));
    }
  }

  get schema(): string {
    return this.options.schema;
  }

  /** Creates the schema and the runner's tables, then starts every read model's loop (each takes its lease first). */
  async start(): Promise<void> {
    if (this.started) throw new Error('the projection runner was already started');
    this.started = true;
    await migrateStore(this.options.pool, this.options.schema);
    if (this.stopped) return;
    for (const worker of this.workers.values()) worker.start();
  }

  /** Lets each read model finish the batch it is committing, then closes its subscription and connection. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
  }

  /** Checkpoint, parked count and lag of each read model (measured now). */
  async status(): Promise<ReadModelStatus[]> {
    return Promise.all([...this.workers.values()].map((w) => w.status()));
  }

  /**
   * Resolves once the read model (by default every one) has committed everything up to `position`, e.g. the position
   * an append returned: read-your-writes for whoever appended. Rejects after `timeoutMs`.
   */
  async waitFor(position: Position, options: { readModel?: string; timeoutMs?: number } = {}): Promise<void> {
    const workers = options.readModel ? [this.worker(options.readModel)] : [...this.workers.values()];
    const timeoutMs = options.timeoutMs ?? 30000;
    await Promise.all(
      workers.map(async (worker) => {
        const wait = worker.waitFor(position);
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`read model did not reach ${positionToString(position)} within ${timeoutMs} ms (it is at ${positionToString(worker.checkpoint)})`)),
            timeoutMs,
          );
        });
        try {
          await Promise.race([wait.reached, timeout]);
        } finally {
          clearTimeout(timer);
          wait.cancel();
        }
      }),
    );
  }

  private worker(name: string): ReadModelWorker {
    const worker = this.workers.get(name);
    if (!worker) throw new Error(`no read model named ${name} in this runner`);
    return worker;
  }
}

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
