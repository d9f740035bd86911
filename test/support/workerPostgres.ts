// One embedded PostgreSQL cluster per jest worker, started by test/globalSetup.ts. Schemas alone do not keep test files
// that run at the same time apart: the event store's $all returns only rows below the snapshot's xmin, which is the
// oldest transaction running anywhere in the cluster (any database), so a transaction a test holds open in one file
// would hold back $all in every other file. The files of one worker run one after another on its cluster, each in
// schemas of its own.
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../infra/postgres/embedded';

/** The environment variable holding the connection string of worker `workerId`'s cluster (1-based, as JEST_WORKER_ID). */
export function workerPgUrlVariable(workerId: number | string): string {
  return `REELFORGE_TEST_PG_URL_${workerId}`;
}

/**
 * Starts `workers` clusters side by side under `tmp`, and sets each one's variable. If one fails to start, those that
 * did are stopped before the failure is rethrown.
 */
export async function startWorkerPostgres(tmp: string, workers: number): Promise<EmbeddedPostgres[]> {
  const ids = Array.from({ length: Math.max(1, workers) }, (_, i) => i + 1);
  const results = await Promise.allSettled(ids.map((id) => startEmbeddedPostgres({ dataDir: path.join(tmp, `data-${id}`), port: 0 })));
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.allSettled(started.map((pg) => pg.stop()));
    throw failed.reason;
  }
  for (const [i, pg] of started.entries()) process.env[workerPgUrlVariable(i + 1)] = pg.connectionString;
  return started;
}
