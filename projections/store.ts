// The read models' SQL home: one schema (default `readmodels`) holding every read model's tables beside the
// runner's own bookkeeping, projection_checkpoints and projection_parked, so rows and checkpoints share transactions.
import type { PgPool } from '../infra/postgres/pool';
import { migrate, quoteSchemaName } from '../infra/postgres/migrations';

export const DEFAULT_READMODELS_SCHEMA = 'readmodels';

/** What a read model needs of a connection: `pg`'s Client, PoolClient and Pool all fit, and nothing else of the driver leaks in. */
export interface SqlClient {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's own signature (QueryResultRow, default any), so its clients fit
  query<R extends Record<string, any> = any>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** A connection taken out of the pool for a long while (a runner's lease and its transactions). */
export interface LeasedClient extends SqlClient {
  release(destroy?: Error | boolean): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export function leaseClient(pool: PgPool): Promise<LeasedClient> {
  return pool.connect();
}

/** A schema name as a quoted identifier; anything but a plain lower-case name is refused, so it can be spliced into SQL. */
export const quoteSchema = (name: string): string => quoteSchemaName(name, 'read models schema');

function migrations(s: string): string[] {
  return [
    `CREATE TABLE ${s}.projection_checkpoints (
       read_model text PRIMARY KEY,
       -- The read model's version its tables were built by; another version in the code rebuilds them from zero.
       version int NOT NULL,
       -- "commit/prepare" (positionToString): the last event of $all whose effects are in the read model's rows.
       position text NOT NULL,
       last_event_at timestamptz,
       updated_at timestamptz NOT NULL DEFAULT now()
     );
     CREATE TABLE ${s}.projection_parked (
       read_model text NOT NULL,
       position text NOT NULL,
       event_id text NOT NULL,
       stream text NOT NULL,
       type text NOT NULL,
       revision bigint NOT NULL,
       error text NOT NULL,
       parked_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (read_model, position)
     );`,
  ];
}

/** Creates the schema and the runner's tables; safe to run from several processes at once. */
export async function migrateStore(pool: PgPool, schema: string): Promise<void> {
  const s = quoteSchema(schema);
  await migrate(pool, { schema: s, table: 'schema_migrations', lockKey: migrationLockKey(schema), statements: migrations(s) });
}

/** Serializes schema changes (the runner's tables, a read model's tables) of one schema across processes. */
export function migrationLockKey(schema: string): string {
  return `reelforge-readmodels-migrate:${schema}`;
}

/** The session lock that makes one runner the active one for a read model (DESIGN: "one active per read model"). */
export function leaseLockKey(schema: string, readModel: string): string {
  return `reelforge-projection:${schema}.${readModel}`;
}

export interface StoredCheckpoint {
  version: number;
  position: string;
  lastEventAt: Date | null;
}

/** A read model's committed checkpoint, for processes other than the runner (the API's read-your-writes, readiness). */
export async function readCheckpoint(db: SqlClient, schema: string, readModel: string): Promise<StoredCheckpoint | undefined> {
  const res = await db.query<{ version: number; position: string; last_event_at: Date | null }>(
    `SELECT version, position, last_event_at FROM ${quoteSchema(schema)}.projection_checkpoints WHERE read_model = $1`,
    [readModel],
  );
  const row = res.rows[0];
  return row ? { version: row.version, position: row.position, lastEventAt: row.last_event_at } : undefined;
}

export interface ParkedEvent {
  readModel: string;
  position: string;
  eventId: string;
  stream: string;
  type: string;
  revision: bigint;
  error: string;
  parkedAt: Date;
}

/** The events a read model set aside as poison, oldest first: what an operator inspects before fixing and rebuilding. */
export async function listParked(db: SqlClient, schema: string, readModel: string): Promise<ParkedEvent[]> {
  const res = await db.query<{
    read_model: string;
    position: string;
    event_id: string;
    stream: string;
    type: string;
    revision: string;
    error: string;
    parked_at: Date;
  }>(
    `SELECT read_model, position, event_id, stream, type, revision, error, parked_at
     FROM ${quoteSchema(schema)}.projection_parked WHERE read_model = $1 ORDER BY parked_at, position`,
    [readModel],
  );
  return res.rows.map((r) => ({
    readModel: r.read_model,
    position: r.position,
    eventId: r.event_id,
    stream: r.stream,
    type: r.type,
    revision: BigInt(r.revision),
    error: r.error,
    parkedAt: r.parked_at,
  }));
}
