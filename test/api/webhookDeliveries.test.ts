// Webhook deliveries end to end, on the real stack (API, orchestration worker with the dispatcher, GPU worker, Temporal,
// PostgreSQL): a finished video is delivered to its owner's endpoint, signed so that the official SDK's unwrap verifies
// it; a receiver that fails is retried with the same webhook-id and every attempt is listed; a redirect is a failure,
// never followed; an endpoint failing for the whole retry window is disabled and an update enables it again; a
// delivery can be sent again. The receivers listen on 127.0.0.1 (WEBHOOK_ALLOWED_HOSTS of the stack).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { startApiStack } from '../support/apiStack';
import { eventually } from '../support/env';

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A receiver that answers each path with its next scripted status (the last one repeats), recording every request. */
async function startReceiver(script: Record<string, number[]>) {
  const received: Received[] = [];
  const served: Record<string, number> = {};
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers as Record<string, string>, body });
      const statuses = script[path] ?? [200];
      const n = served[path] ?? 0;
      served[path] = n + 1;
      const status = statuses[Math.min(n, statuses.length - 1)]!;
      res.writeHead(status, status >= 300 && status < 400 ? { location: '/ok' } : {});
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    received: (path: string) => received.filter((r) => r.path === path),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface Delivery {
  id: string;
  webhook_id: string;
  event_type: string;
  subject_id: string;
  status: string;
  failure_reason: string | null;
  redelivery_of: string | null;
  attempts: { attempt: number; status_code: number | null; error: string | null }[];
}

describe('webhook deliveries', () => {
  let stack: Awaited<ReturnType<typeof startApiStack>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let auth: Record<string, string>;

  beforeAll(async () => {
    // Retries 1 s apart at first, for 8 s in all: the whole window passes within the test.
    stack = await startApiStack({ webhooks: { allowedHosts: ['127.0.0.1'], retry: { firstSeconds: 1, windowSeconds: 8 } } });
    receiver = await startReceiver({ '/ok': [200], '/flaky': [500, 500, 200], '/moved': [301] });
    const { apiKey } = await stack.user('webhook-owner');
    auth = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    await receiver?.close();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${stack.url}${path}`, { method, headers: auth, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const createEndpoint = async (path: string) => {
    const res = await call('POST', '/v1/webhook_endpoints', { name: path, url: receiver.url(path), event_types: ['video.completed', 'video.failed'] });
    expect(res.status).toBe(200);
    return res.body as { id: string; signing_secret: string };
  };
  const makeVideo = async (): Promise<string> => {
    const res = await call('POST', '/v1/videos', { prompt: 'a red ball bounces on a wooden floor', seconds: 1, size: '256x256' });
    expect(res.status).toBe(200);
    const id = res.body.id as string;
    await eventually(
      async () => {
        const v = await call('GET', `/v1/videos/${id}`);
        if (v.body.status === 'failed') throw new Error(`video failed: ${JSON.stringify(v.body.error)}`);
        return v.body.status === 'completed' ? true : undefined;
      },
      'the video to complete',
      120_000,
      200,
    );
    return id;
  };
  const deliveries = async (endpointId: string) => (await call('GET', `/v1/webhook_endpoints/${endpointId}/deliveries`)).body.data as Delivery[];
  const settled = (endpointId: string, count: number) =>
    eventually(
      async () => {
        const list = await deliveries(endpointId);
        return list.length >= count && list.every((d) => d.status !== 'pending') ? list : undefined;
      },
      `${count} deliveries of ${endpointId} to end`,
      60_000,
      200,
    );

  it('delivers video.completed to the owner endpoints, each signed so the official SDK verifies it, retrying a failing one with the same webhook-id', async () => {
    const ok = await createEndpoint('/ok');
    const flaky = await createEndpoint('/flaky');
    const videoId = await makeVideo();

    const [okDelivery] = await settled(ok.id, 1);
    const [request] = receiver.received('/ok');
    const sdk = new OpenAI({ apiKey: 'unused' });
    const event = await sdk.webhooks.unwrap(request!.body, request!.headers, ok.signing_secret);
    expect(event).toMatchObject({ object: 'event', type: 'video.completed', data: { id: videoId } });
    await expect(sdk.webhooks.unwrap(request!.body.replace(videoId, 'video_forged'), request!.headers, ok.signing_secret)).rejects.toThrow();
    expect(okDelivery).toMatchObject({ status: 'delivered', event_type: 'video.completed', subject_id: videoId, webhook_id: request!.headers['webhook-id'] });
    expect(okDelivery!.attempts.map((a) => a.status_code)).toEqual([200]);

    // 500, 500, then 200: three attempts, one webhook-id, each listed with its status.
    const [flakyDelivery] = await settled(flaky.id, 1);
    const attempts = receiver.received('/flaky');
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((a) => a.headers['webhook-id'])).size).toBe(1);
    expect(flakyDelivery).toMatchObject({ status: 'delivered', webhook_id: attempts[0]!.headers['webhook-id'] });
    expect(flakyDelivery!.attempts.map((a) => [a.attempt, a.status_code])).toEqual([
      [1, 500],
      [2, 500],
      [3, 200],
    ]);
    expect(flakyDelivery!.attempts[0]!.error).toBe('the receiver answered 500');
    for (const a of attempts) await expect(sdk.webhooks.unwrap(a.body, a.headers, flaky.signing_secret)).resolves.toMatchObject({ data: { id: videoId } });

    // Sent again on request: the same body and webhook-id, a delivery of its own that names the first.
    const again = await call('POST', `/v1/webhook_endpoints/${ok.id}/deliveries/${okDelivery!.id}/redeliver`);
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ object: 'webhook_delivery', status: 'pending', redelivery_of: okDelivery!.id, webhook_id: okDelivery!.webhook_id });
    const list = await settled(ok.id, 2);
    expect(list[0]).toMatchObject({ id: again.body.id, status: 'delivered', redelivery_of: okDelivery!.id });
    const [, second] = receiver.received('/ok');
    expect(second!.headers['webhook-id']).toBe(request!.headers['webhook-id']);
    expect(second!.body).toBe(request!.body);
    expect((await call('POST', `/v1/webhook_endpoints/${ok.id}/deliveries/dlv_nope/redeliver`)).body).toMatchObject({
      status: 404,
      type: 'urn:reelforge:problem:webhook_delivery_not_found',
    });
    for (const id of [ok.id, flaky.id]) expect((await call('DELETE', `/v1/webhook_endpoints/${id}`)).status).toBe(200);
  }, 180_000);

  it('counts a redirect as a failure without following it, and disables an endpoint failing for the whole window until it is updated', async () => {
    const moved = await createEndpoint('/moved');
    const videoId = await makeVideo();
    const [delivery] = await settled(moved.id, 1);
    expect(delivery!.status).toBe('failed');
    expect(delivery!.attempts.length).toBeGreaterThanOrEqual(2);
    expect(delivery!.attempts.every((a) => a.status_code === 301 && a.error === 'the receiver answered 301')).toBe(true);
    // Never followed: /ok, where the redirect points, got nothing about this video.
    expect(receiver.received('/ok').filter((r) => r.body.includes(videoId))).toHaveLength(0);
    expect(receiver.received('/moved')).toHaveLength(delivery!.attempts.length);

    const disabled = await eventually(
      async () => {
        const e = await call('GET', `/v1/webhook_endpoints/${moved.id}`);
        return e.body.status === 'disabled' ? e.body : undefined;
      },
      'the endpoint to be disabled',
      30_000,
      200,
    );
    expect(disabled.disabled_reason).toMatch(/^deliveries failed for 8 s \(delivery dlv_[0-9a-f]+; last: the receiver answered 301\)$/);
    // An update enables it again.
    const updated = await call('POST', `/v1/webhook_endpoints/${moved.id}`, { url: receiver.url('/ok') });
    expect(updated.body).toMatchObject({ status: 'enabled', disabled_reason: null, url: receiver.url('/ok') });
  }, 180_000);
});
