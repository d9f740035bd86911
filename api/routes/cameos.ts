// The Cameos resource (API.md "Cameos and consent"): liveness challenges, registration (and the OpenAI-compatible
// `characters`), reads folded from the `cameo-<id>` stream, consent changes as Updates on the cameo's workflow, its
// appearances and its hash-chained consent history, and follows (which `mutuals` permission rests on).
// The routes live in api/cameos/ by group, registered here in the order the OpenAPI document lists them; who may see
// and change a cameo is decided in api/cameos/context.ts, which they share.
import type { FastifyPluginAsync } from 'fastify';
import { changeCameoRoutes } from '../cameos/changes';
import { cameosContext, type CameosRoutesOptions } from '../cameos/context';
import { followRoutes } from '../cameos/follows';
import { readCameoRoutes } from '../cameos/read';
import { registerCameoRoutes } from '../cameos/register';
import { ProblemError } from '../plugins/errors';

export const cameosRoutes: FastifyPluginAsync<CameosRoutesOptions> = async (app, options) => {
  // As in the videos routes: a malformed JSON body is a 400 naming `body`, and an empty body with a JSON content type
  // is no body (DELETE and POST without parameters). Scoped to this plugin and its groups.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') return done(null, undefined);
    defaultJson(request, body as string, (err, value) => {
      if (!err) return done(null, value);
      const message = `is not valid JSON: ${err.message}`;
      done(new ProblemError({ status: 400, code: 'invalid_json', title: 'Malformed JSON', detail: `body ${message}`, errors: [{ field: 'body', message }] }), undefined);
    });
  });

  const context = cameosContext(options);
  await app.register(registerCameoRoutes, context);
  await app.register(readCameoRoutes, context);
  await app.register(changeCameoRoutes, context);
  await app.register(followRoutes, context);
};
