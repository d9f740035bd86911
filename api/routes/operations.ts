// Operations endpoints: liveness (the process answers) and readiness (its dependencies answer). /metrics,
// /openapi.json and /docs come from their plugins.
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { runChecks, type HealthCheck } from '../../infra/health';

export interface ReadinessChecks {
  temporal: HealthCheck;
  eventstore: HealthCheck;
  readmodels: HealthCheck;
  /** The blob store; absent when the server serves no resource that uses it. */
  blobs?: HealthCheck;
}

const CheckResult = Type.String({ description: '"ok", or why the dependency is not usable' });

export const Health = Type.Object({ status: Type.Literal('ok') }, { title: 'Health' });

export const Readiness = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
    checks: Type.Object({ temporal: CheckResult, eventstore: CheckResult, readmodels: CheckResult, blobs: Type.Optional(CheckResult) }),
  },
  { title: 'Readiness' },
);
export type Readiness = Static<typeof Readiness>;

export interface OperationsOptions {
  checks: ReadinessChecks;
  /** A dependency that does not answer within this is reported as down rather than holding the probe. */
  checkTimeoutMs?: number;
}

export const operationsRoutes: FastifyPluginAsync<OperationsOptions> = async (app, options) => {
  const timeoutMs = options.checkTimeoutMs ?? 3000;
  const checks = Object.fromEntries(Object.entries(options.checks).filter(([, check]) => check !== undefined)) as Record<string, HealthCheck>;

  app.get('/healthz', { schema: { tags: ['operations'], summary: 'Liveness: the process answers', response: { 200: Health } } }, async () => ({
    status: 'ok' as const,
  }));

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: Temporal, the event store, the read models database and the blob store answer',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (request, reply) => {
      const result = await runChecks(checks, timeoutMs);
      if (result.status !== 'ok') request.log.warn({ checks: result.checks }, 'not ready');
      reply.status(result.status === 'ok' ? 200 : 503);
      return result as Readiness;
    },
  );
};
