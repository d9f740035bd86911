// Temporal's OpenTelemetry interceptors (@temporalio/interceptors-opentelemetry), wired as its documentation says, for
// a role whose tracing is on (infra/telemetry/tracing.ts): the client's carries the active span (the API request's)
// into the workflow start's headers; on a worker, the workflow interceptors (run inside the workflow sandbox, their
// spans handed out through the `exporter` sink) continue it in the workflow and put it on every activity it schedules,
// and the activity interceptors open each activity's span under it. Tracing off: no interceptor, no sink.
import type { ClientInterceptors } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import type { Tracing } from '../telemetry/tracing';

/** The workflow client's interceptors: the trace context goes with each workflow started, signalled or updated. */
export function tracingClientInterceptors(tracing: Tracing | undefined): ClientInterceptors | undefined {
  return tracing ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
}

/** A worker's interceptors and sinks for tracing (with `activity` interceptors of its own added after them). */
export function tracingWorkerOptions(
  tracing: Tracing | undefined,
  activity: ActivityInterceptorsFactory[] = [],
): { interceptors: WorkerInterceptors; sinks?: InjectedSinks<OpenTelemetrySinks> } {
  if (!tracing) return { interceptors: { activity } };
  return {
    interceptors: {
      workflowModules: [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
      activity: [
        (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) }),
        ...activity,
      ],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
