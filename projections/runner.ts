// The projection runner: one checkpointed $all subscription per read model, each batch of rows committed in the same
// transaction as the checkpoint that covers it; poison events parked per read model; lag measured and exported.
//
// The parts: projection.ts (a read model, its checkpoint and the transactions that move it, with the one-transaction
// invariant), worker.ts (one read model's lease, subscription and retry loop), metrics.ts (lag and counters) and
// rebuild.ts (a read model folded again from position zero); this file runs the read models side by side.
import { Registry } from 'prom-client';
import { positionToString, type EventStore, type Position } from '../infra/eventstore/port';
import type { Logger } from '../infra/logger';
import type { PgPool } from '../infra/postgres/pool';
import { metricsOn, type Metrics } from './metrics';
import { NAME, type ReadModel } from './projection';
import { DEFAULT_READMODELS_SCHEMA, migrateStore, quoteSchema } from './store';
import { ReadModelWorker, type WorkerOptions } from './worker';

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

/** Runs read models side by side: one subscription, connection and loop each, so one read model's trouble stops only it. */
export class ProjectionRunner {
  private readonly workers = new Map<string, ReadModelWorker>();
  private readonly options: WorkerOptions;
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
            () =>
              reject(
                new Error(`read model did not reach ${positionToString(position)} within ${timeoutMs} ms (it is at ${positionToString(worker.checkpoint)})`),
              ),
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
