// Request rate limits per caller (issue 18): `@fastify/rate-limit` counts each caller's requests under /v1 (keyed by
// user once authenticated, by address before) in a fixed window, up to the caller's tier's `rate_limit_requests`
// (the default tier's before authentication; a tier of 0 is not counted); over the limit a request is refused before
// its handler runs (so it records nothing) with 429 problem+json (`rate_limit_exceeded`), `Retry-After`, and the IETF
// `RateLimit-Policy` / `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers: `"<tier>";q=<limit>;w=<window s>`
// and `"<tier>";r=<remaining>;t=<seconds to reset>`), which every counted response carries. The count is per API
// process (its memory): behind a load balancer over N replicas a caller gets up to N times the rate (documented; a
// shared store, e.g. Redis, is the library's option for an exact fleet-wide count).
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import type { TierTable } from '../../infra/tiers';
import { ProblemError } from './errors';

export interface RateLimitOptions {
  /** Each tier's requests per window (`rateLimitRequests`; 0: not limited). */
  tiers: TierTable;
  windowSeconds: number;
}

async function rateLimitPlugin(app: FastifyInstance, options: RateLimitOptions): Promise<void> {
  const { tiers } = options;
  if (!tiers.anyRateLimit()) return;
  const tierOf = (request: FastifyRequest) => tiers.get(request.user?.tier);
  await app.register(rateLimit, {
    global: true,
    // After authentication (an onRequest hook), so the key is the caller.
    hook: 'preHandler',
    max: (request) => tierOf(request).rateLimitRequests,
    timeWindow: options.windowSeconds * 1000,
    keyGenerator: (request) => (request.user ? `user:${request.user.id}` : `ip:${request.ip}`),
    // Health, metrics and the API's document are not the API's work; a tier without a rate is not counted.
    allowList: (request) => !request.url.startsWith('/v1/') || tierOf(request).rateLimitRequests === 0,
    enableDraftSpec: true,
    errorResponseBuilder: (_request, context) =>
      new ProblemError({
        status: 429,
        code: 'rate_limit_exceeded',
        detail: `more than ${context.max} requests in ${options.windowSeconds} s; try again in ${Math.max(1, Math.ceil(context.ttl / 1000))} s`,
      }),
  });
  // The library's draft headers (RateLimit-Limit, -Remaining, -Reset) as the current draft's two structured fields.
  app.addHook('onSend', async (request, reply, payload) => {
    const limit = reply.getHeader('ratelimit-limit');
    if (limit === undefined) return payload;
    const remaining = reply.getHeader('ratelimit-remaining') ?? 0;
    const reset = reply.getHeader('ratelimit-reset') ?? options.windowSeconds;
    reply.removeHeader('ratelimit-limit');
    reply.removeHeader('ratelimit-remaining');
    reply.removeHeader('ratelimit-reset');
    const policy = tierOf(request).name;
    reply.header('ratelimit-policy', `"${policy}";q=${limit};w=${options.windowSeconds}`);
    reply.header('ratelimit', `"${policy}";r=${remaining};t=${reset}`);
    return payload;
  });
}

export const rateLimitsPlugin = fp(rateLimitPlugin, { name: 'reelforge-rate-limits' });
