// The migrate job (`npm run migrate`, the image's `migrate` command) and SCHEMA_MIGRATIONS=verify: a fleet's roles
// check the schemas and refuse to start on one that is behind; the job applies them once; `migrate --wait` (the
// Kubernetes roles' init container) waits for it. Real PostgreSQL: this jest worker's embedded server, a schema of
// the test's own.
import crypto from 'node:crypto';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { SchemaNotMigrated, setSchemaMigrations } from '../../infra/postgres/migrations';
import { runScript } from '../support/processes';
import { testEnv } from '../support/env';

const schema = () => `migrate_${crypto.randomBytes(4).toString('hex')}`;
const migrateCli = (args: string[], eventStoreSchema: string) =>
  runScript('scripts/migrate.ts', args, {
    DATABASE_URL: testEnv.embeddedPgUrl,
    EVENTSTORE_URL: undefined,
    EVENTSTORE_SCHEMA: eventStoreSchema,
    LOG_LEVEL: 'warn',
  });

async function openVerified(eventStoreSchema: string): Promise<PgEventStore> {
  setSchemaMigrations('verify');
  try {
    return await PgEventStore.open({ connectionString: testEnv.embeddedPgUrl, schema: eventStoreSchema, maxEventBytes: 1024 * 1024 });
  } finally {
    setSchemaMigrations('apply');
  }
}

describe('migrate and SCHEMA_MIGRATIONS=verify', () => {
  it('a role in verify mode refuses a schema nobody migrated, naming the migrate job; after the job it opens', async () => {
    const s = schema();
    // Given a schema nobody migrated, when a store opens in verify mode, then it refuses and says what to run.
    await expect(openVerified(s)).rejects.toThrow(SchemaNotMigrated);
    await expect(openVerified(s)).rejects.toThrow(
      new RegExp(`schema "${s}" is at migration 0 of schema_migrations, this build needs \\d+: run the migrate job first`),
    );

    // When the migrate job runs, then it says every schema is current, and the store opens in verify mode.
    const run = await migrateCli([], s);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^migrate: every schema is current \(postgres:\/\/.*, in \d+ ms\)$/m);
    const store = await openVerified(s);
    await store.close();

    // Running it again changes nothing and succeeds.
    expect((await migrateCli([], s)).code).toBe(0);
  }, 60000);

  it('migrate --wait waits for the job and gives up after --timeout, naming what is behind', async () => {
    const s = schema();
    const waited = await migrateCli(['--wait', '--timeout', '2'], s);
    expect(waited.code).toBe(1);
    expect(waited.stderr).toMatch(new RegExp(`schemas still not current after 2 s: schema "${s}" is at migration 0`));

    // While a waiter polls, the job runs: the waiter then returns 0.
    const waiter = migrateCli(['--wait', '--timeout', '60'], s);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await migrateCli([], s)).code).toBe(0);
    const done = await waiter;
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/^migrate: every schema is current \(waited \d+\.\d s\)$/m);
  }, 90000);

  it('refuses a wrong command line with its usage', async () => {
    const bad = await migrateCli(['--wiat'], schema());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Unknown option '--wiat'[\s\S]*usage: npm run migrate \[-- --wait \[--timeout SECONDS\]\]/);
    const timeout = await migrateCli(['--wait', '--timeout', 'soon'], schema());
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toMatch(/--timeout soon: a whole number of seconds/);
  }, 30000);
});
