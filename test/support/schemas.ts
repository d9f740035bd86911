// Each test file works in PostgreSQL schemas of its own, dropped afterwards, so files never see each other's rows.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { testEnv } from './env';

export function schemaName(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

export async function dropSchemas(...schemas: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: testEnv.embeddedPgUrl });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** An event store on the run's embedded PostgreSQL in a fresh schema; `drop()` closes it and removes the schema. */
export async function freshEventStore(prefix: string): Promise<{ store: PgEventStore; schema: string; drop(): Promise<void> }> {
  const schema = schemaName(prefix);
  const store = await PgEventStore.open({ connectionString: testEnv.embeddedPgUrl, schema, maxEventBytes: 1024 * 1024 });
  return {
    store,
    schema,
    async drop() {
      await store.close();
      await dropSchemas(schema);
    },
  };
}
