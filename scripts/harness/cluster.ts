// A cluster on one machine, for the cluster test (test/scripts/cluster.test.ts) and `npm run bench:scaling`: shared
// services (a Temporal dev server, an embedded PostgreSQL, moto's S3 server behind a TCP proxy) and hosts, each one
// `npm start` supervisor (scripts/start.ts) with ROLES, in a process group of its own, with its own DATA_DIR, working
// folder and TMPDIR under its own folder, joined to the services through TEMPORAL_ADDRESS, DATABASE_URL, BLOB_URL and
// the AWS variables. No host is given another's paths; what they share is the code checkout (read only: the roles run
// from the project root, as `npm start` runs them) and the services, over 127.0.0.1.
//
// The S3 proxy is how an S3 outage is made: moto keeps its objects in memory, so stopping it would lose them; closing
// the proxy (its listener and every open connection) and opening it again on the same port is, to the hosts, the S3
// server going away and coming back with what it held.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { Role } from '../../infra/config';
import { openEventStore } from '../../infra/eventstore';
import type { RecordedEvent } from '../../infra/eventstore/port';
import { createLogger } from '../../infra/logger';
import { freePort, startEmbeddedPostgres, type EmbeddedPostgres } from '../../infra/postgres/embedded';
import { startTemporalDevServer, type TemporalDevServer } from '../../infra/temporal/devServer';
import { PROJECT_ROOT, readTools } from '../../infra/tools';
import { startS3Server, type S3Server } from './s3Server';

// ---- `npm start` as a child: the supervisor in a process group of its own ----------------------------------------

export interface SupervisorProcess {
  proc: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  logFile: string;
}

/** Variables of the caller that would point a supervisor at servers it was not meant to use. */
const INHERITED_SERVERS = ['DATABASE_URL', 'EVENTSTORE_URL', 'TEMPORAL_ADDRESS', 'KURRENTDB_URL', 'BLOB_URL', 'ROLES'];

/**
 * Runs what `npm start` runs after the bootstrap (`node --import tsx scripts/start.ts`) with the caller's environment
 * less INHERITED_SERVERS plus `env`, detached: its process group is its own and holds its roles, so a signal to the
 * group reaches exactly this host. Not the tsx CLI: its wrapper SIGKILLs a child that has not acknowledged a relayed
 * SIGTERM within 60 ms (a busy machine), and exits 143 without the supervisor having stopped its children.
 */
export function spawnSupervisor(options: { env: Record<string, string>; logFile: string; cwd?: string }): SupervisorProcess {
  const out = fs.openSync(options.logFile, 'w');
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of INHERITED_SERVERS) delete env[name];
  Object.assign(env, options.env);
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  const proc = spawn(process.execPath, ['--import', tsx, path.join(PROJECT_ROOT, 'scripts', 'start.ts')], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env,
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return { proc, exit, logFile: options.logFile };
}

// ---- a TCP proxy that can be taken away and brought back -----------------------------------------------------------

export interface TcpProxy {
  readonly port: number;
  /** Closes the listener and destroys every open connection: connecting is refused until open(). */
  close(): Promise<void>;
  /** Listens again on the same port. */
  open(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    track(client);
    track(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    open: () => listen(port),
  };
}

// ---- the shared services --------------------------------------------------------------------------------------------

export interface ClusterServices {
  readonly dir: string;
  readonly temporalAddress: string;
  readonly databaseUrl: string;
  readonly s3: S3Server;
  /** Between the hosts and moto: `s3Outage` closes it. */
  readonly s3Proxy: TcpProxy;
  readonly bucket: string;
  readonly prefix: string;
  /** Task queues of this cluster's own (a shared Temporal server may serve others). */
  readonly taskQueues: { gpu: string; orchestration: string };
  /** What every host is given to join the cluster. */
  readonly env: Record<string, string>;
  /** The server processes started here (absent: given, not started). */
  readonly pids: { temporal?: number; postgres: number; s3: () => number | undefined };
  /** The S3 server away (the proxy closed) for `ms`, then back with everything it held. */
  s3Outage(ms: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterServicesOptions {
  /** A folder of this cluster's own; the services keep their files in `services/` under it. */
  dir: string;
  /** A running Temporal server to use (with task queues of this cluster's own); absent, a dev server is started. */
  temporalAddress?: string;
  /** Names the bucket, prefix and task queues. */
  name?: string;
}

export async function startClusterServices(options: ClusterServicesOptions): Promise<ClusterServices> {
  const name = options.name ?? 'cluster';
  const dir = path.join(options.dir, 'services');
  fs.mkdirSync(dir, { recursive: true });
  const logger = createLogger({ level: 'warn', name: 'cluster', toStderr: true });
  const bucket = `reelforge-${name}`;
  const started: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of started.splice(0).reverse()) await s().catch(() => undefined);
    // As root the cluster may live outside `dir` (infra/postgres/embedded.ts links it from postgres-data/postgres):
    // these services are throwaway, so it goes with them rather than staying behind in /var/lib/reelforge.
    const link = path.join(dir, 'postgres-data', 'postgres');
    try {
      if (fs.lstatSync(link).isSymbolicLink()) fs.rmSync(fs.realpathSync(link), { recursive: true, force: true });
    } catch {
      // no cluster there
    }
  };
  try {
    const [postgres, temporal, s3] = await Promise.all([
      startEmbeddedPostgres({ dataDir: path.join(dir, 'postgres-data'), port: 0, logger }).then((pg: EmbeddedPostgres) => {
        started.push(() => pg.stop());
        return pg;
      }),
      options.temporalAddress
        ? undefined
        : startTemporalDevServer({
            cli: readTools().temporalCli,
            dataDir: path.join(dir, 'temporal-data'),
            port: 0,
            uiPort: 0,
            namespace: 'default',
            logger,
          }).then((server: TemporalDevServer) => {
            started.push(() => server.stop());
            return server;
          }),
      startS3Server({ buckets: [bucket] }).then((server) => {
        started.push(() => server.stop());
        return server;
      }),
    ]);
    const s3Proxy = await startTcpProxy(s3.port);
    started.push(() => s3Proxy.close());
    const temporalAddress = options.temporalAddress ?? temporal!.address;
    const taskQueues = { gpu: `${name}-gpu`, orchestration: `${name}-orchestration` };
    const prefix = name;
    return {
      dir,
      temporalAddress,
      databaseUrl: postgres.connectionString,
      s3,
      s3Proxy,
      bucket,
      prefix,
      taskQueues,
      env: {
        TEMPORAL_ADDRESS: temporalAddress,
        DATABASE_URL: postgres.connectionString,
        BLOB_URL: `s3://${bucket}/${prefix}`,
        AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${s3Proxy.port}`,
        AWS_REGION: s3.aws.region!,
        AWS_ACCESS_KEY_ID: s3.aws.credentials!.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.aws.credentials!.secretAccessKey,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        GPU_TASK_QUEUE: taskQueues.gpu,
        ORCHESTRATION_TASK_QUEUE: taskQueues.orchestration,
      },
      pids: { ...(temporal ? { temporal: temporal.pid } : {}), postgres: postgres.pid, s3: () => s3.pid },
      s3Outage: async (ms) => {
        await s3Proxy.close();
        await new Promise((r) => setTimeout(r, ms));
        await s3Proxy.open();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---- a host -------------------------------------------------------------------------------------------------------

export interface RuntimeInfo {
  supervisorPid: number;
  roles: string[];
  api?: { url: string; port: number };
  health?: Record<string, { url: string; port: number }>;
  children: Record<string, number>;
}

export interface ClusterHost {
  readonly name: string;
  readonly roles: readonly Role[];
  /** This host's folder: data/ (DATA_DIR), work/ (its working folder) and tmp/ (TMPDIR). */
  readonly dir: string;
  readonly dataDir: string;
  /** The API's URL on a host with the api role (the same port across restarts). */
  readonly apiUrl: string | undefined;
  /** The supervisor's pid, which is also its process group's id; undefined while stopped. */
  readonly pid: number | undefined;
  /** Starts the supervisor and waits until it says every role here is ready. */
  start(): Promise<void>;
  /** SIGTERM to the supervisor, which stops its roles; waits for it to exit. */
  stop(): Promise<void>;
  /** SIGKILL to the whole process group; waits for the supervisor's exit. */
  kill(): Promise<void>;
  /** SIGSTOP to the whole process group: every process of this host frozen where it is. */
  freeze(): void;
  /** SIGCONT to the whole process group. */
  resume(): void;
  runtime(): RuntimeInfo;
  /** The current start's log. */
  log(): string;
}

const READY_TIMEOUT_MS = 120_000;

export async function startHost(
  services: ClusterServices,
  options: { name: string; roles: readonly Role[]; env?: Record<string, string> },
): Promise<ClusterHost> {
  const dir = path.join(services.dir, '..', 'hosts', options.name);
  const dataDir = path.join(dir, 'data');
  const workDir = path.join(dir, 'work');
  const tmpDir = path.join(dir, 'tmp');
  for (const d of [dataDir, workDir, tmpDir]) fs.mkdirSync(d, { recursive: true });
  const apiPort = options.roles.includes('api') ? await freePort() : undefined;
  let current: SupervisorProcess | undefined;
  let starts = 0;
  const alive = () => current !== undefined && current.proc.exitCode === null && current.proc.signalCode === null;
  const signalGroup = (signal: NodeJS.Signals) => {
    if (!alive()) return;
    try {
      process.kill(-current!.proc.pid!, signal);
    } catch {
      // the group is gone
    }
  };
  const log = () => (current ? fs.readFileSync(current.logFile, 'utf8') : '');
  const host: ClusterHost = {
    name: options.name,
    roles: options.roles,
    dir,
    dataDir,
    apiUrl: apiPort === undefined ? undefined : `http://127.0.0.1:${apiPort}`,
    get pid() {
      return alive() ? current!.proc.pid : undefined;
    },
    start: async () => {
      if (alive()) throw new Error(`host ${options.name} is running`);
      starts += 1;
      const s = spawnSupervisor({
        cwd: workDir,
        logFile: path.join(dir, `supervisor-${starts}.log`),
        env: {
          ...services.env,
          ROLES: options.roles.join(','),
          DATA_DIR: dataDir,
          TMPDIR: tmpDir,
          PORT: String(apiPort ?? 0),
          HEALTH_PORT: '0',
          LOG_LEVEL: 'info',
          ...options.env,
        },
      });
      current = s;
      const deadline = Date.now() + READY_TIMEOUT_MS;
      let gone: string | undefined;
      void s.exit.then(({ code, signal }) => (gone = `code ${code}, signal ${signal}`));
      while (!/reelforge is ready/.test(log())) {
        if (gone) throw new Error(`host ${options.name}: the supervisor exited (${gone}) before it was ready\n${log().slice(-4000)}`);
        if (Date.now() > deadline) throw new Error(`host ${options.name}: not ready within ${READY_TIMEOUT_MS} ms\n${log().slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    stop: async () => {
      if (!alive()) return;
      process.kill(current!.proc.pid!, 'SIGTERM');
      await current!.exit;
    },
    kill: async () => {
      if (!alive()) return;
      signalGroup('SIGKILL');
      await current!.exit;
    },
    freeze: () => signalGroup('SIGSTOP'),
    resume: () => signalGroup('SIGCONT'),
    runtime: () => JSON.parse(fs.readFileSync(path.join(dataDir, 'runtime.json'), 'utf8')) as RuntimeInfo,
    log,
  };
  await host.start();
  return host;
}

/**
 * What a host keeps in its DATA_DIR besides runtime.json and dev-keys.json (a blob written to local disk would be
 * here). Its TMPDIR is not looked at: tsx keeps its compile cache there.
 */
export function filesInDataDir(host: ClusterHost): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else out.push(path.relative(host.dataDir, p));
    }
  };
  walk(host.dataDir);
  return out.filter((f) => !['runtime.json', 'dev-keys.json'].includes(f));
}

// ---- videos through a host's API ------------------------------------------------------------------------------------

export interface VideoAsked {
  prompt: string;
  seconds: number;
  size: string;
  seed?: number;
}

/** The dev user's key, which the API host's first start wrote to its DATA_DIR. */
export function userKey(apiHost: ClusterHost): string {
  return (JSON.parse(fs.readFileSync(path.join(apiHost.dataDir, 'dev-keys.json'), 'utf8')) as { user: string }).user;
}

export async function submitVideo(apiHost: ClusterHost, video: VideoAsked): Promise<string> {
  const res = await fetch(`${apiHost.apiUrl}/v1/videos`, {
    method: 'POST',
    headers: { authorization: `Bearer ${userKey(apiHost)}`, 'content-type': 'application/json' },
    body: JSON.stringify(video),
  });
  if (res.status !== 200) throw new Error(`POST /v1/videos answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** GET /v1/videos/:id: its body, or undefined while the API does not answer. */
export async function videoState(apiHost: ClusterHost, id: string): Promise<{ id: string; status: string } | undefined> {
  try {
    const res = await fetch(`${apiHost.apiUrl}/v1/videos/${id}`, {
      headers: { authorization: `Bearer ${userKey(apiHost)}` },
      signal: AbortSignal.timeout(5000),
    });
    return res.status === 200 ? ((await res.json()) as { id: string; status: string }) : undefined;
  } catch {
    return undefined;
  }
}

/** Waits until the video's workflow has ended (through Temporal, so it does not need the API) and says how. */
export async function waitForWorkflow(services: ClusterServices, id: string, timeoutMs: number): Promise<string> {
  const connection = await Connection.connect({ address: services.temporalAddress });
  try {
    const handle = new Client({ connection }).workflow.getHandle(`video-${id}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { status } = await handle.describe();
      if (status.name !== 'RUNNING') return status.name;
      if (Date.now() > deadline) throw new Error(`video ${id}: still running after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await connection.close();
  }
}

/** The video's stream in the cluster's event store. */
export async function videoEvents(services: ClusterServices, id: string): Promise<RecordedEvent[]> {
  const store = await openEventStore({ url: services.databaseUrl, maxEventBytes: 1024 * 1024 });
  try {
    return await store.readStream(`video-${id}`);
  } finally {
    await store.close();
  }
}

export interface ActivityRun {
  activity: string;
  scheduledEventId: string;
  /** Who started it (the SDK's identity, pid@host) and on which attempt; absent while not started. */
  identity?: string;
  attempt?: number;
  /** How it ended: completed, failed, timedOut, or undefined while it runs. */
  outcome?: string;
}

/** The GPU activities of a video's workflow as its history tells them (only a started attempt is recorded). */
export async function gpuActivities(services: ClusterServices, id: string): Promise<ActivityRun[]> {
  const connection = await Connection.connect({ address: services.temporalAddress });
  try {
    const history = await new Client({ connection }).workflow.getHandle(`video-${id}`).fetchHistory();
    const runs = new Map<string, ActivityRun>();
    for (const e of history.events ?? []) {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled && scheduled.taskQueue?.name === services.taskQueues.gpu)
        runs.set(String(e.eventId), { activity: scheduled.activityType?.name ?? '', scheduledEventId: String(e.eventId) });
      const started = e.activityTaskStartedEventAttributes;
      const run = (attrs: { scheduledEventId?: unknown } | null | undefined) => (attrs ? runs.get(String(attrs.scheduledEventId)) : undefined);
      if (started && run(started)) Object.assign(run(started)!, { identity: started.identity ?? '', attempt: started.attempt ?? 1 });
      if (run(e.activityTaskCompletedEventAttributes)) run(e.activityTaskCompletedEventAttributes)!.outcome = 'completed';
      if (run(e.activityTaskFailedEventAttributes)) run(e.activityTaskFailedEventAttributes)!.outcome = 'failed';
      if (run(e.activityTaskTimedOutEventAttributes)) run(e.activityTaskTimedOutEventAttributes)!.outcome = 'timedOut';
      if (run(e.activityTaskCanceledEventAttributes)) run(e.activityTaskCanceledEventAttributes)!.outcome = 'cancelled';
    }
    return [...runs.values()];
  } finally {
    await connection.close();
  }
}

export interface PendingActivity {
  activity: string;
  /** Started by a worker (not only scheduled). */
  started: boolean;
  /** The worker that started the latest attempt (pid@host). */
  identity: string;
  attempt: number;
}

/**
 * The video workflow's activities running now, as the server describes them. The history cannot tell this: an
 * activity with retries gets its ActivityTaskStarted event only when it ends.
 */
export async function pendingActivities(services: ClusterServices, id: string): Promise<PendingActivity[]> {
  const connection = await Connection.connect({ address: services.temporalAddress });
  try {
    const { raw } = await new Client({ connection }).workflow.getHandle(`video-${id}`).describe();
    return (raw.pendingActivities ?? []).map((a) => ({
      activity: a.activityType?.name ?? '',
      // PENDING_ACTIVITY_STATE_STARTED
      started: Number(a.state) === 2,
      identity: a.lastWorkerIdentity ?? '',
      attempt: a.attempt ?? 1,
    }));
  } finally {
    await connection.close();
  }
}

/** The pid of the GPU worker a host runs (the identity its activities are started under begins with `<pid>@`). */
export function gpuWorkerPid(host: ClusterHost): number {
  const pid = host.runtime().children['gpu-worker'];
  if (!pid) throw new Error(`host ${host.name} runs no GPU worker`);
  return pid;
}
