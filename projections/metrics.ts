// The projector's Prometheus metrics: per read model, its lag (events and age) and the events it applied and parked;
// and its failures (a poison event parked, a subscription interrupted) in `reelforge_errors_total{role="projector"}`.
import { Counter, Gauge, type Registry } from 'prom-client';
import { errorsCounter, type ErrorsCounter } from '../infra/metrics';

/** Lag counting reads the pending events; beyond this many it reports this many (the age says the rest). */
export const LAG_COUNT_CAP = 1000;

export interface Metrics {
  lagEvents: Gauge<'read_model'>;
  lagSeconds: Gauge<'read_model'>;
  applied: Counter<'read_model'>;
  parked: Counter<'read_model'>;
  errors: ErrorsCounter;
}

export function metricsOn(registry: Registry): Metrics {
  // Get-or-create: several runners (tests, a rebuild beside a live runner) may share one registry.
  const gauge = (name: string, help: string) =>
    (registry.getSingleMetric(name) as Gauge<'read_model'> | undefined) ?? new Gauge({ name, help, labelNames: ['read_model'], registers: [registry] });
  const counter = (name: string, help: string) =>
    (registry.getSingleMetric(name) as Counter<'read_model'> | undefined) ?? new Counter({ name, help, labelNames: ['read_model'], registers: [registry] });
  return {
    lagEvents: gauge('reelforge_projection_lag_events', `Events in $all after the read model's checkpoint (capped at ${LAG_COUNT_CAP})`),
    lagSeconds: gauge('reelforge_projection_lag_seconds', 'Age of the oldest event the read model has not projected yet; 0 when caught up'),
    applied: counter('reelforge_projection_events_applied_total', 'Events applied to the read model'),
    parked: counter('reelforge_projection_events_parked_total', 'Poison events parked by the read model'),
    errors: errorsCounter(registry),
  };
}
