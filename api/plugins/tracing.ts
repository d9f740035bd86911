// One server span per HTTP request when the role's tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT): named after the route
// template (`POST /v1/videos`), under the caller's W3C `traceparent` if it sent one, else the root of a new trace. The
// handler runs inside it, so the workflow a request starts (through the Temporal client's interceptor) and everything
// that workflow does join the request's trace.
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyRequest {
    span?: Span;
  }
}

const tracer = trace.getTracer('reelforge-api');

export const tracingPlugin = fp(
  async (app) => {
    app.addHook('onRequest', (request, _reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const parent = propagation.extract(context.active(), request.headers);
      request.span = tracer.startSpan(
        `${request.method} ${route}`,
        { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'http.route': route, 'reelforge.request_id': request.id } },
        parent,
      );
      done();
    });
    // After the body is read (its stream's callbacks run outside any request context): the handler and the hooks
    // after this one run with the request's span active.
    app.addHook('preHandler', (request, _reply, done) => {
      if (!request.span) return done();
      context.with(trace.setSpan(context.active(), request.span), done);
    });
    app.addHook('onResponse', async (request, reply) => {
      const span = request.span;
      if (!span) return;
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    app.addHook('onRequestAbort', async (request) => {
      request.span?.setStatus({ code: SpanStatusCode.ERROR, message: 'aborted by the client' });
      request.span?.end();
    });
  },
  { name: 'reelforge-tracing' },
);
