// Authentication over real HTTP against the real stack: Bearer keys, 401s the OpenAI SDKs understand, roles on
// POST /v1/users, GET /v1/users/me, the OpenAPI document, and the API process's first start printing the dev keys once.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { openEventStore, type EventStore } from '../../infra/eventstore';
import { createPgPool, type PgPool } from '../../infra/postgres/pool';
import { connectTemporalClient, type TemporalClient } from '../../infra/temporal/connection';
import { PROJECT_ROOT } from '../../infra/tools';
import { newApiKey } from '../../infra/users/keys';
import type { UserStore } from '../../infra/users/port';
import { openUserStore } from '../../infra/users/store';
import { eventually, testEnv } from '../support/env';
import type { Problem as ProblemBody } from '../../api/plugins/errors';
import { listen, type Running } from '../support/listen';

describe('authentication and users', () => {
  const schema = `auth_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let eventStore: EventStore;
  let readModels: PgPool;
  let temporal: TemporalClient;
  let users: UserStore;
  let server: Running;
  const keys: Record<'admin' | 'user' | 'moderator' | 'auditor', string> = { admin: '', user: '', moderator: '', auditor: '' };
  const cleanups: Array<() => Promise<unknown>> = [];

  const call = (method: string, route: string, options: { key?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    fetch(`${server.url}${route}`, {
      method,
      headers: {
        ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
    });

  beforeAll(async () => {
    eventStore = await openEventStore({ url: testEnv.embeddedPgUrl, schema, maxEventBytes: 1024 * 1024 });
    readModels = createPgPool({ connectionString: testEnv.embeddedPgUrl });
    temporal = connectTemporalClient({ temporalAddress: testEnv.temporalAddress, temporalDevPort: 7233, temporalNamespace: 'default' });
    users = await openUserStore({ pool: readModels, schema });
    for (const role of ['admin', 'user', 'moderator', 'auditor'] as const) keys[role] = (await users.createUser({ name: `test ${role}`, role })).apiKey;
    server = await listen({ logger: pino({ level: 'silent' }), eventStore, temporal, readModels, users });
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await server?.app.close();
    await eventStore?.close();
    await users?.close();
    await readModels?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await readModels?.end();
    await temporal?.close();
  });

  it('a /v1 route without a key answers 401 problem+json that the OpenAI SDKs read as invalid_api_key', async () => {
    const res = await call('GET', '/v1/users/me');
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const body = (await res.json()) as ProblemBody;
    expect(body).toMatchObject({
      title: 'Unauthorized',
      status: 401,
      instance: '/v1/users/me',
      error: { type: 'invalid_request_error', code: 'invalid_api_key', param: null },
    });
    expect(body.detail).toMatch(/Authorization: Bearer/);
    expect(body.error.message).toBe(body.detail);
  });

  it('a malformed header, a key of the wrong shape and an unknown key each answer 401, never echoing the key', async () => {
    const unknown = newApiKey();
    const attempts: Array<Record<string, string>> = [
      { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` },
      { authorization: 'Bearer' },
      { authorization: `Token ${keys.admin}` },
      { authorization: 'Bearer not-a-key' },
      { authorization: `Bearer ${unknown}` },
      { authorization: `Bearer ${keys.admin}x` },
    ];
    for (const headers of attempts) {
      const res = await call('GET', '/v1/users/me', { headers });
      expect({ headers, status: res.status }).toEqual({ headers, status: 401 });
      const text = await res.text();
      expect(JSON.parse(text)).toMatchObject({ status: 401, error: { type: 'invalid_request_error', code: 'invalid_api_key' } });
      expect(text).not.toContain(unknown);
      expect(text).not.toContain(keys.admin);
    }
    // The scheme is case-insensitive (RFC 7235), so clients that send "bearer" are fine.
    expect((await call('GET', '/v1/users/me', { headers: { authorization: `bearer ${keys.user}` } })).status).toBe(200);
  });

  it('health, readiness, metrics, the OpenAPI document and the docs need no key; unknown routes stay 404', async () => {
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/readyz')).status).toBe(200);
    expect((await call('GET', '/metrics')).status).toBe(200);
    expect((await call('GET', '/openapi.json')).status).toBe(200);
    expect((await call('GET', '/docs')).status).toBe(200);
    const missing = await call('GET', '/v1/nothing-here');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'route_not_found' } });
  });

  it('GET /v1/users/me answers who the key belongs to', async () => {
    for (const role of ['admin', 'user', 'moderator', 'auditor'] as const) {
      const res = await call('GET', '/v1/users/me', { key: keys[role] });
      expect(res.status).toBe(200);
      const me = (await res.json()) as Record<string, unknown>;
      expect(me).toEqual({ id: expect.stringMatching(/^user_[0-9a-f]{32}$/), name: `test ${role}`, role, tier: 'default', created_at: expect.any(Number) });
      expect(Math.abs((me.created_at as number) - Date.now() / 1000)).toBeLessThan(600);
    }
  });

  it('an admin creates a user: 201 with its API key, shown only then, and the key works at once', async () => {
    const res = await call('POST', '/v1/users', { key: keys.admin, body: { name: 'alice', role: 'user' } });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; name: string; role: string; api_key: string; created_at: number };
    expect(created).toEqual({
      id: expect.stringMatching(/^user_/),
      name: 'alice',
      role: 'user',
      tier: 'default',
      api_key: expect.stringMatching(/^rf_/),
      created_at: expect.any(Number),
    });

    const me = await call('GET', '/v1/users/me', { key: created.api_key });
    expect(me.status).toBe(200);
    const body = (await me.json()) as Record<string, unknown>;
    expect(body).toEqual({ id: created.id, name: 'alice', role: 'user', tier: 'default', created_at: created.created_at });
    expect(body).not.toHaveProperty('api_key');

    // Any role can be granted; a moderator made here can then use its key.
    const mod = (await (await call('POST', '/v1/users', { key: keys.admin, body: { name: 'mo', role: 'moderator' } })).json()) as { api_key: string };
    expect(await (await call('GET', '/v1/users/me', { key: mod.api_key })).json()).toMatchObject({ name: 'mo', role: 'moderator' });
  });

  it('only an admin creates users: other roles get 403 insufficient_role (the endpoint is documented, so 403 hides nothing) and nothing is created', async () => {
    for (const role of ['user', 'moderator', 'auditor'] as const) {
      const name = `sneaky-${role}`;
      const res = await call('POST', '/v1/users', { key: keys[role], body: { name, role: 'admin' } });
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const body = (await res.json()) as ProblemBody;
      expect(body).toMatchObject({ status: 403, error: { type: 'permission_error', code: 'insufficient_role' } });
      expect(body.detail).toMatch(/admin/);
      const rows = await readModels.query(`SELECT 1 FROM "${schema}".users WHERE name = $1`, [name]);
      expect(rows.rowCount).toBe(0);
    }
    // Without a key it is a 401 first, whatever the body.
    expect((await call('POST', '/v1/users', { body: { name: 'x', role: 'admin' } })).status).toBe(401);
  });

  it('an invalid body answers 400 problem+json naming the field', async () => {
    const invalid = async (body: unknown): Promise<ProblemBody> => {
      const res = await call('POST', '/v1/users', { key: keys.admin, body });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      return (await res.json()) as ProblemBody;
    };
    const badRole = await invalid({ name: 'x', role: 'root' });
    expect(badRole.errors).toEqual([{ field: 'role', message: expect.stringMatching(/\S/) }]);
    expect(badRole.error).toMatchObject({ type: 'invalid_request_error', code: 'validation_failed', param: 'role' });
    expect((await invalid({ role: 'user' })).errors?.map((e) => e.field)).toEqual(['name']);
    expect((await invalid({ name: 'x' })).errors?.map((e) => e.field)).toEqual(['role']);
    expect((await invalid({ name: '', role: 'user' })).errors?.map((e) => e.field)).toEqual(['name']);
    expect((await invalid({ name: '   ', role: 'user' })).errors?.map((e) => e.field)).toEqual(['name']);
    expect((await invalid({ name: 'x'.repeat(101), role: 'user' })).errors?.map((e) => e.field)).toEqual(['name']);
    expect((await invalid({ name: { first: 'x' }, role: 'user' })).errors?.map((e) => e.field)).toEqual(['name']);
    // The largest allowed name is fine.
    expect((await call('POST', '/v1/users', { key: keys.admin, body: { name: 'x'.repeat(100), role: 'auditor' } })).status).toBe(201);
  });

  it('keys are not stored in clear', async () => {
    const created = (await (await call('POST', '/v1/users', { key: keys.admin, body: { name: 'hashed', role: 'user' } })).json()) as { api_key: string };
    const dump = JSON.stringify((await readModels.query(`SELECT * FROM "${schema}".users`)).rows);
    for (const key of [created.api_key, ...Object.values(keys)]) expect(dump).not.toContain(key);
  });

  it('the OpenAPI document lists the users routes with their schemas, bearer security and the admin role', async () => {
    const doc = (await (await call('GET', '/openapi.json')).json()) as {
      paths: Record<string, Record<string, { security?: unknown; description?: string; responses: Record<string, unknown>; requestBody?: unknown }>>;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
    };
    const create = doc.paths['/v1/users']?.post;
    expect(create).toBeDefined();
    expect(create!.security).toEqual([{ bearer: [] }]);
    expect(Object.keys(create!.responses).sort()).toEqual(['201', '400', '401', '403', '413', '415', '422', '500']);
    expect(create!.description).toMatch(/Roles: admin/);
    expect(JSON.stringify(create!.requestBody)).toContain('"enum":["user","moderator","auditor","admin"]');
    const me = doc.paths['/v1/users/me']?.get;
    expect(me!.security).toEqual([{ bearer: [] }]);
    expect(Object.keys(me!.responses).sort()).toEqual(['200', '400', '401', '500']);
    expect(me!.responses['401']).toMatchObject({ content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } });
    expect(create!.responses['400']).toMatchObject({ content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } });
    expect(doc.components.schemas.Problem).toBeDefined();
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/healthz']?.get?.security).toBeUndefined();
  });

  it('with no users store configured, no key is accepted (fails closed)', async () => {
    const other = await listen({ logger: pino({ level: 'silent' }), eventStore, temporal, readModels });
    cleanups.push(() => other.app.close());
    const res = await fetch(`${other.url}/v1/users/me`, { headers: { authorization: `Bearer ${keys.admin}` } });
    expect(res.status).toBe(401);
  });
});

// ---- the API process's first start --------------------------------------------------------------------------------

interface ApiProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startApi(env: Record<string, string>): ApiProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.EVENTSTORE_URL;
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  const child = spawn(process.execPath, ['--import', tsx, path.join(PROJECT_ROOT, 'api/main.ts')], { cwd: PROJECT_ROOT, env: childEnv });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** The port from the API's "API listening" log line. */
async function listeningPort(api: ApiProcess): Promise<number> {
  return eventually(
    () => {
      for (const line of api.output().split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg?.startsWith('API listening')) return entry.port;
      }
      if (api.child.exitCode !== null) throw new Error(`the API exited with ${api.child.exitCode}:\n${api.output()}`);
      return undefined;
    },
    'the API to listen',
    60000,
  );
}

async function stopApi(api: ApiProcess): Promise<number | null> {
  api.child.kill('SIGTERM');
  return api.exited;
}

describe('the API process on its first start', () => {
  // A database of its own: the API uses the default `app` schema, whose emptiness decides whether keys are created.
  const database = `rf_devkeys_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let admin: PgPool;
  let databaseUrl: string;
  const running: ApiProcess[] = [];

  beforeAll(async () => {
    admin = createPgPool({ connectionString: testEnv.embeddedPgUrl, max: 1 });
    await admin.query(`CREATE DATABASE "${database}"`);
    const url = new URL(testEnv.embeddedPgUrl);
    url.pathname = `/${database}`;
    databaseUrl = url.toString();
  });

  afterAll(async () => {
    for (const api of running) if (api.child.exitCode === null && api.child.signalCode === null) api.child.kill('SIGKILL');
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  });

  it('creates the dev keys, prints them once and writes them to $DATA_DIR/dev-keys.json (0600); a second start creates none', async () => {
    const dataDir = fs.mkdtempSync(path.join(testEnv.tmpDir, 'api-devkeys-'));
    const env = { DATABASE_URL: databaseUrl, DATA_DIR: dataDir, PORT: '0', TEMPORAL_ADDRESS: testEnv.temporalAddress, LOG_LEVEL: 'info' };

    const first = startApi(env);
    running.push(first);
    const port = await listeningPort(first);
    const printed = await eventually(() => /admin +(rf_\S+)\n +user +(rf_\S+)/.exec(first.output()) ?? undefined, 'the dev keys to be printed');
    const [, adminKey, userKey] = printed;
    const file = path.join(dataDir, 'dev-keys.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ admin: adminKey, user: userKey });
    // The JSON log does not carry the keys; only the plain-text block does.
    const logLines = first
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    expect(logLines.some((l) => l.includes(adminKey!) || l.includes(userKey!))).toBe(false);
    expect(logLines.some((l) => l.includes('development users created'))).toBe(true);

    const me = async (key: string) =>
      (await (await fetch(`http://127.0.0.1:${port}/v1/users/me`, { headers: { authorization: `Bearer ${key}` } })).json()) as { role: string };
    expect((await me(adminKey!)).role).toBe('admin');
    expect((await me(userKey!)).role).toBe('user');
    expect(await stopApi(first)).toBe(0);
    expect(first.output().match(/Development API keys/g)).toHaveLength(1);

    const second = startApi(env);
    running.push(second);
    const port2 = await listeningPort(second);
    expect((await fetch(`http://127.0.0.1:${port2}/v1/users/me`, { headers: { authorization: `Bearer ${adminKey}` } })).status).toBe(200);
    expect(await stopApi(second)).toBe(0);
    expect(second.output()).not.toMatch(/Development API keys|rf_/);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ admin: adminKey, user: userKey });
    const db = createPgPool({ connectionString: databaseUrl, max: 1 });
    try {
      expect((await db.query('SELECT count(*)::int AS n FROM app.users')).rows[0]).toEqual({ n: 2 });
    } finally {
      await db.end();
    }
  });
});
