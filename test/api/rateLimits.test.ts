// Request rate limits per caller, over HTTP (api/plugins/rateLimit.ts): each caller has its own count; past it, 429
// problem+json with Retry-After and the IETF RateLimit-Policy / RateLimit headers, refused before the handler (the
// refused request changes nothing); health and metrics are never counted.
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { openEventStore, type EventStore } from '../../infra/eventstore';
import { createPgPool, type PgPool } from '../../infra/postgres/pool';
import { connectTemporalClient, type TemporalClient } from '../../infra/temporal/connection';
import { openUserStore } from '../../infra/users/store';
import { testEnv } from '../support/env';
import { listen, type Running } from '../support/listen';

describe('rate limits', () => {
  const schema = `ratelimit_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let eventStore: EventStore;
  let readModels: PgPool;
  let temporal: TemporalClient;
  let server: Running;
  const keys = { alice: '', bob: '', carol: '' };
  let users: Awaited<ReturnType<typeof openUserStore>>;

  beforeAll(async () => {
    eventStore = await openEventStore({ url: testEnv.embeddedPgUrl, schema, maxEventBytes: 1024 * 1024 });
    readModels = createPgPool({ connectionString: testEnv.embeddedPgUrl });
    temporal = connectTemporalClient({ temporalAddress: testEnv.temporalAddress, temporalDevPort: 7233, temporalNamespace: 'default' });
    users = await openUserStore({ pool: readModels, schema });
    keys.alice = (await users.createUser({ name: 'alice', role: 'user' })).apiKey;
    keys.bob = (await users.createUser({ name: 'bob', role: 'user' })).apiKey;
    keys.carol = (await users.createUser({ name: 'carol', role: 'admin' })).apiKey;
    server = await listen({ logger: pino({ level: 'silent' }), eventStore, temporal, readModels, users, rateLimit: { max: 3, windowSeconds: 60 } });
  });
  afterAll(async () => {
    await server?.app.close();
    await temporal?.close();
    await eventStore?.close();
    await readModels?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await readModels?.end();
  });

  const me = (key: string) => fetch(`${server.url}/v1/users/me`, { headers: { authorization: `Bearer ${key}` } });

  it('counts each caller apart, says what is left on every answer, and refuses the request past the limit with 429, Retry-After and RateLimit headers', async () => {
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await me(keys.alice));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(answers.map((r) => r.headers.get('ratelimit-policy'))).toEqual(['"default";q=3;w=60', '"default";q=3;w=60', '"default";q=3;w=60']);
    expect(answers.map((r) => /;r=(\d+);/.exec(r.headers.get('ratelimit') ?? '')?.[1])).toEqual(['2', '1', '0']);

    const refused = await me(keys.alice);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit-policy')).toBe('"default";q=3;w=60');
    expect(refused.headers.get('ratelimit')).toMatch(/^"default";r=0;t=\d+$/);
    const body = (await refused.json()) as { status: number; detail: string; error: { type: string; code: string } };
    expect(body).toMatchObject({ status: 429, error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' } });
    expect(body.detail).toMatch(/^more than 3 requests in 60 s; try again in \d+ s$/);

    // Another caller has a count of their own; health and metrics are not counted.
    expect((await me(keys.bob)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('refuses before the handler: a refused create makes nothing', async () => {
    for (let i = 0; i < 3; i++) expect((await me(keys.carol)).status).toBe(200);
    const create = await fetch(`${server.url}/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.carol}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'dave', role: 'user' }),
    });
    expect(create.status).toBe(429);
    const { rows } = await readModels.query(`SELECT count(*)::int AS n FROM "${schema}".users WHERE name = 'dave'`);
    expect(rows[0].n).toBe(0);
  });
});
