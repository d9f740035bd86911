// Prometheus metrics: one registry per app (so tests can build several apps in one process; the API process passes the
// registry its event store's appends are measured in), the default process metrics, a request counter and latency
// histogram by route and status, and 5xx answers counted as errors (`reelforge_errors_total{role="api"}`); served at
// GET /metrics.
import fp from 'fastify-plugin';
import { Counter, Histogram, type Registry } from 'prom-client';
import { errorsCounter, roleRegistry } from '../../infra/metrics';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
  }
}

export const metricsPlugin = fp<{ registry?: Registry }>(
  async (app, options) => {
    const registry = options.registry ?? roleRegistry();
    const errors = errorsCounter(registry);
    errors.inc({ role: 'api', kind: 'http_5xx' }, 0);
    const labelNames = ['method', 'route', 'status_code'] as const;
    const requests = new Counter({
      name: 'reelforge_http_requests_total',
      help: 'HTTP requests answered, by route template and status code',
      labelNames,
      registers: [registry],
    });
    const duration = new Histogram({
      name: 'reelforge_http_request_duration_seconds',
      help: 'Time from receiving a request to sending the response',
      labelNames,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    app.decorate('metrics', registry);

    app.addHook('onResponse', async (request, reply) => {
      // The route template, never the raw URL: ids in paths would make one series per video.
      const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) };
      requests.inc(labels);
      duration.observe(labels, reply.elapsedTime / 1000);
      if (reply.statusCode >= 500) errors.inc({ role: 'api', kind: 'http_5xx' });
    });

    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      reply.type(registry.contentType);
      return registry.metrics();
    });
  },
  { name: 'reelforge-metrics' },
);
