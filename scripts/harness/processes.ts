// The product's entry points as child processes, started as `npm start` starts them (`node --import tsx <file>`), for
// tests that kill a role. Each keeps the tail of its output, so a failing test can say what the process said.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../../infra/tools';

export interface RoleProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited: "code 0", "signal SIGKILL". */
  readonly exited: Promise<string>;
  /** Its last lines of output, for a failure message. */
  output(): string;
  /** Sends `signal` (SIGKILL unless told) and waits for the exit; a process already gone is left alone. */
  kill(signal?: NodeJS.Signals): Promise<string>;
  /** The first JSON log line from now on whose `msg` matches; rejects when the process exits before it. */
  logged(msg: RegExp): Promise<Record<string, unknown>>;
}

/** Starts `entry` (relative to the project root) with the test's environment plus `env`. */
export function startRole(entry: string, env: Record<string, string>): RoleProcess {
  const name = entry;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, entry)], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const watchers = new Set<(entry: Record<string, unknown>) => void>();
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 30) tail.shift();
      if (watchers.size === 0 || !line.startsWith('{')) return;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      for (const watcher of watchers) watcher(entry);
    });
  }
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`));
    child.once('error', (err) => resolve(err.message));
  });
  const logged = (msg: RegExp) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const watcher = (entry: Record<string, unknown>) => {
        if (typeof entry.msg !== 'string' || !msg.test(entry.msg)) return;
        watchers.delete(watcher);
        resolve(entry);
      };
      watchers.add(watcher);
      void exited.then((how) => {
        if (!watchers.delete(watcher)) return;
        reject(new Error(`${name} exited (${how}) before it logged ${msg}\n${tail.join('\n')}`));
      });
    });
  return {
    name,
    child,
    exited,
    output: () => `\n--- ${name} (pid ${child.pid}) ---\n${tail.join('\n')}`,
    kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    logged,
  };
}

/** Runs `body`; when it throws, the roles' output is added to the error, since their logs are otherwise lost. */
export async function withRoleOutput<T>(roles: () => RoleProcess[], body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof Error)
      err.message += roles()
        .map((r) => r.output())
        .join('');
    throw err;
  }
}

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command-line script (relative to the project root) to its end, as `npm run <script> --` runs it after the
 * bootstrap, with the test's environment changed by `env` (undefined removes a variable); LOG_LEVEL is silent unless
 * `env` says otherwise.
 */
export function runScript(script: string, args: readonly string[], env: Record<string, string | undefined> = {}): Promise<ScriptRun> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent' };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  const child = spawn(process.execPath, ['--import', tsx, path.join(PROJECT_ROOT, script), ...args], { cwd: PROJECT_ROOT, env: childEnv });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
