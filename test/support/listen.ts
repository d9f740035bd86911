// The API app built from `deps` and listening on a free port of 127.0.0.1, for tests that talk to it over HTTP.
import type { FastifyInstance } from 'fastify';
import { buildServer, type ServerDeps } from '../../api/server';

export interface Running {
  app: FastifyInstance;
  url: string;
}

export async function listen(deps: ServerDeps): Promise<Running> {
  const app = await buildServer(deps);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('no address');
  return { app, url: `http://127.0.0.1:${address.port}` };
}
