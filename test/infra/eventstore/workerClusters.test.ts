// Why each jest worker gets a PostgreSQL cluster of its own (test/support/workerPostgres.ts): a transaction open
// anywhere in a cluster holds back $all for every event store in it, whatever its schema or database. Test files that
// run at the same time on one cluster would hold back each other's projections and reads.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PgEventStore } from '../../../infra/eventstore/postgres';
import { testEnv } from '../../support/env';
import { dropSchemas, schemaName } from '../../support/schemas';
import { workerPgUrlVariable } from '../../support/workerPostgres';

/** The worker clusters globalSetup started, by worker id. */
function workerClusters(): { id: number; url: string }[] {
  const clusters: { id: number; url: string }[] = [];
  for (let id = 1; process.env[workerPgUrlVariable(id)]; id++) clusters.push({ id, url: process.env[workerPgUrlVariable(id)]! });
  return clusters;
}

/** A connection inside a transaction that has taken a transaction id, as a test holding a row lock would. */
async function openTransaction(url: string): Promise<{ end(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT pg_current_xact_id()');
  return {
    async end() {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

describe('event store $all and the PostgreSQL cluster', () => {
  let store: PgEventStore;
  let schema: string;

  beforeAll(async () => {
    schema = schemaName('clusters');
    store = await PgEventStore.open({ connectionString: testEnv.embeddedPgUrl, schema, maxEventBytes: 1024 * 1024 });
  });
  afterAll(async () => {
    await store?.close();
    await dropSchemas(schema);
  });

  /** Whether an event appended now shows in $all at once. */
  async function appendShowsAtOnce(): Promise<boolean> {
    const id = randomUUID();
    await store.appendToStream(`video-video_${randomUUID().replace(/-/g, '')}`, [{ id, type: 'SomethingHappened', data: {} }]);
    return (await store.readAll({ maxCount: 10_000 })).some((e) => e.id === id);
  }

  it('a transaction open in another database of the same cluster holds back $all until it ends', async () => {
    const url = new URL(testEnv.embeddedPgUrl);
    url.pathname = '/postgres';
    const other = await openTransaction(url.toString());
    let shown: boolean;
    try {
      shown = await appendShowsAtOnce();
    } finally {
      await other.end();
    }
    expect(shown).toBe(false);
    expect(await appendShowsAtOnce()).toBe(true);
  });

  it("gives every jest worker a cluster of its own, so another worker's open transaction holds nothing back here", async () => {
    const clusters = workerClusters();
    expect(clusters.length).toBeGreaterThanOrEqual(1);
    expect(clusters.map((c) => c.url)).toContain(testEnv.embeddedPgUrl);
    expect(new Set(clusters.map((c) => new URL(c.url).port)).size).toBe(clusters.length);
    const others = await Promise.all(clusters.filter((c) => c.url !== testEnv.embeddedPgUrl).map((c) => openTransaction(c.url)));
    try {
      expect(await appendShowsAtOnce()).toBe(true);
    } finally {
      await Promise.all(others.map((o) => o.end()));
    }
  });
});
