// Request rate limits per caller and tier, over HTTP (api/plugins/rateLimit.ts): each caller has its own count, up to
// their tier's rate; past it, 429 problem+json with Retry-After and the IETF RateLimit-Policy / RateLimit headers
// (named after the tier), refused before the handler (the refused request changes nothing); health and metrics are
// never counted, nor is a tier of rate 0; an admin moving a user to another tier changes their limit.
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { openEventStore, type EventStore } from '../../infra/eventstore';
import { createPgPool, type PgPool } from '../../infra/postgres/pool';
import { connectTemporalClient, type TemporalClient } from '../../infra/temporal/connection';
import { tierTable } from '../../infra/tiers';
import { openUserStore } from '../../infra/users/store';
import { testEnv } from '../support/env';
import { listen, type Running } from '../support/listen';

describe('rate limits', () => {
  const schema = `ratelimit_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let eventStore: EventStore;
  let readModels: PgPool;
  let temporal: TemporalClient;
  let server: Running;
  const keys = { alice: '', bob: '', carol: '', erin: '', frank: '' };
  let frankId = '';
  let users: Awaited<ReturnType<typeof openUserStore>>;

  beforeAll(async () => {
    eventStore = await openEventStore({ url: testEnv.embeddedPgUrl, schema, maxEventBytes: 1024 * 1024 });
    readModels = createPgPool({ connectionString: testEnv.embeddedPgUrl });
    temporal = connectTemporalClient({ temporalAddress: testEnv.temporalAddress, temporalDevPort: 7233, temporalNamespace: 'default' });
    users = await openUserStore({ pool: readModels, schema });
    keys.alice = (await users.createUser({ name: 'alice', role: 'user' })).apiKey;
    keys.bob = (await users.createUser({ name: 'bob', role: 'user' })).apiKey;
    keys.carol = (await users.createUser({ name: 'carol', role: 'admin' })).apiKey;
    keys.erin = (await users.createUser({ name: 'erin', role: 'user', tier: 'pro' })).apiKey;
    const frank = await users.createUser({ name: 'frank', role: 'user' });
    keys.frank = frank.apiKey;
    frankId = frank.user.id;
    const tiers = tierTable([
      { name: 'default', rateLimitRequests: 3, maxActiveVideos: 0, dailyVideoSeconds: 0, gpuWeight: 1 },
      { name: 'pro', rateLimitRequests: 5, maxActiveVideos: 0, dailyVideoSeconds: 0, gpuWeight: 4 },
      { name: 'internal', rateLimitRequests: 0, maxActiveVideos: 0, dailyVideoSeconds: 0, gpuWeight: 1 },
    ]);
    server = await listen({ logger: pino({ level: 'silent' }), eventStore, temporal, readModels, users, tiers, rateLimit: { tiers, windowSeconds: 60 } });
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

  it("counts up to each caller's tier: its own rate, and its name in the headers", async () => {
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await me(keys.erin));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(answers[0]!.headers.get('ratelimit-policy')).toBe('"pro";q=5;w=60');
    expect(answers[5]!.headers.get('ratelimit')).toMatch(/^"pro";r=0;t=\d+$/);
    expect(((await answers[0]!.json()) as { tier: string }).tier).toBe('pro');
  });

  it('an admin moves a user to another tier (their limit changes at once); an unknown tier is 422 and changes nothing', async () => {
    const admin = { authorization: `Bearer ${keys.carol}`, 'content-type': 'application/json' };
    // carol spent her 3 in the test above; a new admin does the moving.
    const root = await users.createUser({ name: 'root', role: 'admin' });
    const headers = { ...admin, authorization: `Bearer ${root.apiKey}` };
    const patch = (id: string, body: unknown) => fetch(`${server.url}/v1/users/${id}`, { method: 'PATCH', headers, body: JSON.stringify(body) });

    const unknown = await patch(frankId, { tier: 'platinum' });
    expect(unknown.status).toBe(422);
    expect(await unknown.json()).toMatchObject({ error: { code: 'unknown_tier' }, errors: [{ field: 'tier' }] });
    expect((await users.findById(frankId))?.tier).toBe('default');
    expect((await patch('user_' + '0'.repeat(32), { tier: 'internal' })).status).toBe(404);
    // A user may not move themselves.
    const self = await fetch(`${server.url}/v1/users/${frankId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${keys.frank}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tier: 'internal' }),
    });
    expect(self.status).toBe(403);

    const moved = await patch(frankId, { tier: 'internal' });
    expect(moved.status).toBe(200);
    expect(await moved.json()).toMatchObject({ id: frankId, tier: 'internal' });
    // A tier of rate 0 is not counted: no headers, no refusal.
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await me(keys.frank));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((r) => r.headers.get('ratelimit-policy'))).toEqual([null, null, null, null, null]);
  });
});
