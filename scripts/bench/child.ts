// A project script run as a child process of a bench (the GPU worker, the direct runner): through tsx, from the
// project root, on the given CPUs, with the last lines of its stderr kept for the error that says why it died.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { PROJECT_ROOT } from '../../infra/tools';
import { onCpus } from './affinity';

const TAIL_LINES = 20;

export interface ScriptChild {
  child: ChildProcess;
  /** The last lines it printed on the streams named in `tail`. */
  tail(): string;
  /** Settles when it exits, with how ("code 0", "signal SIGKILL"). */
  exited: Promise<string>;
  /** Asks it to end with `ask`, waits, and SIGKILLs it after `graceMs`. */
  stop(ask: (child: ChildProcess) => void, graceMs: number): Promise<void>;
}

export function startScript(
  script: string,
  options: { args?: string[]; env?: Record<string, string>; cpus?: string; stdin?: boolean; tail?: ('stdout' | 'stderr')[]; onLine?: (line: string) => void },
): ScriptChild {
  const [command, args] = onCpus(options.cpus, process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, script), ...(options.args ?? [])]);
  const child = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...options.env },
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  for (const name of options.tail ?? ['stderr']) {
    readline.createInterface({ input: child[name]! }).on('line', (line) => {
      lines.push(line);
      if (lines.length > TAIL_LINES) lines.shift();
      options.onLine?.(line);
    });
  }
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`)));
  return {
    child,
    tail: () => lines.join('\n'),
    exited,
    async stop(ask, graceMs) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      ask(child);
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(killer);
    },
  };
}
