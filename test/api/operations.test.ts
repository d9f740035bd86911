// The operations endpoints over real HTTP against the real stack (Temporal dev server, embedded PostgreSQL):
// liveness, readiness and how it degrades, metrics, the OpenAPI document, problem+json errors, request ids.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Type } from '@sinclair/typebox';
import { buildServer, type ServerDeps } from '../../api/server';
import { ProblemError } from '../../api/plugins/errors';
import { openEventStore, type EventStore } from '../../infra/eventstore';
import { freePort } from '../../infra/postgres/embedded';
import { createPgPool, type PgPool } from '../../infra/postgres/pool';
import { connectTemporalClient, type TemporalClient } from '../../infra/temporal/connection';
import { testEnv } from '../support/env';

type LogLine = Record<string, unknown> & { msg?: string; requestId?: string };

/** A pino logger that keeps its lines, so tests can read what the API logged. */
function capturingLogger(): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

interface Running {
  app: FastifyInstance;
  url: string;
}

async function listen(deps: ServerDeps, extraRoutes?: (app: FastifyInstance) => void): Promise<Running> {
  const app = await buildServer(deps);
  extraRoutes?.(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('no address');
  return { app, url: `http://127.0.0.1:${address.port}` };
}

describe('operations endpoints', () => {
  const schema = `ops_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const log = capturingLogger();
  let eventStore: EventStore;
  let readModels: PgPool;
  let temporal: TemporalClient;
  let server: Running;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    eventStore = await openEventStore({ url: testEnv.embeddedPgUrl, schema, maxEventBytes: 1024 * 1024 });
    readModels = createPgPool({ connectionString: testEnv.embeddedPgUrl });
    temporal = connectTemporalClient({ temporalAddress: testEnv.temporalAddress, temporalDevPort: 7233, temporalNamespace: 'default' });
    server = await listen({ logger: log.logger, eventStore, temporal, readModels }, (app) => {
      // Routes that exercise the error mapping the resource routes will rely on.
      app.post(
        '/test/validated',
        { schema: { body: Type.Object({ prompt: Type.String({ minLength: 1 }), seconds: Type.Integer({ minimum: 1 }) }) } },
        async () => ({ ok: true }),
      );
      app.get('/test/conflict', async () => {
        throw new ProblemError({
          status: 409,
          code: 'idempotency_key_reused',
          detail: 'this Idempotency-Key was used with another body',
          param: 'Idempotency-Key',
        });
      });
      app.get('/test/crash', async () => {
        throw new Error('secret internal detail');
      });
    });
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await server?.app.close();
    await eventStore?.close();
    await readModels?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await readModels?.end();
    await temporal?.close();
  });

  it('GET /healthz says the process is alive', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz is ok when Temporal, the event store and the read models database answer', async () => {
    const res = await fetch(`${server.url}/readyz`);
    expect(await res.json()).toEqual({ status: 'ok', checks: { temporal: 'ok', eventstore: 'ok', readmodels: 'ok' } });
    expect(res.status).toBe(200);
  });

  it('GET /readyz is degraded (503) and names the event store once it is closed', async () => {
    const store = await openEventStore({ url: testEnv.embeddedPgUrl, schema, maxEventBytes: 1024 * 1024 });
    const other = await listen({ logger: pino({ level: 'silent' }), eventStore: store, temporal, readModels });
    cleanups.push(() => other.app.close());
    expect((await fetch(`${other.url}/readyz`)).status).toBe(200);

    await store.close();
    const res = await fetch(`${other.url}/readyz`);
    const body = (await res.json()) as { status: string; checks: Record<string, string> };
    expect(res.status).toBe(503);
    expect(body.status).toBe('degraded');
    expect(body.checks.temporal).toBe('ok');
    expect(body.checks.readmodels).toBe('ok');
    expect(body.checks.eventstore).not.toBe('ok');
    expect(body.checks.eventstore).toMatch(/closed/i);
  });

  it('GET /readyz is degraded (503) and names Temporal when no Temporal server answers', async () => {
    const nowhere = connectTemporalClient({ temporalAddress: `127.0.0.1:${await freePort()}`, temporalDevPort: 7233, temporalNamespace: 'default' });
    cleanups.push(() => nowhere.close());
    const other = await listen({ logger: pino({ level: 'silent' }), eventStore, temporal: nowhere, readModels, readinessTimeoutMs: 1500 });
    cleanups.push(() => other.app.close());

    const started = Date.now();
    const res = await fetch(`${other.url}/readyz`);
    const body = (await res.json()) as { status: string; checks: Record<string, string> };
    expect(res.status).toBe(503);
    expect(body).toMatchObject({ status: 'degraded', checks: { eventstore: 'ok', readmodels: 'ok' } });
    expect(body.checks.temporal).not.toBe('ok');
    expect(body.checks.temporal.length).toBeGreaterThan(0);
    // The probe answers within its per-check timeout instead of hanging on the dead dependency.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('GET /metrics serves Prometheus text with requests counted by route template and status', async () => {
    await fetch(`${server.url}/healthz`);
    await fetch(`${server.url}/healthz`);
    await fetch(`${server.url}/no/such/route/${randomUUID()}`);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    const healthz = /^reelforge_http_requests_total\{method="GET",route="\/healthz",status_code="200"\} (\d+)$/m.exec(text);
    expect(healthz).not.toBeNull();
    expect(Number(healthz![1])).toBeGreaterThanOrEqual(2);
    // Unknown paths share one series, so random URLs cannot blow up the number of series.
    expect(text).toMatch(/^reelforge_http_requests_total\{method="GET",route="unmatched",status_code="404"\} \d+$/m);
    expect(text).toContain('reelforge_http_request_duration_seconds_bucket');
    expect(text).toContain('reelforge_process_cpu_user_seconds_total');
  });

  it('GET /openapi.json is an OpenAPI document with the operations paths, and /docs serves Swagger UI', async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; info: { title: string }; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('reelforge');
    expect(doc.paths['/healthz']?.get).toBeDefined();
    expect(doc.paths['/readyz']?.get).toMatchObject({ responses: { 200: expect.anything(), 503: expect.anything() } });

    const docs = await fetch(`${server.url}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toMatch(/text\/html/);
    expect(await docs.text()).toMatch(/swagger/i);
  });

  it('an unknown route answers 404 application/problem+json', async () => {
    const res = await fetch(`${server.url}/v1/nothing-here?x=1`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      title: 'Not Found',
      status: 404,
      instance: '/v1/nothing-here?x=1',
      error: { type: 'invalid_request_error', code: 'route_not_found' },
    });
    expect(body.type).toEqual(expect.any(String));
    expect(body.detail).toContain('/v1/nothing-here');
    expect((body.error as { message: string }).message).toBe(body.detail);
  });

  it('a body that fails its schema answers 400 problem+json naming the field', async () => {
    const post = (body: unknown) =>
      fetch(`${server.url}/test/validated`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    type Invalid = { status: number; errors: Array<{ field: string; message: string }>; error: { param: string; type: string; code: string } };

    const tooShort = await post({ prompt: '', seconds: 4 });
    expect(tooShort.status).toBe(400);
    expect(tooShort.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const short = (await tooShort.json()) as Invalid;
    expect(short.errors).toEqual([{ field: 'prompt', message: expect.stringMatching(/\S/) }]);
    expect(short.error).toMatchObject({ type: 'invalid_request_error', code: 'validation_failed', param: 'prompt' });

    const missing = (await (await post({ prompt: 'a red ball bounces' })).json()) as Invalid;
    expect(missing.status).toBe(400);
    expect(missing.errors.map((e) => e.field)).toEqual(['seconds']);
    expect(missing.error.param).toBe('seconds');
  });

  it('a typed error keeps its status and code; an unexpected one is a 500 that does not leak its message', async () => {
    const conflict = await fetch(`${server.url}/test/conflict`);
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({ status: 409, title: 'Conflict', error: { code: 'idempotency_key_reused', param: 'Idempotency-Key' } });

    const crash = await fetch(`${server.url}/test/crash`);
    expect(crash.status).toBe(500);
    const text = await crash.text();
    expect(text).not.toContain('secret internal detail');
    expect(JSON.parse(text)).toMatchObject({ status: 500, error: { type: 'server_error' } });
    // The detail stays in the log, under the request's id.
    const requestId = crash.headers.get('x-request-id');
    expect(log.lines.some((l) => l.requestId === requestId && JSON.stringify(l).includes('secret internal detail'))).toBe(true);
  });

  it('echoes a valid incoming x-request-id, makes one otherwise, and puts it on every log line of the request', async () => {
    const given = `trace-${randomUUID()}`;
    const echoed = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': given } });
    expect(echoed.headers.get('x-request-id')).toBe(given);

    const made = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'not a valid id\u00e9' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const missing = await fetch(`${server.url}/no/such/route`);
    const id = missing.headers.get('x-request-id');
    expect(id).toBeTruthy();
    const lines = log.lines.filter((l) => l.requestId === id);
    // fastify's "incoming request" and "request completed" lines, both with the id.
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['incoming request', 'request completed']));
    const requestLines = log.lines.filter((l) => l.req !== undefined || l.res !== undefined);
    expect(requestLines.length).toBeGreaterThan(0);
    expect(requestLines.every((l) => typeof l.requestId === 'string' && l.requestId.length > 0)).toBe(true);
    expect(log.lines.some((l) => l.requestId === given)).toBe(true);
  });
});
