// For tests that run the role processes (test/scripts/drain.test.ts, observability.test.ts): a PostgreSQL database of
// the file's own on the test run's embedded PostgreSQL, and the environment the roles share on it and the test run's
// Temporal dev server, with task queues and a data folder named after the file; and the wait for a video to finish.
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { eventually, testEnv } from './env';

async function asAdmin(sql: string): Promise<void> {
  const admin = new PgClient({ connectionString: testEnv.embeddedPgUrl });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** Creates the database `name`; returns its URL. */
export async function createRoleDatabase(name: string): Promise<string> {
  await asAdmin(`CREATE DATABASE "${name}"`);
  const url = new URL(testEnv.embeddedPgUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropRoleDatabase(name: string): Promise<void> {
  await asAdmin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => undefined);
}

/** The roles' environment: events and read models in `databaseUrl`, task queues `<queues>` and `<queues>-gpu`, blobs under `dataDir`. */
export function roleEnv(options: { databaseUrl: string; queues: string; dataDir: string }): Record<string, string> {
  return {
    DATABASE_URL: options.databaseUrl,
    EVENTSTORE_URL: options.databaseUrl,
    TEMPORAL_ADDRESS: testEnv.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    ORCHESTRATION_TASK_QUEUE: options.queues,
    GPU_TASK_QUEUE: `${options.queues}-gpu`,
    DATA_DIR: options.dataDir,
    BLOB_URL: `file://${path.join(options.dataDir, 'blobs')}`,
    PORT: '0',
    HEALTH_HOST: '127.0.0.1',
    HEALTH_PORT: '0',
    LOG_LEVEL: 'info',
    INFERENCE_EP: 'cpu',
    INFERENCE_THREADS: '1',
    GPU_LOOKAHEAD_CHUNKS: '0',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** Polls the API until video `id` is completed or failed (or `timeoutMs` passes); returns what the API last said. */
export function videoFinished(apiUrl: string, headers: Record<string, string>, id: string, timeoutMs = 120000): Promise<{ status: string }> {
  return eventually(
    async () => {
      const video = (await (await fetch(`${apiUrl}/v1/videos/${id}`, { headers })).json()) as { status: string };
      return video.status === 'completed' || video.status === 'failed' ? video : undefined;
    },
    `video ${id} to finish`,
    timeoutMs,
    250,
  );
}
