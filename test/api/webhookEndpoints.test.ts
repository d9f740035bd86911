// Webhook endpoints over real HTTP: the API on the jest run's PostgreSQL and Temporal, WEBHOOK_ALLOWED_HOSTS=127.0.0.1,
// and a real receiver on 127.0.0.1 that records each request and verifies it with the OpenAI Node SDK's unwrap. Nothing
// is ever sent to any other address.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { startWebhookApi } from '../support/webhookApi';

interface Received {
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A receiver on 127.0.0.1 answering `status` (and Location for a 3xx) and recording every request. */
async function startReceiver() {
  const received: Received[] = [];
  let status = 200;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body });
      res.writeHead(status, status >= 300 && status < 400 ? { location: '/elsewhere' } : {}).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    answer: (s: number) => (status = s),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('webhook endpoints', () => {
  let server: Awaited<ReturnType<typeof startWebhookApi>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let alice = '';
  let bob = '';
  const sdk = new OpenAI({ apiKey: 'x' });

  const call = async (key: string, method: string, route: string, body?: unknown) => {
    const res = await fetch(`${server.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as Record<string, any> };
  };
  const create = (key: string, fields: Record<string, unknown> = {}) =>
    call(key, 'POST', '/v1/webhook_endpoints', { name: 'my hook', url: `${receiver.url}/hooks`, event_types: ['video.completed'], ...fields });

  beforeAll(async () => {
    receiver = await startReceiver();
    server = await startWebhookApi({ testTimeoutMs: 2000 });
    alice = (await server.users.createUser({ name: 'alice', role: 'user' })).apiKey;
    bob = (await server.users.createUser({ name: 'bob', role: 'user' })).apiKey;
  });

  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });

  it('creates an endpoint, showing its whsec_ secret once; retrieve and list show only the hint', async () => {
    const created = await create(alice, { event_types: ['video.completed', 'video.failed', 'cameo.use_blocked'] });
    expect(created.status).toBe(200);
    const e = created.body;
    expect(e).toMatchObject({
      object: 'webhook_endpoint',
      name: 'my hook',
      url: `${receiver.url}/hooks`,
      event_types: ['video.completed', 'video.failed', 'cameo.use_blocked'],
    });
    expect(e.id).toMatch(/^we_[0-9a-f]{32}$/);
    expect(e.signing_secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(e.signing_secret_hint).toBe(`whsec_...${(e.signing_secret as string).slice(-4)}`);
    expect(e.updated_at).toBe(e.created_at);
    expect(Math.abs(e.created_at - Date.now() / 1000)).toBeLessThan(10);

    const got = await call(alice, 'GET', `/v1/webhook_endpoints/${e.id}`);
    expect(got.status).toBe(200);
    const { signing_secret: _secret, ...withoutSecret } = e;
    expect(got.body).toEqual(withoutSecret);
    const list = await call(alice, 'GET', '/v1/webhook_endpoints');
    expect(list.body.data.find((x: { id: string }) => x.id === e.id)).toEqual(withoutSecret);
    expect(JSON.stringify(list.body)).not.toContain(e.signing_secret);
  });

  it("lists newest first in cursor pages, each user only their own; another user's id answers 404", async () => {
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push((await create(bob, { name: `hook ${i}` })).body.id as string);
    const first = await call(bob, 'GET', '/v1/webhook_endpoints?limit=2');
    expect(first.body).toMatchObject({ object: 'list', has_more: true, first_id: mine[2], last_id: mine[1] });
    expect(first.body.data.map((x: { id: string }) => x.id)).toEqual([mine[2], mine[1]]);
    const second = await call(bob, 'GET', `/v1/webhook_endpoints?limit=2&after=${mine[1]}`);
    expect(second.body).toMatchObject({ data: [{ id: mine[0] }], has_more: false, first_id: mine[0], last_id: mine[0] });

    for (const [method, route, body] of [
      ['GET', `/v1/webhook_endpoints/${mine[0]}`],
      ['POST', `/v1/webhook_endpoints/${mine[0]}`, { name: 'taken' }],
      ['POST', `/v1/webhook_endpoints/${mine[0]}/rotate_secret`, {}],
      ['POST', `/v1/webhook_endpoints/${mine[0]}/test`, { event_type: 'video.completed' }],
      ['DELETE', `/v1/webhook_endpoints/${mine[0]}`],
    ] as const) {
      const res = await call(alice, method, route, body);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('webhook_endpoint_not_found');
    }
    expect((await call(alice, 'GET', `/v1/webhook_endpoints?after=${mine[0]}`)).status).toBe(422);
    expect((await call(bob, 'GET', '/v1/webhook_endpoints?limit=101')).status).toBe(400);
    expect((await call(bob, 'GET', `/v1/webhook_endpoints/${mine[0]}`)).body.name).toBe('hook 0');
  });

  it('refuses an unknown or repeated event type, naming the value, and records nothing', async () => {
    const before = (await call(alice, 'GET', '/v1/webhook_endpoints?limit=100')).body.data.length;
    const res = await create(alice, { event_types: ['video.completed', 'batch.completed'] });
    // Well-formed but not an event type we send: 422, as content the API cannot use.
    expect(res.status).toBe(422);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toContain('"batch.completed" is not an event type');
    expect(res.body.error.param).toBe('event_types/1');
    expect((await create(alice, { event_types: ['video.failed', 'video.failed'] })).body.detail).toContain('"video.failed" is named twice');
    expect((await create(alice, { event_types: [] })).status).toBe(400);
    expect((await call(alice, 'GET', '/v1/webhook_endpoints?limit=100')).body.data.length).toBe(before);
  });

  it('refuses a URL on a private, link-local or loopback address, or plain http, at creation and at update, naming why', async () => {
    for (const [url, reason] of [
      ['https://10.0.0.7/hook', 'private address'],
      ['https://192.168.1.10/hook', 'private address'],
      ['https://169.254.169.254/latest/meta-data', 'link-local address'],
      ['https://[::1]/hook', 'loopback address'],
      ['https://[::ffff:127.0.0.2]/hook', 'IPv4-mapped loopback address'],
      ['https://100.64.0.1/hook', 'carrier-grade NAT'],
      ['http://example.com/hook', 'must be https'],
      ['https://localhost/hook', 'loopback address'],
    ]) {
      const res = await create(alice, { url });
      expect(res.status).toBe(422);
      expect(res.body.error).toMatchObject({ code: 'webhook_url_refused', param: 'url' });
      expect(res.body.detail).toContain(reason!);
    }
    const e = (await create(alice)).body;
    const res = await call(alice, 'POST', `/v1/webhook_endpoints/${e.id}`, { url: 'https://172.16.5.4/x', name: 'renamed' });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('webhook_url_refused');
    expect((await call(alice, 'GET', `/v1/webhook_endpoints/${e.id}`)).body).toMatchObject({ name: 'my hook', url: e.url });
  });

  it('updates name, url and event types; updated_at advances only when something changed', async () => {
    const e = (await create(alice)).body;
    await new Promise((r) => setTimeout(r, 1100));
    const same = await call(alice, 'POST', `/v1/webhook_endpoints/${e.id}`, { name: 'my hook', event_types: ['video.completed'] });
    expect(same.status).toBe(200);
    expect(same.body.updated_at).toBe(e.updated_at);
    const changed = await call(alice, 'POST', `/v1/webhook_endpoints/${e.id}`, {
      name: 'renamed',
      url: `${receiver.url}/other`,
      event_types: ['video.blocked'],
    });
    expect(changed.body).toMatchObject({ name: 'renamed', url: `${receiver.url}/other`, event_types: ['video.blocked'], created_at: e.created_at });
    expect(changed.body.updated_at).toBeGreaterThan(e.updated_at);
    expect((await call(alice, 'GET', `/v1/webhook_endpoints/${e.id}`)).body).toEqual(changed.body);
  });

  const test = (id: string) => call(alice, 'POST', `/v1/webhook_endpoints/${id}/test`, { event_type: 'video.completed' });

  it('test sends one signed sample event to the receiver, which the OpenAI SDK verifies, and reports its status', async () => {
    const e = (await create(alice)).body;
    receiver.answer(204);
    const n = receiver.received.length;
    const res = await test(e.id);
    expect(res.body).toEqual({ object: 'webhook_endpoint.test', webhook_endpoint_id: e.id, event_type: 'video.completed', status_code: 204, success: true });
    expect(receiver.received).toHaveLength(n + 1);
    const got = receiver.received[n]!;
    expect(got.url).toBe('/hooks');
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    const event = await sdk.webhooks.unwrap(got.body, got.headers as Record<string, string>, e.signing_secret);
    expect(event).toMatchObject({ object: 'event', type: 'video.completed', data: { id: expect.stringMatching(/^video_/) } });
    expect((event as unknown as { id: string }).id).toMatch(/^evt_/);
    await expect(
      sdk.webhooks.unwrap(got.body.replace('video.completed', 'video.failed'), got.headers as Record<string, string>, e.signing_secret),
    ).rejects.toThrow();
    // Tests and unchanged updates do not advance updated_at.
    expect((await call(alice, 'GET', `/v1/webhook_endpoints/${e.id}`)).body.updated_at).toBe(e.updated_at);
    // An event type we do not send is refused, naming it.
    const bad = await call(alice, 'POST', `/v1/webhook_endpoints/${e.id}/test`, { event_type: 'response.completed' });
    expect(bad.status).toBe(422);
    expect(bad.body.detail).toContain('"response.completed" is not an event type');
  });

  it('test reports a 301 as status_code 301 without following it, and a 500 as 500', async () => {
    const e = (await create(alice)).body;
    const n = receiver.received.length;
    receiver.answer(301);
    expect((await test(e.id)).body).toMatchObject({ status_code: 301, success: true });
    expect(receiver.received).toHaveLength(n + 1);
    receiver.answer(500);
    expect((await test(e.id)).body.status_code).toBe(500);
    receiver.answer(200);
  });

  it('test of an endpoint whose receiver is gone answers 502 webhook_endpoint_unreachable', async () => {
    const gone = await startReceiver();
    await gone.close();
    const e = (await create(alice, { url: gone.url })).body;
    const res = await test(e.id);
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('webhook_endpoint_unreachable');
  });

  it('rotate_secret: the new secret alone signs; with keep_old_secret_active_for_24_hours the old one verifies too', async () => {
    const e = (await create(alice)).body;
    const deliveryAfter = async () => {
      const n = receiver.received.length;
      expect((await test(e.id)).body.status_code).toBe(200);
      return receiver.received[n]!;
    };
    const verifies = (d: Received, secret: string) =>
      sdk.webhooks.unwrap(d.body, d.headers as Record<string, string>, secret).then(
        () => true,
        () => false,
      );

    await new Promise((r) => setTimeout(r, 1100));
    const kept = await call(alice, 'POST', `/v1/webhook_endpoints/${e.id}/rotate_secret`, { keep_old_secret_active_for_24_hours: true });
    expect(kept.status).toBe(200);
    expect(kept.body.signing_secret).toMatch(/^whsec_/);
    expect(kept.body.signing_secret).not.toBe(e.signing_secret);
    expect(kept.body.signing_secret_hint).toBe(`whsec_...${(kept.body.signing_secret as string).slice(-4)}`);
    expect(kept.body.updated_at).toBeGreaterThan(e.updated_at);
    let d = await deliveryAfter();
    expect((d.headers['webhook-signature'] as string).split(' ')).toHaveLength(2);
    expect(await verifies(d, kept.body.signing_secret)).toBe(true);
    expect(await verifies(d, e.signing_secret)).toBe(true);

    const dropped = await call(alice, 'POST', `/v1/webhook_endpoints/${e.id}/rotate_secret`, {});
    d = await deliveryAfter();
    expect((d.headers['webhook-signature'] as string).split(' ')).toHaveLength(1);
    expect(await verifies(d, dropped.body.signing_secret)).toBe(true);
    expect(await verifies(d, kept.body.signing_secret)).toBe(false);
    expect(await verifies(d, e.signing_secret)).toBe(false);
    expect((await call(alice, 'GET', `/v1/webhook_endpoints/${e.id}`)).body.signing_secret_hint).toBe(dropped.body.signing_secret_hint);
  });

  it('deletes an endpoint: then it answers 404 and is not listed', async () => {
    const e = (await create(alice)).body;
    const res = await call(alice, 'DELETE', `/v1/webhook_endpoints/${e.id}`);
    expect(res.body).toEqual({ id: e.id, object: 'webhook_endpoint.deleted', deleted: true });
    expect((await call(alice, 'GET', `/v1/webhook_endpoints/${e.id}`)).status).toBe(404);
    expect((await call(alice, 'DELETE', `/v1/webhook_endpoints/${e.id}`)).status).toBe(404);
    expect((await call(alice, 'GET', '/v1/webhook_endpoints?limit=100')).body.data.map((x: { id: string }) => x.id)).not.toContain(e.id);
  });
});
