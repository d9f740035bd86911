// Starts what the whole jest run shares: one Temporal dev server (TestWorkflowEnvironment.createLocal with the
// provisioned CLI), an embedded PostgreSQL per jest worker in a temporary folder (why per worker: see
// test/support/workerPostgres.ts), and the workflow bundle, built once.
// Test files find them through the REELFORGE_TEST_* environment variables set here.
//
// Whatever is started is stopped however the run ends: a piece that fails makes the set-up stop the pieces that did
// start before it rethrows (jest runs no globalTeardown after a failed globalSetup), and a watchdog process stops the
// servers if the jest process disappears without its teardown (a crash, SIGKILL, SIGINT/SIGTERM).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createLogger } from '../infra/logger';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../infra/postgres/embedded';
import { DEV_SERVER_DYNAMIC_CONFIG, dynamicConfigArgs } from '../infra/temporal/devServer';
import { describeFailure, readTools } from '../infra/tools';
import { allPids, cmdlineOf, procStat } from '../infra/processes';
import { Watchdog } from '../infra/watchdog';
import { ensureDevSigningChain } from '../infra/provenance/devChain';
import { workerPgUrlVariable } from './support/workerPostgres';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** One thing the set-up starts: what it gives, the server processes it runs (for the watchdog), how to stop it. */
export interface Started<T> {
  value: T;
  processes: Array<{ pid: number; signal: NodeJS.Signals }>;
  stop(): Promise<void>;
}

export interface Piece<T> {
  name: string;
  start(): Promise<Started<T>>;
}

export interface StartedPieces {
  values: Record<string, unknown>;
  /** Every server process started, by piece name. */
  pids: Record<string, number[]>;
  /** Stops every piece, then the watchdog. */
  stop(): Promise<void>;
}

/**
 * Starts the pieces side by side, each server process watched by a watchdog as soon as it runs. If one fails, the
 * others are awaited and those that started are stopped before the failure is rethrown (naming the piece).
 */
export async function startAllOrNothing(pieces: Array<Piece<unknown>>): Promise<StartedPieces> {
  const watchdog = new Watchdog({ unref: true });
  const pids: Record<string, number[]> = {};
  const results = await Promise.allSettled(
    pieces.map(async (piece) => {
      const started = await piece.start();
      pids[piece.name] = started.processes.map((p) => p.pid);
      await Promise.all(started.processes.map((p) => watchdog.watch(`${piece.name}:${p.pid}`, p.pid, p.signal)));
      return started;
    }),
  );
  const running = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  // SIGINT/SIGTERM end the run, servers first. Without this, the Temporal SDK's runtime (installed by createLocal)
  // takes the first SIGINT/SIGTERM as a request to stop its workers only, and the run goes on.
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n[test setup] ${signal}: stopping the test servers\n`);
    void stop().finally(() => process.exit(128 + os.constants.signals[signal]));
  };
  const stop = async (): Promise<void> => {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    await Promise.allSettled(running.map((s) => s.stop()));
    await watchdog.dispose();
  };
  const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`${pieces[i]!.name}: ${(r.reason as Error)?.message ?? String(r.reason)}`] : []));
  if (failures.length > 0) {
    await stop();
    throw new Error(`the test set-up failed, and stopped what it had started: ${failures.join('; ')}`);
  }
  for (const signal of STOP_SIGNALS) process.once(signal, onSignal);
  const values = Object.fromEntries(pieces.map((p, i) => [p.name, (results[i] as PromiseFulfilledResult<Started<unknown>>).value.value]));
  return { values, pids, stop };
}

/** The embedded PostgreSQL, its cluster under `dir`. */
export function postgresPiece(dir: string, name = 'postgres'): Piece<EmbeddedPostgres> {
  return {
    name,
    start: async () => {
      // Warnings only: as root in a folder the postgres user cannot enter, where the binaries were copied to.
      const logger = createLogger({ level: 'warn', name: 'test-setup', toStderr: true });
      const pg = await startEmbeddedPostgres({ dataDir: dir, port: 0, logger });
      return { value: pg, processes: [{ pid: pg.pid, signal: 'SIGINT' }], stop: () => pg.stop() };
    },
  };
}

/** The Temporal dev server, through the SDK's test environment. */
export function temporalPiece(extraDynamicConfig: string[] = []): Piece<TestWorkflowEnvironment> {
  return {
    name: 'temporal',
    start: async () => {
      const cli = readTools().temporalCli;
      const env = await TestWorkflowEnvironment.createLocal({
        server: {
          executable: cli.path ? { type: 'existing-path', path: cli.path } : { type: 'cached-download' },
          ui: false,
          log: { format: 'pretty', level: 'error' },
          extraArgs: dynamicConfigArgs([...DEV_SERVER_DYNAMIC_CONFIG, ...extraDynamicConfig]),
        },
      }).catch((err: unknown) => {
        throw new Error(describeFailure(cli, 'a Temporal dev server', err));
      });
      const pid = devServerPid(env.address);
      return { value: env, processes: pid ? [{ pid, signal: 'SIGTERM' }] : [], stop: () => env.teardown() };
    },
  };
}

/**
 * The SDK starts the dev server as a child of this process without telling its pid: it is the child whose command
 * line is `temporal server start-dev … --port <port>`.
 */
function devServerPid(address: string): number | undefined {
  const port = address.split(':').pop();
  return allPids().find((pid) => {
    if (procStat(pid)?.ppid !== process.pid) return false;
    const args = cmdlineOf(pid)?.split(' ') ?? [];
    return args.includes('start-dev') && args[args.indexOf('--port') + 1] === port;
  });
}

function bundlePiece(tmp: string): Piece<string> {
  return {
    name: 'bundle',
    start: async () => {
      const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows/index'), logger: quietLogger });
      const bundlePath = path.join(tmp, 'workflow-bundle.js');
      fs.writeFileSync(bundlePath, bundle.code);
      return { value: bundlePath, processes: [], stop: async () => undefined };
    },
  };
}

export interface SharedServers {
  stack: StartedPieces;
  tmp: string;
}

/**
 * Runs `work` with the event loop held open. jest awaits its global set-up and teardown, but an await on something
 * that holds no handle (a server start that waits on the SDK's native runtime, an unref'd child's exit) lets Node
 * drain its loop and end jest's process with exit code 0 in the middle: a run that tested nothing, or whose failures
 * were never reported, would look green.
 */
export async function holdingTheLoop<T>(work: () => Promise<T>): Promise<T> {
  const hold = setInterval(() => undefined, 1000);
  try {
    return await work();
  } finally {
    clearInterval(hold);
  }
}

export default function globalSetup(globalConfig: { maxWorkers: number }): Promise<void> {
  return holdingTheLoop(() => setUp(globalConfig));
}

async function setUp(globalConfig: { maxWorkers: number }): Promise<void> {
  const started = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-test-'));
  // The embedded PostgreSQL runs as the postgres user when we are root; it must be able to enter this folder.
  fs.chmodSync(tmp, 0o755);
  const workers = Array.from({ length: Math.max(1, globalConfig.maxWorkers) }, (_, i) => i + 1);
  let stack: StartedPieces;
  try {
    stack = await startAllOrNothing([
      ...workers.map((id) => postgresPiece(path.join(tmp, `data-${id}`), `postgres-${id}`)),
      // Lets tests reach the continue-as-new path of long-lived workflows without thousands of events.
      temporalPiece(['limit.historyCount.suggestContinueAsNew=200']),
      bundlePiece(tmp),
    ]);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  const pgs = workers.map((id) => stack.values[`postgres-${id}`] as EmbeddedPostgres);
  const env = stack.values.temporal as TestWorkflowEnvironment;

  process.env.REELFORGE_TEST_TMP = tmp;
  // Every mux signs content credentials: the tests sign with a development chain of their own (C2PA_SIGNING_*).
  if (!process.env.C2PA_SIGNING_KEY) {
    const chain = ensureDevSigningChain(path.join(tmp, 'c2pa'));
    process.env.C2PA_SIGNING_KEY = chain.keyPath;
    process.env.C2PA_SIGNING_CERTS = chain.certsPath;
  }
  for (const [i, pg] of pgs.entries()) process.env[workerPgUrlVariable(workers[i]!)] = pg.connectionString;
  process.env.REELFORGE_TEST_TEMPORAL_ADDRESS = env.address;
  process.env.REELFORGE_TEST_WORKFLOW_BUNDLE = stack.values.bundle as string;
  // The AWS SDK warns once per process on Node 20 that its 2027 releases need Node 22 (README, Blob store); the test
  // workers and the role processes they start inherit this, so the logs keep what the tests say.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // The API processes the tests start poll their own API as fast as a test wants; the request rate limit is tested by
  // test/api/rateLimits.test.ts on a server of its own.
  process.env.RATE_LIMIT_REQUESTS ??= '0';
  (globalThis as Record<string, unknown>).__reelforge = { stack, tmp } satisfies SharedServers;
  process.stderr.write(
    `\n[test setup] Temporal ${env.address}, embedded PostgreSQL :${pgs.map((pg) => pg.port).join(', :')}, bundle ready in ${Date.now() - started} ms\n`,
  );
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => process.stderr.write(`[bundle] ${message}\n`),
  error: (message: string) => process.stderr.write(`[bundle] ${message}\n`),
};
