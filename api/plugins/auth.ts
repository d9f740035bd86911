// Authentication and roles: `Authorization: Bearer <api key>` on every route under /v1 (secure by default), the
// caller as `request.user`, role gates declared in route config, and helpers for per-resource visibility.
//
// How routes use it:
// - A route under /v1 needs a valid key unless its config says `public: true`; routes outside /v1 (/healthz,
//   /readyz, /metrics, /openapi.json, /docs) are public. A missing, malformed or unknown key answers 401
//   problem+json with `error: {type: "invalid_request_error", code: "invalid_api_key"}`, as OpenAI answers one.
// - `config: { roles: ['admin'] }` gates an endpoint by role. A caller with another role gets 403
//   (`insufficient_role`): such endpoints (creating users, the moderation queue, debugging) are listed in the
//   OpenAPI document, so refusing openly hides nothing, and a 404 there would read as "no such route".
// - A resource the caller may not see (another user's video, a cameo's consent history) answers exactly what a
//   missing one answers: 404 with the resource's own not-found code, never 403, so its existence does not leak
//   (API.md). That check needs the resource, so it lives in the handler: `mayAccess(caller, ownerId, ...roles)`,
//   and throw the same ProblemError the handler throws for an unknown id.
import type { FastifyReply, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { Role, User, UserStore } from '../../infra/users/port';
import { problemResponse, ProblemError, type Problem } from './errors';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, on routes that need a key; null on public routes. Handlers read it through `callerOf`. */
    user: User | null;
  }
  interface FastifyContextConfig {
    /** Under /v1, a route that needs no API key. */
    public?: boolean;
    /** Only callers with one of these roles may use the endpoint; others get 403 (see the top of api/plugins/auth.ts). */
    roles?: readonly Role[];
  }
}

export interface AuthOptions {
  users: Pick<UserStore, 'findByKey'>;
}

const API_PREFIX = '/v1';

// Defined with the other error machinery; re-exported for the routes that import it from here.
export { problemResponse };

/** The authenticated caller; on a route that needs a key it is always there, since the hook ran first. */
export function callerOf(request: FastifyRequest): User {
  if (!request.user) throw new ProblemError({ status: 401, code: 'invalid_api_key', detail: 'this route needs an API key' });
  return request.user;
}

export function hasRole(user: User, ...roles: Role[]): boolean {
  return roles.includes(user.role);
}

/** Whether the caller may see a resource: they own it, or their role may see everyone's (e.g. auditor, admin). */
export function mayAccess(user: User, ownerId: string, ...roles: Role[]): boolean {
  return user.id === ownerId || hasRole(user, ...roles);
}

function requiresKey(url: string, config: RouteOptions['config']): boolean {
  const underApi = url === API_PREFIX || url.startsWith(`${API_PREFIX}/`);
  return underApi && config?.public !== true;
}

/**
 * Sent here rather than thrown as a ProblemError: the shared mapping types a 401 `authentication_error`, while OpenAI
 * answers a bad key with `invalid_request_error` / `invalid_api_key`, and SDK users match on that.
 */
function unauthorized(request: FastifyRequest, reply: FastifyReply, detail: string, tokenGiven: boolean): FastifyReply {
  const body: Problem = {
    type: 'urn:reelforge:problem:invalid_api_key',
    title: 'Unauthorized',
    status: 401,
    detail,
    instance: request.url,
    request_id: request.id,
    error: { message: detail, type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
  };
  // RFC 6750: the challenge, and `invalid_token` when a token was sent but refused.
  reply.header('www-authenticate', tokenGiven ? 'Bearer realm="reelforge", error="invalid_token"' : 'Bearer realm="reelforge"');
  return reply.status(401).type('application/problem+json').send(body);
}

function authenticateWith(users: AuthOptions['users']): onRequestHookHandler {
  return async function authenticate(request, reply) {
    const header = request.headers.authorization;
    if (header === undefined || header.trim() === '') {
      return unauthorized(request, reply, 'No API key provided. Send it in the Authorization header: `Authorization: Bearer <api key>`.', false);
    }
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match) {
      return unauthorized(request, reply, 'Malformed Authorization header: expected `Bearer <api key>`.', false);
    }
    const user = await users.findByKey(match[1]!);
    // The key is never echoed back (not even masked): responses and logs must not carry it.
    if (!user) return unauthorized(request, reply, 'Incorrect API key provided.', true);
    request.user = user;
    request.log = request.log.child({ userId: user.id });
  };
}

function roleGate(roles: readonly Role[]): onRequestHookHandler {
  return async function requireRole(request) {
    const caller = callerOf(request);
    if (!roles.includes(caller.role)) {
      throw new ProblemError({
        status: 403,
        code: 'insufficient_role',
        detail: `this endpoint needs the role ${roles.join(' or ')}; the API key has the role ${caller.role}`,
      });
    }
  };
}

function asArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

export const authPlugin = fp<AuthOptions>(
  async (app, options) => {
    app.decorateRequest('user', null);
    const authenticate = authenticateWith(options.users);

    // Attached per route as it is added, so every /v1 route registered after this plugin is covered without the
    // route asking, and the OpenAPI document says which routes need a key (and which roles) from the same config.
    app.addHook('onRoute', (route) => {
      const roles = route.config?.roles;
      if (!requiresKey(route.url, route.config)) {
        if (roles) throw new Error(`route ${route.method} ${route.url}: config.roles needs a route that requires an API key`);
        return;
      }
      const gates = roles ? [authenticate, roleGate(roles)] : [authenticate];
      route.onRequest = [...gates, ...asArray(route.onRequest as onRequestHookHandler | onRequestHookHandler[] | undefined)];
      const schema = route.schema ?? {};
      const description = roles ? [schema.description, `Roles: ${roles.join(', ')}.`].filter(Boolean).join('\n\n') : schema.description;
      route.schema = {
        ...schema,
        ...(description ? { description } : {}),
        security: [{ bearer: [] }],
        response: {
          401: problemResponse('No API key, a malformed Authorization header, or an unknown key'),
          ...(roles ? { 403: problemResponse(`The API key's role is not ${roles.join(' or ')}`) } : {}),
          ...(schema.response as object | undefined),
        },
      };
    });
  },
  { name: 'reelforge-auth', dependencies: ['reelforge-errors'] },
);
