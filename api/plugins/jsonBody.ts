// The JSON body parser of the videos and cameos routes: a malformed body is a 400 naming `body` with the code
// invalid_json (fastify's own names neither field nor code), and an empty body with a JSON content type is no body, so
// POST .../cancel or DELETE with that header and nothing else is fine. Scoped to the plugin that calls it.
import type { FastifyInstance } from 'fastify';
import { ProblemError } from './errors';

/** Replaces the plugin's JSON parser (and drops the parsers of `alsoRemove`, e.g. text/plain) with the one above. */
export function useStrictJsonBody(app: FastifyInstance, options: { alsoRemove?: string[] } = {}): void {
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', ...(options.alsoRemove ?? [])]);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') return done(null, undefined);
    defaultJson(request, body as string, (err, value) => {
      if (!err) return done(null, value);
      const message = `is not valid JSON: ${err.message}`;
      done(
        new ProblemError({ status: 400, code: 'invalid_json', title: 'Malformed JSON', detail: `body ${message}`, errors: [{ field: 'body', message }] }),
        undefined,
      );
    });
  });
}
