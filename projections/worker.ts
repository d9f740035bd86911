// One read model's loop in the live runner: take its lease, bring its tables to its version, subscribe to $all from its
// checkpoint and commit what arrives in batches (through its Projection); on any failure, back off and start again
// from the committed checkpoint.
import { comparePositions, positionFromString, positionToString, START, type Position, type RecordedEvent } from '../infra/eventstore/port';
import type { Logger } from '../infra/logger';
import { LAG_COUNT_CAP, type Metrics } from './metrics';
import { prepareReadModel, Projection, tryLease, type ReadModel } from './projection';
import type { ProjectionRunnerOptions, ReadModelStatus, RunnerPhase } from './runner';
import { leaseClient, readCheckpoint, type LeasedClient, type SqlClient } from './store';

/**
 * How long a read model's checkpoint may run ahead of the stored one over batches it has nothing in (no rows to
 * write): most of a busy store's events are for a few read models, and each of the others would otherwise commit a
 * checkpoint per batch, which costs every read model's lag (the store's subscriptions see an append only once every
 * transaction that began before it has ended).
 */
const CHECKPOINT_DEFER_MS = 1000;
/** How long the events must pause before a checkpoint held in memory is stored. */
const CHECKPOINT_IDLE_MS = 50;

/** The runner's options with their defaults filled in, as each read model's loop reads them. */
export type WorkerOptions = Required<Omit<ProjectionRunnerOptions, 'registry' | 'readModels'>>;

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

  /** Up to `max` events, waiting for at least one (or `idleMs`, then none); null once ended. */
  async take(max: number, idleMs?: number): Promise<RecordedEvent[] | null> {
    while (!this.ended && this.items.length === 0) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await new Promise<boolean>((resolve) => {
        this.wakeTaker = () => resolve(false);
        if (idleMs !== undefined) timer = setTimeout(() => resolve(true), idleMs);
      });
      clearTimeout(timer);
      if (timedOut && !this.ended && this.items.length === 0) return [];
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
export class ReadModelWorker {
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
    private readonly options: WorkerOptions,
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
        this.projection = new Projection(
          this.model,
          this.options.schema,
          stored.position,
          stored.lastEventAt,
          this.logger,
          this.metrics,
          () => {
            delayMs = this.options.retryMinMs;
            this.onAdvance();
          },
          CHECKPOINT_DEFER_MS,
        );
        this.projection.parkedCount = stored.parked;
        // A checkpoint committed before a retry (or by another runner) may already be past what someone waits for.
        this.onAdvance();
        this.phase = 'running';
        this.logger.info({ checkpoint: positionToString(stored.position), parked: stored.parked }, 'read model subscribed');
        await this.consume(client, this.projection);
      } catch (err) {
        if (this.stopping) break;
        this.phase = 'retrying';
        this.metrics.errors.inc({ role: 'projector', kind: 'projection_interrupted' });
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
        // A checkpoint held in memory (batches this read model has nothing in) is stored once the events pause.
        const batch = await queue.take(this.options.batchSize, projection.unsaved ? CHECKPOINT_IDLE_MS : undefined);
        if (!batch) break;
        if (batch.length === 0) await projection.flush(client);
        else await projection.commit(client, batch);
      }
      if (!this.stopping) throw new Error('the subscription ended');
      await projection
        .flush(client)
        .catch((err: unknown) => this.logger.debug({ err }, 'checkpoint not stored on stop; the next start re-reads from the stored one'));
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
