// The Videos resource (API.md): create (JSON or multipart, Idempotency-Key), retrieve, list, content with Range,
// delete, cancel, publish, an SSE progress stream, domain events. Reads: the read model; decisions: the event stream.
// The routes live in api/videos/ by group, registered here in the order the OpenAPI document lists them; this plugin
// holds what they share: the JSON body parser, the server's closing, and one VideosContext (api/videos/context.ts).
import type { FastifyPluginAsync } from 'fastify';
import { videoChangeRoutes } from '../videos/changes';
import { videosContext, type VideosRoutesOptions } from '../videos/context';
import { createVideoRoutes } from '../videos/create';
import { usageRoutes } from '../videos/limits';
import { videoProgressRoutes } from '../videos/progress';
import { previewRoutes } from '../videos/preview';
import { provenanceRoutes } from '../videos/provenance';
import { readVideoRoutes } from '../videos/read';
import { useStrictJsonBody } from '../plugins/jsonBody';

export const videosRoutes: FastifyPluginAsync<VideosRoutesOptions> = async (app, options) => {
  // Progress streams end when the server starts closing (before it waits for open connections), not at their video's end.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });

  // Only JSON (strict, api/plugins/jsonBody.ts) and multipart (registered in server.ts) reach these routes.
  useStrictJsonBody(app, { alsoRemove: ['text/plain'] });

  const context = videosContext(options, () => closing);
  await app.register(createVideoRoutes, context);
  await app.register(readVideoRoutes, context);
  await app.register(previewRoutes, context);
  await app.register(provenanceRoutes, context);
  await app.register(videoProgressRoutes, context);
  await app.register(videoChangeRoutes, context);
  await app.register(usageRoutes, context);
};
