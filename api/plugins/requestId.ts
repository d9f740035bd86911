// Request ids: a caller's `x-request-id` is kept when it looks like an id (so a trace spans services), else a
// UUID is made; fastify puts it on every log line of the request, and the response echoes it.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import fp from 'fastify-plugin';

export const REQUEST_ID_HEADER = 'x-request-id';
export const REQUEST_ID_LOG_LABEL = 'requestId';

// Bounded and free of spaces and quotes: it is logged and echoed, so it must not carry anything else.
const VALID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** For fastify's `genReqId` option. */
export function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers[REQUEST_ID_HEADER];
  return typeof incoming === 'string' && VALID.test(incoming) ? incoming : randomUUID();
}

export const requestIdPlugin = fp(
  async (app) => {
    app.addHook('onRequest', async (request, reply) => {
      reply.header(REQUEST_ID_HEADER, request.id);
    });
  },
  { name: 'reelforge-request-id' },
);
