// The local Temporal server of `npm start`: the Temporal CLI's dev server as a child process, persisting to a
// SQLite file under DATA_DIR so workflows survive a restart.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { Connection } from '@temporalio/client';
import type { Logger } from '../logger';
import { freePort } from '../postgres/embedded';
import { describeFailure, type ProvisionedTool } from '../tools';
import { pingTemporal } from './connection';

export interface TemporalDevServer {
  /** host:port of the gRPC front end. */
  address: string;
  port: number;
  uiPort: number;
  uiUrl: string;
  namespace: string;
  dbFilename: string;
  pid: number;
  /** Resolves when the process has exited, however it ended: "code 0", "signal SIGKILL", a spawn error. */
  exited: Promise<string>;
  stop(graceMs?: number): Promise<void>;
}

export interface DevServerOptions {
  /** readTools().temporalCli: the binary the bootstrap provisioned, or null with what it tried. */
  cli: ProvisionedTool;
  dataDir: string;
  /** 0 = any free port. */
  port: number;
  uiPort: number;
  namespace: string;
  logger?: Logger;
  readyTimeoutMs?: number;
  /** Aborting while the server starts stops it and rejects with the abort's reason. */
  signal?: AbortSignal;
}

const IP = '127.0.0.1';

/**
 * Server settings the platform relies on, as dev-server flags (a production cluster sets the same keys in its
 * dynamic config). Eager activity execution hands an activity scheduled on the workflow's own task queue (event
 * appends, measurements, the mux) straight back to the worker that scheduled it, saving a matching round trip.
 * Fairness makes each tier's fairness key (the priority the API starts a generation with) get its weight's share of
 * the GPU queue's dispatches, so a higher tier goes sooner and no tier waits forever (docs/architecture.md).
 */
export const DEV_SERVER_DYNAMIC_CONFIG: readonly string[] = [
  'system.enableActivityEagerExecution=true',
  'matching.enableFairness=true',
  'matching.numTaskqueueReadPartitions=1',
  'matching.numTaskqueueWritePartitions=1',
];

export function dynamicConfigArgs(values: readonly string[] = DEV_SERVER_DYNAMIC_CONFIG): string[] {
  return values.flatMap((v) => ['--dynamic-config-value', v]);
}

/** The SQLite file the dev server of this data folder uses; also how a leftover server is recognised. */
export function temporalDbFilename(dataDir: string): string {
  return path.join(dataDir, 'temporal', 'temporal.sqlite');
}

export async function startTemporalDevServer(options: DevServerOptions): Promise<TemporalDevServer> {
  if (!options.cli.path) {
    throw new Error(describeFailure(options.cli, 'the Temporal CLI', new Error('the bootstrap found no binary (run `node scripts/bootstrap.js`)')));
  }
  const port = options.port === 0 ? await freePort() : options.port;
  let uiPort = options.uiPort === 0 ? await freePort() : options.uiPort;
  while (uiPort === port) uiPort = await freePort();
  const dbFilename = temporalDbFilename(options.dataDir);
  fs.mkdirSync(path.dirname(dbFilename), { recursive: true });
  const args = ['server', 'start-dev', '--ip', IP, '--port', String(port), '--ui-port', String(uiPort)];
  args.push('--db-filename', dbFilename, '--namespace', options.namespace, '--log-level', 'warn', '--log-format', 'json', ...dynamicConfigArgs());

  // The CLI also reads TEMPORAL_* connection settings from the environment; ours are not meant for it.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  const child = spawn(options.cli.path, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logger = options.logger?.child({ component: 'temporal-dev-server', serverPid: child.pid });
  const tail: string[] = [];
  // While stopping, the server's internal workers complain that their connections close: expected, so quieter.
  let stopping = false;
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      logLine(logger, line, stopping);
    });
  }
  let exitInfo: string | undefined;
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve((exitInfo = signal ? `signal ${signal}` : `code ${code}`)));
    child.once('error', (err) => resolve((exitInfo = err.message)));
  });

  const address = `${IP}:${port}`;
  const server: TemporalDevServer = {
    address,
    port,
    uiPort,
    uiUrl: `http://${IP}:${uiPort}`,
    namespace: options.namespace,
    dbFilename,
    pid: child.pid ?? -1,
    exited,
    stop: (graceMs = 10000) => {
      stopping = true;
      return stopProcess(child, exited, graceMs);
    },
  };
  const onAbort = (): void => void server.stop(2000);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    options.signal?.throwIfAborted();
    await waitUntilReady(address, options.namespace, exited, () => exitInfo, options.readyTimeoutMs ?? 60000);
    options.signal?.throwIfAborted();
  } catch (err) {
    await server.stop(2000);
    options.signal?.throwIfAborted();
    const output = tail.length > 0 ? `\n${tail.join('\n')}` : '';
    throw new Error(`the Temporal dev server (${options.cli.path} ${args.join(' ')}) did not start: ${(err as Error).message}${output}`);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  logger?.info({ address, uiUrl: server.uiUrl, dbFilename }, 'Temporal dev server started');
  return server;
}

async function waitUntilReady(
  address: string,
  namespace: string,
  exited: Promise<string>,
  exitInfo: () => string | undefined,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let gone = false;
  void exited.then(() => (gone = true));
  while (!gone) {
    if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms: ${(lastError as Error | undefined)?.message ?? 'no answer'}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await pingTemporal(connection, namespace);
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 200))]);
  }
  throw new Error(`it exited (${exitInfo() ?? 'unknown reason'})`);
}

/** SIGTERM (the dev server flushes and closes SQLite), then SIGKILL once the grace period is over. */
async function stopProcess(child: ChildProcess, exited: Promise<string>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

/** The server logs JSON at warn and above; its start banner is plain text. Both end up as pino lines. */
function logLine(logger: Logger | undefined, line: string, stopping: boolean): void {
  if (!logger || line.trim() === '') return;
  try {
    const entry = JSON.parse(line) as { level?: string; msg?: string; [key: string]: unknown };
    const level = stopping ? 'debug' : String(entry.level ?? 'info').toLowerCase();
    const { msg, level: _level, time: _time, ...rest } = entry;
    logger[(LEVELS.has(level) ? level : 'info') as 'info'](rest, String(msg ?? ''));
  } catch {
    logger.debug(line.trim());
  }
}
