// `npm start`: one supervisor for the roles placed on this host (ROLES, default all four): embedded PostgreSQL and the
// Temporal dev server where those roles need them and DATABASE_URL / TEMPORAL_ADDRESS do not name others (infra/roles),
// then each role in its own child process; restarts, clean stop.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Connection } from '@temporalio/client';
import pg from 'pg';
import { loadConfigOrExit, ROLE_NAMES, type Config, type Role } from '../infra/config';
import { createLogger, type Logger } from '../infra/logger';
import { ensureDevSigningChain } from '../infra/provenance/devChain';
import { embeddedClusterDir, freePort, startEmbeddedPostgres } from '../infra/postgres/embedded';
import { pingTemporal, temporalConnectionOptions } from '../infra/temporal/connection';
import { startTemporalDevServer, temporalDbFilename, type TemporalDevServer } from '../infra/temporal/devServer';
import { allPids, cmdlineOf, isAlive } from '../infra/processes';
import { Watchdog } from '../infra/watchdog';
import { PROJECT_ROOT, readTools } from '../infra/tools';
import { planHost, ROLE_FILES, ROLE_NEEDS } from '../infra/roles';
import { redactUrl } from './database';

const isRole = (name: string): name is Role => (ROLE_NAMES as readonly string[]).includes(name);

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30000;
/** A unit that ran this long before dying starts again from the first backoff step. */
const BACKOFF_RESET_AFTER_MS = 60000;
/** How long a server (Temporal, PostgreSQL) gets to stop after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 15000;
/** What a role gets past its own grace period (SHUTDOWN_GRACE_SECONDS, infra/lifecycle) before SIGKILL. */
const ROLE_STOP_MARGIN_MS = 5000;
const READY_WARN_AFTER_MS = 60000;
/** How long DATABASE_URL and TEMPORAL_ADDRESS get to answer before the start gives up on them. */
const REACH_TIMEOUT_MS = 3000;
/** After a failed start nothing is worth waiting for: what has not stopped within this is killed. */
const FAILED_START_STOP_MS = 3000;

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

async function terminate(pid: number, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  if (!(await waitForExit(pid, graceMs))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    await waitForExit(pid, 5000);
  }
}

function postmasterPid(databaseDir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// $DATA_DIR/runtime.json: where everything listens (for people and tests) and who runs it (so the next start can
// tell a running supervisor from the leftovers of a crashed one). It holds the database password: owner only.

interface Runtime {
  supervisorPid: number;
  startedAt: string;
  dataDir: string;
  /** The roles this supervisor runs (ROLES). */
  roles: Role[];
  api?: { url: string; port: number; docsUrl: string };
  /** Where each worker role placed here answers /healthz and /readyz. */
  health?: Partial<Record<Role, { url: string; port: number }>>;
  temporal?: { address: string; namespace: string; uiUrl: string | null; pid: number | null };
  postgres?: { url: string; port: number | null; embedded: boolean; pid: number | null };
  eventStoreUrl?: string;
  databaseUrl?: string;
  children: Record<string, number>;
}

function runtimeFile(dataDir: string): string {
  return path.join(dataDir, 'runtime.json');
}

function readRuntime(dataDir: string): Runtime | undefined {
  try {
    return JSON.parse(fs.readFileSync(runtimeFile(dataDir), 'utf8')) as Runtime;
  } catch {
    return undefined;
  }
}

function writeRuntime(runtime: Runtime): void {
  const file = runtimeFile(runtime.dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(runtime, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/**
 * Refuses to share DATA_DIR with a live supervisor, and stops what a supervisor killed outright left running: its
 * Temporal dev server (found by its SQLite file), its PostgreSQL (by postmaster.pid) and any role process.
 */
async function reapLeftovers(config: Config, logger: Logger): Promise<void> {
  const previous = readRuntime(config.dataDir);
  const prevPid = previous?.supervisorPid;
  if (prevPid && prevPid !== process.pid && isAlive(prevPid) && cmdlineOf(prevPid)?.includes('scripts/start')) {
    throw new Error(`another reelforge supervisor (pid ${prevPid}) is running with DATA_DIR=${config.dataDir}; stop it first`);
  }
  const leftovers: Array<{ pid: number; what: string; signal: NodeJS.Signals }> = [];
  const dbFilename = temporalDbFilename(config.dataDir);
  for (const pid of allPids()) {
    const cmd = cmdlineOf(pid);
    if (pid !== process.pid && cmd?.includes('start-dev') && cmd.includes(dbFilename)) leftovers.push({ pid, what: 'Temporal dev server', signal: 'SIGTERM' });
  }
  const databaseDir = embeddedClusterDir(config.dataDir);
  const pgPid = postmasterPid(databaseDir);
  if (pgPid && isAlive(pgPid) && cmdlineOf(pgPid)?.includes(databaseDir)) {
    // SIGINT is PostgreSQL's fast shutdown: it does not wait for the (dead) clients to disconnect.
    leftovers.push({ pid: pgPid, what: 'PostgreSQL', signal: 'SIGINT' });
  }
  for (const [name, pid] of Object.entries(previous?.children ?? {})) {
    if (isRole(name) && isAlive(pid) && cmdlineOf(pid)?.includes(ROLE_FILES[name])) leftovers.push({ pid, what: `role ${name}`, signal: 'SIGTERM' });
  }
  for (const l of leftovers) {
    logger.warn({ leftoverPid: l.pid }, `stopping the ${l.what} left running by an earlier start that did not shut down`);
    await terminate(l.pid, l.signal, 10000);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Supervision: each unit (a role, the dev server, PostgreSQL) is started, watched, and restarted with backoff.

interface Running {
  pid: number;
  /** Resolves with how it ended ("code 1", "signal SIGKILL") when the process is gone. */
  exited: Promise<string>;
  stop(): Promise<void>;
}

class Supervised {
  private running: Running | undefined;
  private starting: Promise<unknown> | undefined;
  private stopping = false;
  private backoffMs = BACKOFF_FIRST_MS;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    private readonly launch: () => Promise<Running>,
    private readonly logger: Logger,
    private readonly onStarted: (pid: number) => void = () => undefined,
  ) {}

  /** The first start: a failure is the caller's (start-up aborts). */
  async start(): Promise<void> {
    if (this.stopping) return;
    const adopted = this.launch().then((running) => this.adopt(running));
    this.starting = adopted.catch(() => undefined);
    await adopted;
  }

  /** Takes a process just launched into care; one launched while stopping is stopped (and awaited by stop()). */
  private async adopt(running: Running): Promise<void> {
    if (this.stopping) {
      await running.stop();
      return;
    }
    this.running = running;
    this.logger.info({ child: this.name, childPid: running.pid }, `child ${this.name} started`);
    this.onStarted(running.pid);
    const startedAt = Date.now();
    void running.exited.then((how) => {
      if (this.stopping || this.running !== running) return;
      this.running = undefined;
      if (Date.now() - startedAt >= BACKOFF_RESET_AFTER_MS) this.backoffMs = BACKOFF_FIRST_MS;
      this.logger.warn(
        { child: this.name, childPid: running.pid, exit: how },
        `child ${this.name} exited with ${how}; restarting in ${this.scheduleRestart()} ms`,
      );
    });
  }

  private scheduleRestart(): number {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.timer = setTimeout(() => {
      const adopted = this.launch().then((running) => this.adopt(running));
      this.starting = adopted.catch(() => undefined);
      adopted.catch((err: unknown) => {
        if (this.stopping) return;
        this.logger.error({ child: this.name, err }, `child ${this.name} failed to start; retrying in ${this.scheduleRestart()} ms`);
      });
    }, delay);
    return delay;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.starting;
    await this.running?.stop();
  }

  kill(): void {
    if (this.running && this.running.pid > 0) {
      try {
        process.kill(this.running.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** A role as `node --import tsx <file>`, with an IPC channel whose closing tells it the supervisor is gone. */
function launchRole(file: string, env: NodeJS.ProcessEnv, stopGraceMs: number): () => Promise<Running> {
  const tsxLoader = pathToFileURL(require.resolve('tsx')).href;
  return () =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', tsxLoader, path.join(PROJECT_ROOT, file)], {
        cwd: PROJECT_ROOT,
        env,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const exited = new Promise<string>((done) => child.once('exit', (code, signal) => done(signal ? `signal ${signal}` : `code ${code}`)));
      child.once('error', reject);
      child.once('spawn', () =>
        resolve({
          pid: child.pid!,
          exited,
          stop: async () => {
            if (child.exitCode !== null || child.signalCode !== null) return;
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), stopGraceMs);
            await exited;
            clearTimeout(timer);
          },
        }),
      );
    });
}

// ---------------------------------------------------------------------------------------------------------------

async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'EADDRINUSE' ? `PORT ${port} is already in use: stop what uses it, or set PORT (0 = any free port)` : err.message)),
    );
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve()));
  });
}

/** Has a server this supervisor started stopped by the watchdog if the supervisor dies without stopping it. */
type Watch = (name: string, pid: number, signal: NodeJS.Signals) => Promise<void>;

/** A second signal this soon after the first is the same Ctrl-C arriving by another path. */
const SIGNAL_ECHO_MS = 1000;

/**
 * The content credentials' signing chain: the configured one, or (neither C2PA_SIGNING_KEY nor C2PA_SIGNING_CERTS set) a
 * development CA and leaf made once under the data folder. Validators call that chain untrusted: it is for development.
 */
function developmentSigning(config: Config, logger: Logger): NodeJS.ProcessEnv {
  if (config.c2paSigningKeyPath) return {};
  const chain = ensureDevSigningChain(path.join(config.dataDir, 'c2pa'));
  logger.warn(
    { key: chain.keyPath, certs: chain.certsPath, created: chain.created },
    'content credentials are signed with a DEVELOPMENT certificate chain (a local CA, untrusted elsewhere): set C2PA_SIGNING_KEY and C2PA_SIGNING_CERTS for production',
  );
  return { C2PA_SIGNING_KEY: chain.keyPath, C2PA_SIGNING_CERTS: chain.certsPath };
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, name: 'supervisor' });
  fs.mkdirSync(config.dataDir, { recursive: true });

  const units: Supervised[] = [];
  // Spawned with the first server started here: a host that starts none (it joins a cluster) has no watchdog either.
  let watchdog: Watchdog | undefined;
  const watch: Watch = (name, pid, signal) => (watchdog ??= new Watchdog()).watch(name, pid, signal);
  // Aborted when stopping begins: a server still starting (initdb, the dev server) is killed instead of awaited.
  const starting = new AbortController();
  let stopping = false;
  /** `hurry`: after a failed start, what has not stopped within FAILED_START_STOP_MS is killed. */
  const shutdown = async (exitCode: number, reason: string, hurry = false): Promise<void> => {
    if (stopping) return;
    stopping = true;
    starting.abort(new Error(`stopping: ${reason}`));
    logger.info({ reason }, 'stopping everything');
    const roles = units.filter((u) => isRole(u.name));
    const infra = units.filter((u) => !roles.includes(u));
    const stopAll = (async () => {
      // Roles first, so none is cut off from the servers it is still using while it stops.
      await Promise.allSettled(roles.map((u) => u.stop()));
      await Promise.allSettled(infra.map((u) => u.stop()));
    })();
    if (!hurry) {
      await stopAll;
    } else {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stopAll, new Promise((r) => (timer = setTimeout(r, FAILED_START_STOP_MS)))]);
      clearTimeout(timer);
      units.forEach((u) => u.kill());
    }
    await watchdog?.dispose();
    fs.rmSync(runtimeFile(config.dataDir), { force: true });
    logger.info('stopped');
    process.exit(exitCode);
  };
  let signals = 0;
  let firstSignalAt = 0;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      // One Ctrl-C reaches us twice: from the terminal (the whole process group) and relayed by `npm start`'s tsx
      // wrapper. A repeat within a second is that echo, not a person asking again.
      if (signals > 0 && Date.now() - firstSignalAt < SIGNAL_ECHO_MS) return;
      signals += 1;
      if (signals === 1) {
        firstSignalAt = Date.now();
        void shutdown(0, signal);
        return;
      }
      // Asked again while stopping (a second Ctrl-C): do not wait any longer.
      logger.warn({ signal }, 'stopping now (SIGKILL)');
      units.forEach((u) => u.kill());
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'supervisor failed');
    void shutdown(1, 'uncaught exception');
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'supervisor failed');
    void shutdown(1, 'unhandled rejection');
  });

  try {
    await startAll(config, logger, units, watch, starting.signal);
  } catch (err) {
    // The one line that names the cause; what follows is the stopping.
    if (!stopping) logger.fatal({ err }, `start-up failed: ${(err as Error)?.message ?? String(err)}`);
    await shutdown(1, 'start-up failed', true);
  }
}

/** Rejects, naming DATABASE_URL (password left out) and why, unless it answers a query within REACH_TIMEOUT_MS. */
async function assertDatabaseReachable(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: REACH_TIMEOUT_MS, query_timeout: REACH_TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(`DATABASE_URL ${redactUrl(url)} is unreachable: ${(err as Error).message || String(err)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Rejects, naming TEMPORAL_ADDRESS and why, unless its namespace answers within REACH_TIMEOUT_MS. */
async function assertTemporalReachable(address: string, namespace: string, config: Config): Promise<void> {
  // Without the SDK's retry interceptor, so the deadline is the answer.
  const connection = Connection.lazy({ address, ...temporalConnectionOptions(config), interceptors: [] });
  try {
    await pingTemporal(connection, namespace, REACH_TIMEOUT_MS);
  } catch (err) {
    throw new Error(`TEMPORAL_ADDRESS ${address} (namespace ${namespace}) is unreachable: ${(err as Error).message || String(err)}`);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function startAll(config: Config, logger: Logger, units: Supervised[], watch: Watch, signal: AbortSignal): Promise<void> {
  const stopping = (): boolean => signal.aborted;
  // What this host needs, starts and must be told: a host that cannot join anything fails here, before anything starts.
  const plan = planHost(config);
  const roles = plan.roles;
  await reapLeftovers(config, logger);
  const runtime: Runtime = { supervisorPid: process.pid, startedAt: new Date().toISOString(), dataDir: config.dataDir, roles, children: {} };
  writeRuntime(runtime);

  // What is given, not started here, must answer before anything is started; what no role here uses is not asked.
  // Ports given (PORT, HEALTH_PORT) must be free now; "any free port" (0) is picked once the servers started here have
  // taken theirs (the Temporal dev server binds some at random), or a role could be handed one of them.
  const givenHealthPorts = config.healthPort !== 0 ? await workerHealthPorts(config, roles) : undefined;
  const givenPorts = [...(roles.includes('api') && config.port !== 0 ? [config.port] : []), ...Object.values(givenHealthPorts ?? {})];
  await Promise.all([
    ...givenPorts.map((port) => assertPortFree(port)),
    plan.needsPostgres && config.databaseUrl ? assertDatabaseReachable(config.databaseUrl) : undefined,
    plan.needsTemporal && config.temporalAddress ? assertTemporalReachable(config.temporalAddress, config.temporalNamespace, config) : undefined,
  ]);

  // PostgreSQL and Temporal start side by side: they do not depend on each other.
  let databaseUrl = plan.needsPostgres ? config.databaseUrl : undefined;
  let devServer: TemporalDevServer | undefined;
  const infraStarts: Array<Promise<void>> = [];
  if (plan.startPostgres) {
    let pgPort = config.embeddedPgPort;
    const postgres = new Supervised(
      'postgres',
      async () => {
        const server = await startEmbeddedPostgres({ dataDir: config.dataDir, port: pgPort, logger: logger.child({ component: 'postgres' }), signal });
        // Restarts keep the port, so the roles' DATABASE_URL stays right.
        pgPort = server.port;
        databaseUrl = server.connectionString;
        return { pid: server.pid, exited: server.exited, stop: () => server.stop(STOP_GRACE_MS) };
      },
      logger,
      (pid) => {
        void watch('postgres', pid, 'SIGINT');
        runtime.postgres = { url: databaseUrl!, port: pgPort, embedded: true, pid };
        writeRuntime(runtime);
      },
    );
    units.push(postgres);
    infraStarts.push(postgres.start());
  } else if (databaseUrl) {
    runtime.postgres = { url: databaseUrl, port: null, embedded: false, pid: null };
  }

  let temporalAddress = plan.needsTemporal ? config.temporalAddress : undefined;
  if (plan.startTemporal) {
    let port = config.temporalDevPort;
    let uiPort = config.temporalUiPort;
    const cli = readTools().temporalCli;
    const temporal = new Supervised(
      'temporal',
      async () => {
        const server = await startTemporalDevServer({ cli, dataDir: config.dataDir, port, uiPort, namespace: config.temporalNamespace, logger, signal });
        ({ port, uiPort } = server);
        devServer = server;
        temporalAddress = server.address;
        return { pid: server.pid, exited: server.exited, stop: () => server.stop(STOP_GRACE_MS) };
      },
      logger,
      (pid) => {
        void watch('temporal', pid, 'SIGTERM');
        runtime.temporal = { address: temporalAddress!, namespace: config.temporalNamespace, uiUrl: devServer?.uiUrl ?? null, pid };
        writeRuntime(runtime);
      },
    );
    units.push(temporal);
    infraStarts.push(temporal.start());
  } else if (temporalAddress) {
    runtime.temporal = { address: temporalAddress, namespace: config.temporalNamespace, uiUrl: null, pid: null };
  }

  // The first failure ends the start at once; the stop that follows cuts short the servers still starting.
  await Promise.all(infraStarts);
  if (stopping()) return;
  const apiPort = !roles.includes('api') ? undefined : config.port === 0 ? await freePort() : config.port;
  const healthPorts = givenHealthPorts ?? (await workerHealthPorts(config, roles, apiPort));

  const usesEventStore = roles.some((role) => ROLE_NEEDS[role].eventStore);
  const eventStoreUrl = usesEventStore ? (config.eventStoreUrl ?? databaseUrl) : undefined;
  const apiUrl = apiPort === undefined ? undefined : `http://127.0.0.1:${apiPort}`;
  const health = Object.fromEntries(
    Object.entries(healthPorts).map(([role, port]) => [role, { url: `http://${urlHost(config.healthHost)}:${port}`, port }]),
  ) as Runtime['health'] & object;
  Object.assign(runtime, { eventStoreUrl, databaseUrl, health, ...(apiUrl ? { api: { url: apiUrl, port: apiPort, docsUrl: `${apiUrl}/docs` } } : {}) });
  writeRuntime(runtime);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ROLES: roles.join(','),
    DATA_DIR: config.dataDir,
    TEMPORAL_NAMESPACE: config.temporalNamespace,
    ...(apiPort === undefined ? {} : { PORT: String(apiPort) }),
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...(eventStoreUrl ? { EVENTSTORE_URL: eventStoreUrl } : {}),
    ...(temporalAddress ? { TEMPORAL_ADDRESS: temporalAddress } : {}),
    ...developmentSigning(config, logger),
  };
  for (const role of roles) {
    // A stop that began meanwhile only knows the units listed when it began.
    if (stopping()) return;
    const healthPort = healthPorts[role];
    const roleEnv = healthPort === undefined ? env : { ...env, HEALTH_HOST: config.healthHost, HEALTH_PORT: String(healthPort) };
    const unit = new Supervised(role, launchRole(ROLE_FILES[role], roleEnv, config.shutdownGraceSeconds * 1000 + ROLE_STOP_MARGIN_MS), logger, (pid) => {
      runtime.children[role] = pid;
      writeRuntime(runtime);
    });
    units.push(unit);
    await unit.start();
  }

  const where = {
    roles,
    api: apiUrl ?? null,
    docs: apiUrl ? `${apiUrl}/docs` : null,
    health: Object.fromEntries(Object.entries(health).map(([role, h]) => [role, `${h.url}/readyz`])),
    temporal: temporalAddress ?? null,
    temporalUi: devServer?.uiUrl ?? null,
    postgres: databaseUrl ? redactUrl(databaseUrl) : null,
    eventStore: eventStoreUrl ? redactUrl(eventStoreUrl) : null,
    dataDir: config.dataDir,
  };
  logger.info(where, 'reelforge is starting; where everything listens');
  process.stdout.write(
    [
      '',
      'reelforge',
      `  Roles        ${roles.join(', ')}${roles.length === ROLE_NAMES.length ? '' : ' (ROLES)'}`,
      ...(apiUrl ? [`  API          ${apiUrl}   (OpenAPI: ${apiUrl}/openapi.json)`, `  API docs     ${apiUrl}/docs`] : []),
      ...Object.entries(where.health).map(([role, url]) => `  Health       ${url}   (${role})`),
      ...(temporalAddress ? [`  Temporal     ${temporalAddress}   namespace ${config.temporalNamespace}${devServer ? '' : ' (TEMPORAL_ADDRESS)'}`] : []),
      ...(where.temporalUi ? [`  Temporal UI  ${where.temporalUi}`] : []),
      ...(where.postgres ? [`  PostgreSQL   ${where.postgres}${plan.startPostgres ? ' (embedded)' : ' (DATABASE_URL)'}`] : []),
      ...(config.eventStoreUrl && where.eventStore ? [`  Event store  ${where.eventStore}`] : []),
      `  Data         ${where.dataDir}   (runtime.json there has the full URLs)`,
      '  Ctrl-C stops everything.',
      '',
      '',
    ].join('\n'),
  );
  const probes = [...(apiUrl ? [{ role: 'api', url: `${apiUrl}/readyz` }] : []), ...Object.entries(where.health).map(([role, url]) => ({ role, url }))];
  await waitUntilReady(probes, logger, stopping);
}

/** A host for a URL: an IPv6 address in brackets. */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The health port of each worker role placed here (the API answers /readyz on its own port): HEALTH_PORT for the
 * first and the ports after it for the next, in ROLES order, or any free ports when HEALTH_PORT is 0.
 */
async function workerHealthPorts(config: Config, roles: Role[], apiPort?: number): Promise<Partial<Record<Role, number>>> {
  const workers = roles.filter((role) => role !== 'api');
  const ports: Partial<Record<Role, number>> = {};
  // A free port is closed again once found, so the next search may find it too: each is taken once.
  const taken = new Set<number>(apiPort === undefined ? [] : [apiPort]);
  const anotherFreePort = async (): Promise<number> => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) return port;
    }
  };
  for (const [i, role] of workers.entries()) {
    const port = config.healthPort === 0 ? await anotherFreePort() : config.healthPort + i;
    taken.add(port);
    if (port > 65535) throw new Error(`HEALTH_PORT=${config.healthPort} leaves no port for the ${role} health endpoint: use a lower one, or 0`);
    ports[role] = port;
  }
  return ports;
}

/** Polls every role's /readyz and says when all answer ok; warns (once) if that takes unusually long. */
async function waitUntilReady(probes: Array<{ role: string; url: string }>, logger: Logger, stopping: () => boolean): Promise<void> {
  const started = Date.now();
  let warned = false;
  const pending = new Map(probes.map((probe) => [probe.role, probe.url]));
  const last: Record<string, string> = {};
  while (!stopping()) {
    for (const [role, url] of pending) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        last[role] = await res.text();
        if (res.ok) pending.delete(role);
      } catch (err) {
        last[role] = (err as Error).message;
      }
    }
    if (pending.size === 0) {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      logger.info({ readyAfterMs: Date.now() - started }, 'reelforge is ready');
      process.stdout.write(`reelforge is ready (${probes.map((p) => `GET ${p.url}`).join(', ')} answered ok after ${seconds} s)\n`);
      return;
    }
    if (!warned && Date.now() - started > READY_WARN_AFTER_MS) {
      warned = true;
      logger.warn({ last, waitingFor: [...pending.keys()] }, `not ready after ${READY_WARN_AFTER_MS / 1000} s; still waiting`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`reelforge: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
