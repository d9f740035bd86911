// The Videos resource (API.md): create (JSON or multipart, Idempotency-Key), retrieve, list, content with Range,
// delete, cancel, publish, an SSE progress stream, domain events. Reads: the read model; decisions: the event stream.
// The routes live in api/videos/ by group, registered here in the order the OpenAPI document lists them; this plugin
// holds what they share: the JSON body parser, the server's closing, and one VideosContext (api/videos/context.ts).
import type { FastifyPluginAsync } from 'fastify';
import { ProblemError } from '../plugins/errors';
import { videoChangeRoutes } from '../videos/changes';
import { videosContext, type VideosRoutesOptions } from '../videos/context';
import { createVideoRoutes } from '../videos/create';
import { videoProgressRoutes } from '../videos/progress';
import { readVideoRoutes } from '../videos/read';

export const videosRoutes: FastifyPluginAsync<VideosRoutesOptions> = async (app, options) => {
  // Progress streams end when the server starts closing (before it waits for open connections), not at their video's end.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });

  // JSON here answers a malformed body as a 400 naming `body` (fastify's own says neither field nor code), and takes
  // an empty body as none, so POST .../cancel with a JSON content type and no body is fine. text/plain is dropped, so
  // only JSON and multipart (registered in server.ts) reach these routes. Scoped to this plugin and its groups.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') return done(null, undefined);
    defaultJson(request, body as string, (err, value) => {
      if (!err) return done(null, value);
      const message = `is not valid JSON: ${err.message}`;
      done(new ProblemError({ status: 400, code: 'invalid_json', title: 'Malformed JSON', detail: `body ${message}`, errors: [{ field: 'body', message }] }), undefined);
    });
  });

  const context = videosContext(options, () => closing);
  await app.register(createVideoRoutes, context);
  await app.register(readVideoRoutes, context);
  await app.register(videoProgressRoutes, context);
  await app.register(videoChangeRoutes, context);
};
