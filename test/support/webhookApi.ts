// The API with webhook endpoints on the jest run's PostgreSQL and Temporal, in a schema of its own, listening on
// 127.0.0.1, with WEBHOOK_ALLOWED_HOSTS=127.0.0.1 (read as the API process reads it) so the tests' receivers are let in.
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { loadConfig } from '../../infra/config';
import { openEventStore } from '../../infra/eventstore';
import { createPgPool } from '../../infra/postgres/pool';
import { connectTemporalClient } from '../../infra/temporal/connection';
import { openUserStore } from '../../infra/users/store';
import { PgWebhookEndpointStore } from '../../infra/webhooks/store';
import { testEnv } from './env';
import { listen } from './listen';

export async function startWebhookApi(options: { testTimeoutMs?: number } = {}) {
  const schema = `webhooks_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const eventStore = await openEventStore({ url: testEnv.embeddedPgUrl, schema, maxEventBytes: 1024 * 1024 });
  const pool = createPgPool({ connectionString: testEnv.embeddedPgUrl });
  const temporal = connectTemporalClient({ temporalAddress: testEnv.temporalAddress, temporalDevPort: 7233, temporalNamespace: 'default' });
  const users = await openUserStore({ pool, schema });
  const store = await PgWebhookEndpointStore.open({ pool, schema });
  const { webhookAllowedHosts } = loadConfig({ WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' });
  const server = await listen({
    logger: pino({ level: 'silent' }),
    eventStore,
    temporal,
    readModels: pool,
    users,
    webhooks: { store, policy: { allowedHosts: webhookAllowedHosts }, ...(options.testTimeoutMs ? { testTimeoutMs: options.testTimeoutMs } : {}) },
  });
  return {
    url: server.url,
    users,
    stop: async () => {
      await server.app.close();
      await eventStore.close();
      await users.close();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await pool.end();
      await temporal.close();
    },
  };
}
