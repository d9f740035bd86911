// Every failed request answers application/problem+json (RFC 9457), in one place: typed errors thrown by
// handlers, schema validation failures, fastify's own errors, unknown routes, a method a path does not have (405
// with Allow), requests Node's HTTP parser refuses, and anything unexpected. And every route's OpenAPI entry
// declares the errors any route can answer (standardErrorResponses), so the document says what the API answers.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { Type, type Static } from '@sinclair/typebox';
import { STORABLE_TEXT_PATTERN, storableTextProblem, VISIBLE_TEXT_PATTERN, visibleTextProblem } from '../../domain/text';

export const FieldError = Type.Object({ field: Type.String(), message: Type.String() });

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'A URI naming the kind of problem' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.String({ description: 'The request path' }),
    request_id: Type.String(),
    errors: Type.Optional(Type.Array(FieldError, { description: 'Present on validation failures' })),
    error: Type.Object(
      {
        message: Type.String(),
        type: Type.String(),
        param: Type.Union([Type.String(), Type.Null()]),
        code: Type.Union([Type.String(), Type.Null()]),
      },
      { description: 'The same failure in the shape OpenAI SDKs read' },
    ),
  },
  { $id: 'Problem', title: 'Problem' },
);
export type Problem = Static<typeof Problem>;

/** A failure handlers throw on purpose; `code` is stable and machine-readable (e.g. `video_not_found`). */
export class ProblemError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly param: string | null;
  readonly fieldErrors: Array<{ field: string; message: string }> | undefined;

  constructor(options: { status: number; code: string; detail: string; title?: string; param?: string; errors?: Array<{ field: string; message: string }> }) {
    super(options.detail);
    this.name = 'ProblemError';
    this.status = options.status;
    this.code = options.code;
    this.title = options.title ?? statusTitle(options.status);
    this.param = options.param ?? options.errors?.[0]?.field ?? null;
    this.fieldErrors = options.errors;
  }
}

const contentRefusals = new WeakSet<object>();

/**
 * A field whose form the OpenAPI document allows but whose content cannot be used: a file that is not a video, a
 * cursor that is not one, yourself as someone to follow. Alone (no field breaking the document), such refusals are
 * 422; a request that breaks the documented schema is 400, so a request the document calls valid is not answered 400.
 */
export function contentRefusal(field: string, message: string): { field: string; message: string } {
  const error = { field, message };
  contentRefusals.add(error);
  return error;
}

/** A refused request naming every field at fault (the first is `error.param`): 400, or 422 when only content is at fault. */
export function invalidParams(errors: Array<{ field: string; message: string }>): ProblemError {
  const unprocessable = errors.length > 0 && errors.every((e) => contentRefusals.has(e));
  return new ProblemError({
    status: unprocessable ? 422 : 400,
    code: unprocessable ? 'unprocessable_content' : 'validation_failed',
    title: unprocessable ? 'Unprocessable request' : 'Invalid request',
    detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    errors,
  });
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function statusTitle(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

/** The `error.type` values the OpenAI SDKs know. */
function openAiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

function problemType(code: string): string {
  return `urn:reelforge:problem:${code}`;
}

function send(
  request: FastifyRequest,
  reply: FastifyReply,
  p: Omit<Problem, 'type' | 'instance' | 'request_id' | 'error'> & { code: string; param: string | null },
): FastifyReply {
  const body: Problem = {
    type: problemType(p.code),
    title: p.title,
    status: p.status,
    detail: p.detail,
    instance: request.url,
    request_id: request.id,
    ...(p.errors ? { errors: p.errors } : {}),
    error: { message: p.detail, type: openAiType(p.status), param: p.param, code: p.code },
  };
  return reply.status(p.status).type('application/problem+json').send(body);
}

/** `/prompt` → `prompt`, `/cameo_ids/2` → `cameo_ids[2]`; a missing property names itself. */
function fieldOf(v: { instancePath?: string; params?: Record<string, unknown> }, context: string | undefined): string {
  const parts = (v.instancePath ?? '').split('/').filter(Boolean);
  const missing = v.params?.missingProperty;
  if (typeof missing === 'string') parts.push(missing);
  const path = parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  return path === '' ? (context ?? 'body') : path;
}

/** The text rules' patterns, explained by the rule itself: "contains control character U+0093 at index 12", not the regex. */
const PATTERN_RULES = new Map<string, (value: string) => string | undefined>([
  [VISIBLE_TEXT_PATTERN, (value) => visibleTextProblem(value, Infinity)],
  [STORABLE_TEXT_PATTERN, storableTextProblem],
]);

/** The value a validation error is about: `instancePath` (a JSON pointer) into the part of the request it names. */
function valueAt(request: FastifyRequest, context: string | undefined, instancePath: string | undefined): unknown {
  const parts: Record<string, unknown> = { body: request.body, querystring: request.query, params: request.params, headers: request.headers };
  let value = context ? parts[context] : undefined;
  for (const key of (instancePath ?? '').split('/').filter(Boolean)) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return value;
}

function explainPattern(
  v: { keyword?: string; params?: Record<string, unknown>; instancePath?: string },
  request: FastifyRequest,
  context: string | undefined,
): string | undefined {
  const rule = v.keyword === 'pattern' ? PATTERN_RULES.get(String(v.params?.pattern)) : undefined;
  const value = rule ? valueAt(request, context, v.instancePath) : undefined;
  return rule && typeof value === 'string' ? rule(value) : undefined;
}

/**
 * The answer to a route that does not exist. Routes hidden from some callers (debugging, for non-admins) answer them
 * with exactly this, so their existence is not revealed.
 */
export function sendRouteNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return send(request, reply, {
    status: 404,
    title: 'Not Found',
    detail: `no route ${request.method} ${request.url.split('?')[0]}`,
    code: 'route_not_found',
    param: null,
  });
}

/**
 * A documented error response: the shared Problem schema under its real media type, so the OpenAPI document says
 * `application/problem+json` (and fastify serializes the error with that schema).
 */
export function problemResponse(description: string) {
  return { description, content: { 'application/problem+json': { schema: Type.Ref('Problem') } } };
}

/** For the routes that answer it: content the document allows but that cannot be used (see contentRefusal). */
export function unprocessableResponse(what: string) {
  return problemResponse(`The request keeps to this document, but ${what}; \`errors\` names each field`);
}

const BODYLESS_METHODS = new Set(['GET', 'HEAD']);

/**
 * What any route can answer besides its own responses: 400 (a parameter, a query value or the body is malformed,
 * or holds text that cannot be stored), 500; with a body, 413 and 415 too. A route's own entry for a status wins.
 */
export function standardErrorResponses(methods: readonly string[]): Record<number, ReturnType<typeof problemResponse>> {
  const responses: Record<number, ReturnType<typeof problemResponse>> = {
    400: problemResponse('A parameter, query value, header or the body is invalid; `errors` names each field, `error.param` the first'),
    500: problemResponse('An unexpected failure; the detail carries the request id that joins it to the server log'),
  };
  if (methods.some((m) => !BODYLESS_METHODS.has(m))) {
    responses[413] = problemResponse('The body is larger than this endpoint takes');
    responses[415] = problemResponse('The body has a media type this endpoint does not take');
  }
  return responses;
}

/** `/v1/videos/:id/remix` as a regular expression for request paths. */
function pathPattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}

/**
 * Node's HTTP parser refuses a request before fastify sees it (a NUL or another control character in a header, a
 * malformed request line): answered as problem+json naming the header at fault, as fastify's handler would answer
 * anything else. For fastify's `clientErrorHandler` option.
 */
export function clientErrorHandler(err: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.toString('latin1') : undefined;
  let status = 400;
  let code = 'malformed_request';
  let detail = 'the request could not be parsed as HTTP/1.1';
  let field: string | null = null;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    [status, code, detail] = [408, 'request_timeout', 'the request did not arrive in time'];
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    [status, code, detail] = [431, 'headers_too_large', 'the request headers are larger than the server takes'];
  } else if (raw !== undefined) {
    // The first header line holding a byte HTTP forbids there (a control character other than tab) is the culprit.
    const lines = raw.split('\r\n');
    const bad = lines.slice(1).find((line) => /[\u0000-\u0008\u000a-\u001f\u007f]/.test(line));
    if (bad !== undefined && bad.includes(':')) {
      field = bad.slice(0, bad.indexOf(':')).trim();
      code = 'invalid_header';
      detail = `${field}: must not contain NUL or other control characters`;
    }
  }
  const title = statusTitle(status);
  const instance = /^[A-Z]+ (\S+)/.exec(raw ?? '')?.[1] ?? '/';
  const body: Problem = {
    type: problemType(code),
    title,
    status,
    detail,
    instance: instance.split('?')[0]!,
    request_id: randomUUID(),
    ...(field ? { errors: [{ field, message: 'must not contain NUL or other control characters' }] } : {}),
    error: { message: detail, type: openAiType(status), param: field, code },
  };
  const json = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${title}\r\nContent-Length: ${Buffer.byteLength(json)}\r\nContent-Type: application/problem+json\r\nConnection: close\r\n\r\n${json}`,
    );
  }
  socket.destroy();
}

export const errorsPlugin = fp(
  async (app) => {
    app.addSchema(Problem);

    // Every route, as it is added: its standard error responses, and its path and methods for the 405 below.
    const methodsByPath = new Map<string, { pattern: RegExp; fixed: number; methods: Set<string> }>();
    app.addHook('onRoute', (route: RouteOptions) => {
      const methods = [route.method].flat().map((m) => m.toUpperCase());
      const fixed = route.url.split('/').filter((segment) => segment !== '' && !segment.startsWith(':') && segment !== '*').length;
      const entry = methodsByPath.get(route.url) ?? { pattern: pathPattern(route.url), fixed, methods: new Set<string>() };
      for (const m of methods) entry.methods.add(m);
      if (entry.methods.has('GET')) entry.methods.add('HEAD');
      methodsByPath.set(route.url, entry);
      if (route.schema?.hide) return;
      route.schema = { ...route.schema, response: { ...standardErrorResponses(methods), ...(route.schema?.response as object | undefined) } };
    });

    // A path that exists, asked with a method it does not have: 405 with the methods it has (RFC 9110 15.5.6), not
    // 404. In onRequest, before fastify reads a body it has no route for (a QUERY without a Content-Type is a 400).
    app.addHook('onRequest', async (request, reply) => {
      if (!request.is404) return;
      const path = request.url.split('?')[0]!;
      // The path's own methods: those of the most specific route it matches (/v1/cameos/challenges, not /v1/cameos/:id).
      let best = -1;
      const allowed = new Set<string>();
      for (const { pattern, methods, fixed } of methodsByPath.values()) {
        if (!pattern.test(path) || fixed < best) continue;
        if (fixed > best) allowed.clear();
        best = fixed;
        for (const m of methods) allowed.add(m);
      }
      if (allowed.size === 0 || allowed.has(request.method)) return;
      const allow = [...allowed].sort().join(', ');
      reply.header('allow', allow);
      return send(request, reply, {
        status: 405,
        title: statusTitle(405),
        detail: `${request.method} is not a method of ${path}; it has ${allow}`,
        code: 'method_not_allowed',
        param: null,
      });
    });

    app.setErrorHandler((err: FastifyError, request, reply) => {
      if (err instanceof ProblemError) {
        return send(request, reply, { status: err.status, title: err.title, detail: err.message, code: err.code, param: err.param, errors: err.fieldErrors });
      }
      if (err.validation) {
        const errors = err.validation.map((v) => ({
          field: fieldOf(v, err.validationContext),
          message: explainPattern(v, request, err.validationContext) ?? v.message ?? 'is invalid',
        }));
        const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
        return send(request, reply, { status: 400, title: 'Invalid request', detail, code: 'validation_failed', param: errors[0]?.field ?? null, errors });
      }
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
      if (status >= 500) {
        request.log.error({ err }, 'request failed');
        // Internal details stay in the log; the request id joins the two.
        return send(request, reply, {
          status,
          title: statusTitle(status),
          detail: `internal error (request id ${request.id})`,
          code: 'internal_error',
          param: null,
        });
      }
      return send(request, reply, { status, title: statusTitle(status), detail: err.message, code: (err.code ?? 'bad_request').toLowerCase(), param: null });
    });

    app.setNotFoundHandler(sendRouteNotFound);
  },
  { name: 'reelforge-errors' },
);
