// The event store contract against the embedded PostgreSQL (always) and the machine's PostgreSQL (DATABASE_URL); and
// what only the PostgreSQL store does: subscriptions at one position share their reads of $all.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { comparePositions, type RecordedEvent } from '../../../infra/eventstore/port';
import { PgEventStore } from '../../../infra/eventstore/postgres';
import { testEnv } from '../../support/env';
import { CONTRACT_MAX_EVENT_BYTES, eventStoreContract, type OpenTarget } from './contract';

/** Each run gets a schema of its own, dropped afterwards, so runs never see each other's rows. */
function pgTarget(url: () => string): OpenTarget {
  return async () => {
    const schema = `es_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const store = await PgEventStore.open({ connectionString: url(), schema, maxEventBytes: CONTRACT_MAX_EVENT_BYTES, poolSize: 20 });
    return {
      store,
      maxEventBytes: CONTRACT_MAX_EVENT_BYTES,
      cleanup: async () => {
        await store.close();
        const client = new pg.Client({ connectionString: url() });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      },
    };
  };
}

eventStoreContract(
  'embedded PostgreSQL',
  pgTarget(() => testEnv.embeddedPgUrl),
);

const external = testEnv.externalPgUrl;
if (external) {
  eventStoreContract(
    `PostgreSQL at DATABASE_URL`,
    pgTarget(() => external),
  );
} else if (testEnv.ci) {
  test('DATABASE_URL is set in CI', () => {
    throw new Error('CI=true but DATABASE_URL is not set: .ci/run must point the suite at the machine PostgreSQL');
  });
} else {
  process.stderr.write('[contract] DATABASE_URL is not set: the contract suite was not run against an external PostgreSQL\n');
}

describe('PostgreSQL event store subscriptions', () => {
  it('shares one read of $all among subscriptions at one position, each still getting every event once, in order', async () => {
    const schema = `es_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const url = testEnv.embeddedPgUrl;
    const writer = await PgEventStore.open({ connectionString: url, schema, maxEventBytes: CONTRACT_MAX_EVENT_BYTES });
    // The readers' store is another instance, woken by NOTIFY, as a projector process is.
    const reader = await PgEventStore.open({ connectionString: url, schema, maxEventBytes: CONTRACT_MAX_EVENT_BYTES });
    try {
      await writer.appendToStream('warm-0', [{ id: randomUUID(), type: 'Warm', data: {} }]);
      const from = (await writer.readAll()).at(-1)!.position;
      const reads = jest.spyOn(reader, 'readAllPage');
      const subscribers = 7;
      const received: RecordedEvent[][] = Array.from({ length: subscribers }, () => []);
      const subs = received.map((into) => {
        const sub = reader.subscribeToAll({ fromPosition: from });
        void (async () => {
          for await (const e of sub) into.push(e);
        })();
        return sub;
      });
      const until = async (count: number) => {
        const deadline = Date.now() + 30000;
        while (received.some((r) => r.length < count)) {
          if (Date.now() > deadline) throw new Error(`subscribers got ${received.map((r) => r.length).join(', ')} of ${count} events`);
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      };
      // One append at a time, each delivered to all before the next: each wakes the seven at one position.
      const appends = 40;
      for (let i = 0; i < appends; i++) {
        await writer.appendToStream(`shared-${i % 5}`, [{ id: randomUUID(), type: 'Shared', data: { i } }]);
        await until(i + 1);
      }
      // Unshared, that is at least one read per subscriber per append (280); shared, about one per append.
      expect(reads.mock.calls.length).toBeLessThan(2 * appends);

      // Then 10 concurrent writers: every event to every subscriber once, in the order of $all.
      await Promise.all(
        Array.from({ length: 10 }, async (_, w) => {
          for (let k = 0; k < 20; k++) await writer.appendToStream(`burst-${w}`, [{ id: randomUUID(), type: 'Burst', data: { w, k } }]);
        }),
      );
      await until(appends + 200);
      const all = (await writer.readAll({ fromPosition: from })).map((e) => e.id);
      for (const r of received) expect(r.map((e) => e.id)).toEqual(all);
      for (const r of received) for (let i = 1; i < r.length; i++) expect(comparePositions(r[i - 1]!.position, r[i]!.position)).toBe(-1);
      await Promise.all(subs.map((sub) => sub.close()));
    } finally {
      await reader.close();
      await writer.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  }, 60000);
});
