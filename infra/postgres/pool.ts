// The read models' PostgreSQL (DATABASE_URL) as a connection pool; the one place outside the event store
// adapter that touches the `pg` driver.
import pg from 'pg';
import type { Logger } from '../logger';

export type PgPool = pg.Pool;

export function createPgPool(options: { connectionString: string; max?: number; logger?: Logger }): PgPool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    // Without it a connect to an unreachable host waits for the OS TCP timeout (minutes).
    connectionTimeoutMillis: 5000,
  });
  // An idle client whose server went away emits 'error' on the pool; unhandled, that would crash the process.
  pool.on('error', (err) => options.logger?.warn({ err }, 'idle PostgreSQL connection failed'));
  return pool;
}

/** The readiness round trip. */
export async function pingPgPool(pool: PgPool): Promise<void> {
  await pool.query('SELECT 1');
}
