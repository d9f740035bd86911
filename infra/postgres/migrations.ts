// Versioned schema migrations, shared by every store that keeps tables in PostgreSQL (event store, users,
// idempotency keys, read models). Runs inside the caller's transaction, under an advisory lock, so several
// processes starting at once against one database migrate once: the others wait and find it done.

/**
 * A schema name as a quoted identifier: lower-case letters, digits and "_", at most 63 characters (PostgreSQL's
 * limit), so it can be spliced into SQL. `what` names it in the error ("users schema"); `error` builds the error a
 * store throws for bad configuration.
 */
export function quoteSchemaName(name: string, what: string, error: (message: string) => Error = (m) => new Error(m)): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw error(`invalid ${what} name ${JSON.stringify(name)}`);
  return `"${name}"`;
}

export interface SqlRunner {
  query<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

export interface MigrationSet {
  /** The schema, already quoted as an identifier. */
  schema: string;
  /** The bookkeeping table inside the schema; stores sharing a schema each keep their own. */
  table: string;
  /** Names the advisory lock; the same key serializes the same store's starts. */
  lockKey: string;
  /** Migration n (from 1) is `statements[n - 1]`; applied ones are never run again, so only ever append. */
  statements: string[];
  onApplied?(version: number): void;
}

/**
 * `apply`: a store applies the migrations it lacks when it opens (one process at a time, under the advisory lock).
 * `verify` (SCHEMA_MIGRATIONS=verify, for fleets): it only checks that they are all applied, and a store whose schema is
 * behind refuses to open with SchemaNotMigrated; the migrate job (`npm run migrate`) applies them, once.
 */
export type SchemaMigrations = 'apply' | 'verify';
let schemaMigrations: SchemaMigrations = 'apply';

/** Sets how this process treats pending migrations (each role's entry point, from SCHEMA_MIGRATIONS). */
export function setSchemaMigrations(mode: SchemaMigrations): void {
  schemaMigrations = mode;
}

/** A store opened with SCHEMA_MIGRATIONS=verify found its schema behind this build. */
export class SchemaNotMigrated extends Error {
  constructor(schema: string, table: string, applied: number, needed: number) {
    super(
      `schema ${schema} is at migration ${applied} of ${table}, this build needs ${needed}: run the migrate job first ` +
        '(`npm run migrate`, or the container image with the command `migrate`), or set SCHEMA_MIGRATIONS=apply',
    );
    this.name = 'SchemaNotMigrated';
  }
}

export async function applyMigrations(client: SqlRunner, set: MigrationSet): Promise<void> {
  if (schemaMigrations === 'verify') return verifyMigrations(client, set);
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [set.lockKey]);
  // Stores of different processes may share a schema (users and webhook endpoints in `app`): CREATE SCHEMA IF NOT
  // EXISTS races between them (a unique violation), so creating it is serialized on the schema's name too.
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`reelforge-schema:${set.schema}`]);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${set.schema}`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${set.schema}.${set.table} (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
  const done = await client.query<{ version: number }>(`SELECT version FROM ${set.schema}.${set.table}`);
  const applied = new Set(done.rows.map((r) => r.version));
  for (let v = 1; v <= set.statements.length; v++) {
    if (applied.has(v)) continue;
    await client.query(set.statements[v - 1]!);
    await client.query(`INSERT INTO ${set.schema}.${set.table} (version) VALUES ($1)`, [v]);
    set.onApplied?.(v);
  }
}

/** SCHEMA_MIGRATIONS=verify: every migration of `set` is applied already, or SchemaNotMigrated. Changes nothing. */
async function verifyMigrations(client: SqlRunner, set: MigrationSet): Promise<void> {
  const table = `${set.schema}.${set.table}`;
  const exists = await client.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [table]);
  const applied = exists.rows[0]?.found ? (await client.query<{ version: number }>(`SELECT version FROM ${table}`)).rows.map((r) => r.version) : [];
  const have = new Set(applied);
  for (let v = 1; v <= set.statements.length; v++) {
    if (!have.has(v)) throw new SchemaNotMigrated(set.schema, set.table, v - 1, set.statements.length);
  }
}

/** What migrate() needs of a pool: `pg`'s Pool fits. */
export interface MigrationPool {
  connect(): Promise<SqlRunner & { release(): void }>;
}

/** applyMigrations in a transaction of its own on a connection from `pool`: what a store runs when it opens. */
export async function migrate(pool: MigrationPool, set: MigrationSet): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await applyMigrations(client, set);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
