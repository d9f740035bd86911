// What the projection tests share: per test, an event store in a schema of its own (so its read models start from an
// empty $all) and a pool whose connections carry an application name (so a test can find and kill them); runners that
// are stopped after each test, gates a test holds read models with (opened even when it fails), and every schema
// dropped after the file.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { VideoEvent } from '../../domain/video';
import type { Position } from '../../infra/eventstore/port';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { createLogger, type Logger } from '../../infra/logger';
import { createPgPool, type PgPool } from '../../infra/postgres/pool';
import type { ReadModel } from '../../projections/projection';
import { ProjectionRunner } from '../../projections/runner';
import { testEnv } from './env';

export interface ProjectionTestState {
  store: PgEventStore;
  /** The event store's schema. */
  esSchema: string;
  pool: PgPool;
  /** The pool's application_name in pg_stat_activity. */
  appName: string;
}

export interface ProjectionHarness {
  /** This test's store, pool and names (set before each test). */
  current(): ProjectionTestState;
  /** A schema name of this file's, dropped after it. */
  freshSchema(kind: string): string;
  /** A runner on this test's store and pool, stopped after the test. */
  runner(options: {
    schema: string;
    readModels: ReadModel[];
    logger?: Logger;
    lagIntervalMs?: number;
    leaseRetryMs?: number;
    registry?: ConstructorParameters<typeof ProjectionRunner>[0]['registry'];
  }): ProjectionRunner;
  /** Releases of read models a test holds mid-transaction: opened after the test, so its runners can stop. */
  gates: (() => void)[];
  /** Appends a video's events to this test's store; the position of the last. */
  appendVideo(videoId: string, events: VideoEvent[], metadata?: Record<string, unknown>): Promise<Position>;
}

/** Registers the hooks; `name` goes into schema and application names, `poolMax` sizes each test's pool. */
export function useProjectionHarness(name: string, options: { poolMax: number }): ProjectionHarness {
  const silent = createLogger({ level: 'silent', name: `${name}-test` });
  const suffix = randomUUID().replace(/-/g, '').slice(0, 10);
  let count = 0;
  const schemas: string[] = [];
  const runners: ProjectionRunner[] = [];
  const gates: (() => void)[] = [];
  let state: ProjectionTestState | undefined;

  const freshSchema = (kind: string): string => {
    const schema = `${kind}_${name}_${suffix}_${++count}`;
    schemas.push(schema);
    return schema;
  };

  beforeEach(async () => {
    const esSchema = freshSchema('es');
    const store = await PgEventStore.open({ connectionString: testEnv.embeddedPgUrl, schema: esSchema, maxEventBytes: 1024 * 1024, pollIntervalMs: 50 });
    const appName = `rf_${name}_${suffix}_${count}`;
    const url = new URL(testEnv.embeddedPgUrl);
    url.searchParams.set('application_name', appName);
    state = { store, esSchema, pool: createPgPool({ connectionString: url.toString(), max: options.poolMax }), appName };
  });
  afterEach(async () => {
    for (const open of gates.splice(0)) open();
    await Promise.all(runners.splice(0).map((r) => r.stop()));
    await state?.store.close();
    await state?.pool.end();
  });
  afterAll(async () => {
    const client = new pg.Client({ connectionString: testEnv.embeddedPgUrl });
    await client.connect();
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await client.end();
  });

  const current = (): ProjectionTestState => {
    if (!state) throw new Error('the projection harness is used outside a test');
    return state;
  };
  return {
    current,
    freshSchema,
    gates,
    runner(runnerOptions) {
      const { store, pool } = current();
      const r = new ProjectionRunner({ eventStore: store, pool, logger: silent, retryMinMs: 50, ...runnerOptions });
      runners.push(r);
      return r;
    },
    async appendVideo(videoId, events, metadata) {
      const result = await current().store.appendToStream(
        `video-${videoId}`,
        events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, ...(metadata ? { metadata } : {}) })),
      );
      return result.position;
    },
  };
}
