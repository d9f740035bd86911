// The official openai Python SDK against /v1/webhook_endpoints: test/python/test_openai_webhooks.py under pytest in the
// bootstrap's venv, against the API on the jest run's PostgreSQL with WEBHOOK_ALLOWED_HOSTS=127.0.0.1 (the script's
// receiver listens there; nothing is sent anywhere else). Fails with pytest's own report when any of it fails.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../infra/config';
import { openEventStore, type EventStore } from '../../infra/eventstore';
import { createPgPool, type PgPool } from '../../infra/postgres/pool';
import { connectTemporalClient, type TemporalClient } from '../../infra/temporal/connection';
import { PROJECT_ROOT, readTools } from '../../infra/tools';
import type { UserStore } from '../../infra/users/port';
import { openUserStore } from '../../infra/users/store';
import { PgWebhookEndpointStore } from '../../infra/webhooks/store';
import { testEnv } from '../support/env';
import { listen, type Running } from '../support/listen';

const PYTEST_FILE = path.join(PROJECT_ROOT, 'test', 'python', 'test_openai_webhooks.py');

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('the official openai Python SDK on webhook endpoints', () => {
  const schema = `pywebhooks_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let eventStore: EventStore;
  let pool: PgPool;
  let temporal: TemporalClient;
  let users: UserStore;
  let server: Running;

  beforeAll(async () => {
    eventStore = await openEventStore({ url: testEnv.embeddedPgUrl, schema, maxEventBytes: 1024 * 1024 });
    pool = createPgPool({ connectionString: testEnv.embeddedPgUrl });
    temporal = connectTemporalClient({ temporalAddress: testEnv.temporalAddress, temporalDevPort: 7233, temporalNamespace: 'default' });
    users = await openUserStore({ pool, schema });
    const store = await PgWebhookEndpointStore.open({ pool, schema });
    const { webhookAllowedHosts } = loadConfig({ WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' });
    server = await listen({
      logger: pino({ level: 'silent' }),
      eventStore,
      temporal,
      readModels: pool,
      users,
      webhooks: { store, policy: { allowedHosts: webhookAllowedHosts } },
    });
  });

  afterAll(async () => {
    await server?.app.close();
    await eventStore?.close();
    await users?.close();
    await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool?.end();
    await temporal?.close();
  });

  it('creates, retrieves, lists, updates, tests (verified by the SDK), rotates, refuses a private address and deletes (pytest)', async () => {
    const python = readTools().python?.path;
    if (!python) throw new Error('no Python venv in .tools/tools.json: run `node scripts/bootstrap.js --test` (npm test runs it first)');
    const { apiKey } = await users.createUser({ name: 'python-webhooks-user', role: 'user' });
    const env = { ...process.env, REELFORGE_BASE_URL: `${server.url}/v1`, REELFORGE_API_KEY: apiKey, PYTHONDONTWRITEBYTECODE: '1' };
    const result = await run(python, ['-m', 'pytest', PYTEST_FILE, '-q', '-p', 'no:cacheprovider', '-W', 'ignore::DeprecationWarning', '--color=no'], env);
    if (result.code !== 0) throw new Error(`pytest exited with ${result.code}:\n${result.output}`);
    expect(result.output).toMatch(/\b8 passed\b/);
  }, 120_000);
});
