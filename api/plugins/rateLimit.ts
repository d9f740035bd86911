// Request rate limits per caller (issue 18): `@fastify/rate-limit` counts each caller's requests under /v1 (keyed by
// user once authenticated, by address before) in a fixed window; over the limit a request is refused before its
// handler runs (so it records nothing) with 429 problem+json (`rate_limit_exceeded`), `Retry-After`, and the IETF
// `RateLimit-Policy` / `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers: `"default";q=<limit>;w=<window s>`
// and `"default";r=<remaining>;t=<seconds to reset>`), which every counted response carries. The count is per API
// process (its memory): behind a load balancer over N replicas a caller gets up to N times the rate (documented; a
// shared store, e.g. Redis, is the library's option for an exact fleet-wide count).
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ProblemError } from './errors';

export interface RateLimitOptions {
  /** Requests per caller per window; 0 turns the limit off. */
  max: number;
  windowSeconds: number;
}

const POLICY = 'default';

async function rateLimitPlugin(app: FastifyInstance, options: RateLimitOptions): Promise<void> {
  if (options.max === 0) return;
  await app.register(rateLimit, {
    global: true,
    // After authentication (an onRequest hook), so the key is the caller.
    hook: 'preHandler',
    max: options.max,
    timeWindow: options.windowSeconds * 1000,
    keyGenerator: (request) => (request.user ? `user:${request.user.id}` : `ip:${request.ip}`),
    // Health, metrics and the API's document are not the API's work.
    allowList: (request) => !request.url.startsWith('/v1/'),
    enableDraftSpec: true,
    errorResponseBuilder: (_request, context) =>
      new ProblemError({
        status: 429,
        code: 'rate_limit_exceeded',
        detail: `more than ${context.max} requests in ${options.windowSeconds} s; try again in ${Math.max(1, Math.ceil(context.ttl / 1000))} s`,
      }),
  });
  // The library's draft headers (RateLimit-Limit, -Remaining, -Reset) as the current draft's two structured fields.
  app.addHook('onSend', async (_request, reply, payload) => {
    const limit = reply.getHeader('ratelimit-limit');
    if (limit === undefined) return payload;
    const remaining = reply.getHeader('ratelimit-remaining') ?? 0;
    const reset = reply.getHeader('ratelimit-reset') ?? options.windowSeconds;
    reply.removeHeader('ratelimit-limit');
    reply.removeHeader('ratelimit-remaining');
    reply.removeHeader('ratelimit-reset');
    reply.header('ratelimit-policy', `"${POLICY}";q=${limit};w=${options.windowSeconds}`);
    reply.header('ratelimit', `"${POLICY}";r=${remaining};t=${reset}`);
    return payload;
  });
}

export const rateLimitsPlugin = fp(rateLimitPlugin, { name: 'reelforge-rate-limits' });
