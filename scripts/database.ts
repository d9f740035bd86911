// Which database a command-line script works on: DATABASE_URL, else the running `npm start`'s embedded PostgreSQL as
// its supervisor recorded it in $DATA_DIR/runtime.json (with the event store it runs on). Shared by user:create and
// projections:rebuild.
import fs from 'node:fs';
import path from 'node:path';

/** No database to be found; the message says what to do. */
export class NoDatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoDatabaseError';
  }
}

export interface FoundDatabase {
  url: string;
  /** Where the URL came from, for messages: "DATABASE_URL" or the runtime.json path. */
  from: string;
  /** The event store the running `npm start` uses, when the database came from its runtime.json. */
  eventStoreUrl?: string;
}

/**
 * DATABASE_URL, else the database of the running `npm start`. `purpose` completes "no database to ..." in the error,
 * e.g. "create the user in".
 */
export function findDatabase(config: { databaseUrl: string | undefined; dataDir: string }, purpose: string): FoundDatabase {
  if (config.databaseUrl) return { url: config.databaseUrl, from: 'DATABASE_URL' };
  const file = path.join(config.dataDir, 'runtime.json');
  let runtime: { databaseUrl?: unknown; postgres?: { url?: unknown }; eventStoreUrl?: unknown };
  try {
    runtime = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof runtime;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new NoDatabaseError(
      missing
        ? `no database to ${purpose}: DATABASE_URL is not set and ${file} does not exist. Start reelforge (npm start) in another terminal, or set DATABASE_URL.`
        : `cannot read ${file}: ${(err as Error).message}`,
    );
  }
  const url = typeof runtime.databaseUrl === 'string' ? runtime.databaseUrl : typeof runtime.postgres?.url === 'string' ? runtime.postgres.url : undefined;
  if (!url) throw new NoDatabaseError(`${file} names no database yet (is npm start still starting?). Wait for it, or set DATABASE_URL.`);
  return { url, from: file, ...(typeof runtime.eventStoreUrl === 'string' ? { eventStoreUrl: runtime.eventStoreUrl } : {}) };
}

/** A URL with its password masked, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
