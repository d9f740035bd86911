// The event store contract against the embedded PostgreSQL (always) and the machine's PostgreSQL (DATABASE_URL).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
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
