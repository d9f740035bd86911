// GET /v1/debug/streams/:stream?until_revision= (being written).
import type { FastifyPluginAsync } from 'fastify';
import type { EventStore } from '../../infra/eventstore/port';

export const debugStreamsRoutes: FastifyPluginAsync<{ eventStore: EventStore }> = async () => undefined;
