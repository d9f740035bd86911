// The API of `bench:projections --scale`, for its reads over HTTP: the app `npm start` serves (api/server.ts), built
// over the bench's event store and read models and listening on 127.0.0.1, with callers of its own (API keys in a
// users store in the bench's schema). Temporal is configured but never started: the reads never call it (the API
// connects lazily, on first use), and blobs are a folder that the reads never touch.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { buildServer, DEFAULT_INPUT_REFERENCE_MAX_BYTES } from '../../api/server';
import { PgIdempotencyStore } from '../../api/videos/idempotency';
import { createVideoReadModel } from '../../api/videos/readModel';
import { FsBlobStore } from '../../infra/blobs/filesystem';
import type { EventStore } from '../../infra/eventstore/port';
import type { PgPool } from '../../infra/postgres/pool';
import { connectTemporalClient } from '../../infra/temporal/connection';
import type { UserStore } from '../../infra/users/port';
import { openUserStore } from '../../infra/users/store';

export interface BenchCallers {
  /** The users' ids (they take the place of the synthetic store's first users) and their API keys. */
  ids: string[];
  keys: string[];
  users: UserStore;
}

/** `count` users with API keys, in a users store in `schema`. */
export async function createCallers(pool: PgPool, schema: string, count: number): Promise<BenchCallers> {
  const users = await openUserStore({ pool, schema });
  const ids: string[] = [];
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const created = await users.createUser({ name: `bench reader ${i}`, role: 'user' });
    ids.push(created.user.id);
    keys.push(created.apiKey);
  }
  return { ids, keys, users };
}

export interface BenchApi {
  url: string;
  close(): Promise<void>;
}

/** The API app on a free port of 127.0.0.1, reading the read models in `readModelsSchema`. */
export async function startBenchApi(options: {
  pool: PgPool;
  eventStore: EventStore;
  users: UserStore;
  appSchema: string;
  readModelsSchema: string;
}): Promise<BenchApi> {
  const blobsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-bench-blobs-'));
  const temporal = connectTemporalClient({ temporalAddress: '127.0.0.1:7233', temporalDevPort: 7233, temporalNamespace: 'default' });
  const idempotency = await PgIdempotencyStore.open({ pool: options.pool, schema: options.appSchema });
  const app = await buildServer({
    logger: pino({ level: 'silent' }),
    eventStore: options.eventStore,
    temporal,
    readModels: options.pool,
    readModelsSchema: options.readModelsSchema,
    users: options.users,
    videos: {
      blobs: new FsBlobStore(blobsDir),
      readModel: createVideoReadModel(options.pool, { schema: options.readModelsSchema }),
      idempotency,
      config: {
        modelName: 'reference',
        taskQueue: 'bench-unused',
        gpuTaskQueue: 'bench-unused-gpu',
        inputReferenceMaxBytes: DEFAULT_INPUT_REFERENCE_MAX_BYTES,
      },
    },
    engagement: { schema: options.readModelsSchema },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('the bench API has no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    async close() {
      await app.close();
      await temporal.close();
      fs.rmSync(blobsDir, { recursive: true, force: true });
    },
  };
}
