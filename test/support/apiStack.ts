// The whole platform in one test process, over HTTP: the API server, the orchestration worker (workflow bundle and
// real activities), a GPU worker with the real engine on the CPU, the videos projector, the event store and the
// users, all on the jest run's Temporal dev server and embedded PostgreSQL, in schemas of their own.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import pino from 'pino';
import { buildServer } from '../../api/server';
import { PgIdempotencyStore } from '../../api/videos/idempotency';
import { createVideoReadModel } from '../../api/videos/readModel';
import { createGpuActivities } from '../../gpu-workers/activities';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { createLogger } from '../../infra/logger';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { createPgPool } from '../../infra/postgres/pool';
import { connectTemporalClient } from '../../infra/temporal/connection';
import type { Role } from '../../infra/users/port';
import { openUserStore } from '../../infra/users/store';
import { ProjectionRunner } from '../../projections/runner';
import { createVideosReadModel } from '../../projections/videos';
import { realActivities } from './activities';
import { testEnv } from './env';
import { testEngine } from './pipeline';
import { sharedDevServer } from './temporal';

export async function startApiStack() {
  const suffix = randomUUID().replace(/-/g, '').slice(0, 10);
  const schemas = { events: `stack_es_${suffix}`, app: `stack_app_${suffix}`, readModels: `stack_rm_${suffix}` };
  const env = await sharedDevServer();
  const pool = createPgPool({ connectionString: testEnv.embeddedPgUrl, max: 12 });
  const eventStore = await PgEventStore.open({ connectionString: testEnv.embeddedPgUrl, schema: schemas.events, maxEventBytes: 1024 * 1024, pollIntervalMs: 50 });
  const users = await openUserStore({ pool, schema: schemas.app });
  const idempotency = await PgIdempotencyStore.open({ pool, schema: schemas.app });
  const projector = new ProjectionRunner({ eventStore, pool, schema: schemas.readModels, readModels: [createVideosReadModel()], logger: createLogger({ level: 'silent', name: 'test-projector' }) });
  await projector.start();

  const dataDir = fs.mkdtempSync(path.join(testEnv.tmpDir, 'stack-'));
  const { activities, blobs } = realActivities(eventStore, dataDir);
  const taskQueue = `stack-${suffix}`;
  const gpuTaskQueue = `stack-gpu-${suffix}`;
  const orchestration = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: { codePath: testEnv.workflowBundlePath }, activities });
  const gpu = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: gpuTaskQueue,
    activities: createGpuActivities({ engine: await testEngine(), blobs, ffmpeg: createFfmpeg({ ffmpegPath: undefined }), logger: createLogger({ level: 'silent', name: 'test-gpu' }) }),
  });
  const workers = Promise.all([orchestration.run(), gpu.run()]);

  const temporal = connectTemporalClient({ temporalAddress: testEnv.temporalAddress, temporalDevPort: 7233, temporalNamespace: 'default' });
  const app = await buildServer({
    logger: pino({ level: 'silent' }),
    eventStore,
    temporal,
    readModels: pool,
    users,
    videos: {
      blobs,
      readModel: createVideoReadModel(pool, { schema: schemas.readModels }),
      idempotency,
      config: { modelName: 'reference', taskQueue, gpuTaskQueue, inputReferenceMaxBytes: 1024 * 1024, streamPollMs: 100 },
    },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('the test server has no address');

  return {
    url: `http://127.0.0.1:${address.port}`,
    eventStore,
    blobs,
    dataDir,
    async user(name: string, role: Role = 'user') {
      return users.createUser({ name, role });
    },
    async stop() {
      await app.close();
      orchestration.shutdown();
      gpu.shutdown();
      await workers;
      await projector.stop();
      await temporal.close();
      await eventStore.close();
      for (const schema of Object.values(schemas)) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
      await env.teardown();
    },
  };
}
