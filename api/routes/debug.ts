// Debugging endpoints (API.md "Debugging"): workflow histories and their replay, and domain streams as of a revision.
// Admins only; anyone else gets the same 404 as a route that does not exist, so the endpoints' existence is not
// revealed to callers who may not use them.
import type { FastifyPluginAsync, preParsingAsyncHookHandler } from 'fastify';
import type { EventStore } from '../../infra/eventstore/port';
import type { TemporalClient } from '../../infra/temporal/connection';
import type { WorkflowCode } from '../../infra/temporal/replay';
import { callerOf, hasRole } from '../plugins/auth';
import { sendRouteNotFound } from '../plugins/errors';
import { debugStreamsRoutes } from './debugStreams';
import { debugWorkflowsRoutes } from './debugWorkflows';

export interface DebugRoutesOptions {
  temporal: TemporalClient;
  eventStore: EventStore;
  /** The workflow code replays run against; built (bundled) on the first replay and kept. */
  workflowCode: () => Promise<WorkflowCode>;
}

/**
 * Non-admins see no route here. A preParsing hook: it runs after authentication (the routes' onRequest hooks) and
 * before the body or the query is looked at, so a non-admin's bad input is not told apart from a missing route.
 */
export const adminOnly: preParsingAsyncHookHandler = async (request, reply, payload) => {
  if (!hasRole(callerOf(request), 'admin')) {
    await sendRouteNotFound(request, reply);
    return payload;
  }
  return payload;
};

export const debugRoutes: FastifyPluginAsync<DebugRoutesOptions> = async (app, options) => {
  app.addHook('preParsing', adminOnly);
  await app.register(debugWorkflowsRoutes, options);
  await app.register(debugStreamsRoutes, { eventStore: options.eventStore });
};
