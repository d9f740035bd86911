// OpenTelemetry tracing of a role process, set up only when OTEL_EXPORTER_OTLP_ENDPOINT is set: the Node tracing SDK
// (AsyncLocalStorage context, W3C trace-context propagation) registered globally, its spans batched and sent over
// OTLP/HTTP (JSON) to `<endpoint>/v1/traces`, under the service name `reelforge-<role>`. Unset, nothing is installed:
// @opentelemetry/api's calls stay no-ops and cost nothing. One trace per video: the API's request span is the root,
// and the Temporal interceptors (infra/temporal/tracing.ts) carry it through the workflow to the activities and the GPU
// worker's inference spans.
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Config } from '../config';
import type { Logger } from '../logger';

export interface Tracing {
  /** What the Temporal worker's workflow span exporter (a sink) hands the sandbox's spans to. */
  resource: Resource;
  spanProcessor: SpanProcessor;
  /** Sends the spans still buffered and stops; part of the role's shutdown. */
  shutdown(): Promise<void>;
}

/** Installs tracing for `role` when the config names an OTLP endpoint; undefined (nothing installed) otherwise. */
export function startTracing(config: Pick<Config, 'otlpEndpoint'>, role: string, logger: Logger): Tracing | undefined {
  if (!config.otlpEndpoint) return undefined;
  const url = `${config.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`;
  const resource = new Resource({ 'service.name': `reelforge-${role}`, 'service.instance.id': `${process.pid}` });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register();
  logger.info({ otlp: url }, 'tracing: spans are exported over OTLP/HTTP');
  return {
    resource,
    spanProcessor,
    shutdown: () =>
      provider.shutdown().catch((err: unknown) => {
        logger.warn({ err }, 'tracing: spans not flushed at shutdown');
      }),
  };
}
