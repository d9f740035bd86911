// Readiness of a role process: what the role depends on (Temporal, the event store, the read models' PostgreSQL, the
// blob store) and its own state, each check bounded by a timeout. The API serves it on its own port (/readyz, in
// api/routes/operations.ts); a worker role (orchestration, GPU, projector) has no HTTP server of its own, so it serves
// /healthz and /readyz on HEALTH_HOST:HEALTH_PORT with node:http (serveHealth), for a supervisor, a container probe or
// a person with curl, and the role's Prometheus metrics at /metrics.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { BlobStore } from './blobs/port';
import type { Logger } from './logger';

export type HealthCheck = () => Promise<void>;

/** "ok", or why the dependency is not usable (its error's message; a check still hanging after `timeoutMs` is down). */
export async function runCheck(check: HealthCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([check(), timeout]);
    return 'ok';
  } catch (err) {
    const message = (err as Error)?.message || String(err);
    return message.trim() === '' ? 'failed' : message;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every check side by side: `ok` when all are. */
export async function runChecks<K extends string>(
  checks: Record<K, HealthCheck>,
  timeoutMs: number,
): Promise<{ status: 'ok' | 'degraded'; checks: Record<K, string> }> {
  const names = Object.keys(checks) as K[];
  const results = await Promise.all(names.map((name) => runCheck(checks[name], timeoutMs)));
  const out = Object.fromEntries(names.map((name, i) => [name, results[i]!])) as Record<K, string>;
  return { status: results.every((r) => r === 'ok') ? 'ok' : 'degraded', checks: out };
}

/** The blob store answers: a stat of a key nobody writes (a missing key is an answer; no access or no bucket is not). */
export function blobStoreCheck(blobs: BlobStore): HealthCheck {
  return async () => {
    await blobs.exists('readyz/probe');
  };
}

/**
 * A check of something the process is still setting up: "starting" until `current()` returns it, then `check` of it.
 * The health endpoint comes up first thing, so a probe can tell a role that is starting from one that is not there.
 */
export function once<T>(current: () => T | undefined, check: (value: T) => Promise<void>): HealthCheck {
  return async () => {
    const value = current();
    if (value === undefined) throw new Error('starting');
    await check(value);
  };
}

/** A Temporal Worker is polling (its state is RUNNING), not still starting, stopping or failed. */
export async function workerRunning(worker: { getState(): string }): Promise<void> {
  const state = worker.getState();
  if (state !== 'RUNNING') throw new Error(`worker ${state.toLowerCase()}`);
}

/** A registry as serveHealth's `metrics`: its Prometheus text at each scrape. */
export function registryMetrics(registry: Registry | (() => Registry | undefined)): () => Promise<{ contentType: string; body: string }> {
  return async () => {
    const current = typeof registry === 'function' ? registry() : registry;
    if (!current) throw new Error('starting');
    return { contentType: current.contentType, body: await current.metrics() };
  };
}

export interface HealthServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves GET /healthz (the process answers) and GET /readyz (200 when every check is ok, else 503; the body names each
 * check's result) as JSON. Rejects when the port cannot be had (EADDRINUSE), so the role fails at once and says why.
 */
export async function serveHealth(options: {
  role: string;
  host: string;
  port: number;
  checks: Record<string, HealthCheck>;
  logger: Logger;
  timeoutMs?: number;
  /** Served at GET /metrics when given: the role's Prometheus text (registryMetrics). */
  metrics?: () => Promise<{ contentType: string; body: string }>;
}): Promise<HealthServer> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const pathname = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: 'only GET' });
    if (pathname === '/healthz') return send(200, { status: 'ok', role: options.role });
    if (pathname === '/metrics' && options.metrics) {
      options.metrics().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
          res.end(body);
        },
        (err: unknown) => send(500, { error: (err as Error)?.message ?? String(err) }),
      );
      return;
    }
    if (pathname !== '/readyz') return send(404, { error: `not found: /healthz${options.metrics ? ', /metrics' : ''} and /readyz are served here` });
    runChecks(options.checks, timeoutMs).then(
      (result) => {
        if (result.status !== 'ok') options.logger.warn({ checks: result.checks }, 'not ready');
        send(result.status === 'ok' ? 200 : 503, { status: result.status, role: options.role, checks: result.checks });
      },
      (err: unknown) => send(500, { error: (err as Error)?.message ?? String(err) }),
    );
  });
  // A probe's keep-alive connection must not hold the process open while it stops.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  options.logger.info({ health: url }, `health endpoint on ${url}/readyz`);
  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
