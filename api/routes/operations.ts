// Operations endpoints: liveness (the process answers) and readiness (its dependencies answer). /metrics,
// /openapi.json and /docs come from their plugins.
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';

export const CHECK_NAMES = ['temporal', 'eventstore', 'readmodels'] as const;
export type CheckName = (typeof CHECK_NAMES)[number];
export type ReadinessChecks = Record<CheckName, () => Promise<void>>;

const CheckResult = Type.String({ description: '"ok", or why the dependency is not usable' });

export const Health = Type.Object({ status: Type.Literal('ok') }, { title: 'Health' });

export const Readiness = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
    checks: Type.Object({ temporal: CheckResult, eventstore: CheckResult, readmodels: CheckResult }),
  },
  { title: 'Readiness' },
);
export type Readiness = Static<typeof Readiness>;

export interface OperationsOptions {
  checks: ReadinessChecks;
  /** A dependency that does not answer within this is reported as down rather than holding the probe. */
  checkTimeoutMs?: number;
}

async function runCheck(check: () => Promise<void>, timeoutMs: number): Promise<string> {
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

export const operationsRoutes: FastifyPluginAsync<OperationsOptions> = async (app, options) => {
  const timeoutMs = options.checkTimeoutMs ?? 3000;

  app.get('/healthz', { schema: { tags: ['operations'], summary: 'Liveness: the process answers', response: { 200: Health } } }, async () => ({
    status: 'ok' as const,
  }));

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: Temporal, the event store and the read models database answer',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (request, reply) => {
      const results = await Promise.all(CHECK_NAMES.map((name) => runCheck(options.checks[name], timeoutMs)));
      const checks = Object.fromEntries(CHECK_NAMES.map((name, i) => [name, results[i]!])) as Readiness['checks'];
      const ok = results.every((r) => r === 'ok');
      if (!ok) request.log.warn({ checks }, 'not ready');
      reply.status(ok ? 200 : 503);
      return { status: ok ? 'ok' : 'degraded', checks } satisfies Readiness;
    },
  );
};
