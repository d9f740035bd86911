// Prometheus metrics every role shares (prom-client): one registry per role process with the process metrics, and the
// errors counter by role and kind. Each role serves its registry at GET /metrics (the API on its port, the worker roles
// on their health port); deploy/grafana/reelforge.json charts them.
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export const ERRORS_METRIC = 'reelforge_errors_total';

/** A role's registry, with Node's process metrics (`reelforge_process_cpu_seconds_total`, heap, event loop lag). */
export function roleRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'reelforge_' });
  return registry;
}

export type ErrorsCounter = Counter<'role' | 'kind'>;

/**
 * `reelforge_errors_total{role, kind}`: failures a role met (`http_5xx`, `activity_failed`, `projection_parked`,
 * `projection_interrupted`), registered once per registry however many parts of the role ask for it.
 */
export function errorsCounter(registry: Registry): ErrorsCounter {
  return (
    (registry.getSingleMetric(ERRORS_METRIC) as ErrorsCounter | undefined) ??
    new Counter({ name: ERRORS_METRIC, help: 'Failures by role and kind', labelNames: ['role', 'kind'] as const, registers: [registry] })
  );
}
