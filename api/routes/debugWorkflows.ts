// GET /v1/debug/workflows/:workflow_id/history and POST /v1/debug/workflows/:workflow_id/replay (being written).
import type { FastifyPluginAsync } from 'fastify';
import type { DebugRoutesOptions } from './debug';

export const debugWorkflowsRoutes: FastifyPluginAsync<DebugRoutesOptions> = async () => undefined;
