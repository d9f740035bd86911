// What test/globalSetup.ts shared with the test files, and the optional external servers of this machine.
import { loadConfig } from '../../infra/config';
import { workerPgUrlVariable } from './workerPostgres';

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests through jest with test/globalSetup.ts (npm test)`);
  return v;
}

export const testEnv = {
  /** This jest worker's embedded PostgreSQL (JEST_WORKER_ID is 1 when jest runs in band). */
  get embeddedPgUrl(): string {
    return required(workerPgUrlVariable(process.env.JEST_WORKER_ID ?? '1'));
  },
  get temporalAddress(): string {
    return required('REELFORGE_TEST_TEMPORAL_ADDRESS');
  },
  get workflowBundlePath(): string {
    return required('REELFORGE_TEST_WORKFLOW_BUNDLE');
  },
  get tmpDir(): string {
    return required('REELFORGE_TEST_TMP');
  },
  /** The machine's PostgreSQL, when DATABASE_URL is set (CI sets it). */
  get externalPgUrl(): string | undefined {
    return loadConfig().databaseUrl;
  },
  get kurrentDbUrl(): string | undefined {
    return loadConfig().kurrentDbUrl;
  },
  /** FFMPEG_PATH, so the suite can be run against a given ffmpeg (the pinned build when unset). */
  get ffmpegPath(): string | undefined {
    return loadConfig().ffmpegPath;
  },
  /** S3_TEST_URL (s3://bucket/prefix, reached with the AWS_* variables): an S3 endpoint the blob contract suite also runs against. */
  get s3TestUrl(): string | undefined {
    return process.env.S3_TEST_URL?.trim() || undefined;
  },
  get ci(): boolean {
    return loadConfig().ci;
  },
};

/** Polls `check` until it returns a value other than undefined, or fails after the deadline. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 30000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
