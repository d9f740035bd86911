// Every failed request answers application/problem+json (RFC 9457), in one place: typed errors thrown by
// handlers, schema validation failures, fastify's own errors, unknown routes, and anything unexpected.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Type, type Static } from '@sinclair/typebox';

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

function send(request: FastifyRequest, reply: FastifyReply, p: Omit<Problem, 'type' | 'instance' | 'request_id' | 'error'> & { code: string; param: string | null }): FastifyReply {
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

/**
 * The answer to a route that does not exist. Routes hidden from some callers (debugging, for non-admins) answer them
 * with exactly this, so their existence is not revealed.
 */
export function sendRouteNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return send(request, reply, { status: 404, title: 'Not Found', detail: `no route ${request.method} ${request.url.split('?')[0]}`, code: 'route_not_found', param: null });
}

export const errorsPlugin = fp(
  async (app) => {
    app.addSchema(Problem);

    app.setErrorHandler((err: FastifyError, request, reply) => {
      if (err instanceof ProblemError) {
        return send(request, reply, { status: err.status, title: err.title, detail: err.message, code: err.code, param: err.param, errors: err.fieldErrors });
      }
      if (err.validation) {
        const errors = err.validation.map((v) => ({ field: fieldOf(v, err.validationContext), message: v.message ?? 'is invalid' }));
        const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
        return send(request, reply, { status: 400, title: 'Invalid request', detail, code: 'validation_failed', param: errors[0]?.field ?? null, errors });
      }
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
      if (status >= 500) {
        request.log.error({ err }, 'request failed');
        // Internal details stay in the log; the request id joins the two.
        return send(request, reply, { status, title: statusTitle(status), detail: `internal error (request id ${request.id})`, code: 'internal_error', param: null });
      }
      return send(request, reply, { status, title: statusTitle(status), detail: err.message, code: (err.code ?? 'bad_request').toLowerCase(), param: null });
    });

    app.setNotFoundHandler(sendRouteNotFound);
  },
  { name: 'reelforge-errors' },
);
