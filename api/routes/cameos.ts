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
import { useStrictJsonBody } from '../plugins/jsonBody';

export const cameosRoutes: FastifyPluginAsync<CameosRoutesOptions> = async (app, options) => {
  useStrictJsonBody(app);

  const context = cameosContext(options);
  await app.register(registerCameoRoutes, context);
  await app.register(readCameoRoutes, context);
  await app.register(changeCameoRoutes, context);
  await app.register(followRoutes, context);
};
