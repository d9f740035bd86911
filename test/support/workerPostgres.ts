// One embedded PostgreSQL cluster per jest worker, started by test/globalSetup.ts (one piece each). Schemas alone do not keep test files
// that run at the same time apart: the event store's $all returns only rows below the snapshot's xmin, which is the
// oldest transaction running anywhere in the cluster (any database), so a transaction a test holds open in one file
// would hold back $all in every other file. The files of one worker run one after another on its cluster, each in
// schemas of its own.

/** The environment variable holding the connection string of worker `workerId`'s cluster (1-based, as JEST_WORKER_ID). */
export function workerPgUrlVariable(workerId: number | string): string {
  return `REELFORGE_TEST_PG_URL_${workerId}`;
}
