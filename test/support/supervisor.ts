// `npm start` as the start tests run it: a supervisor in a process group of its own with its log in a file, its
// runtime.json, and the processes of its tree, through /proc.
import fs from 'node:fs';
import path from 'node:path';
import { allPids, cmdlineOf, isAlive, procStat } from '../../infra/processes';
import { spawnSupervisor, type SupervisorProcess } from '../../scripts/harness/cluster';
import { eventually } from './env';

export interface RuntimeFile {
  supervisorPid: number;
  roles: string[];
  /** Absent on a host without the api role. */
  api: { url: string; port: number; docsUrl: string };
  health: Record<string, { url: string; port: number }>;
  /** pid and uiUrl null when TEMPORAL_ADDRESS named the server; absent when no role here uses Temporal. */
  temporal: { address: string; uiUrl: string | null; pid: number };
  /** pid null when DATABASE_URL named the server; absent when no role here uses PostgreSQL. */
  postgres: { url: string; port: number; pid: number };
  eventStoreUrl: string;
  children: Record<string, number>;
}

/** `npm start` in a process group of its own, its log in a file (scripts/harness/cluster.ts spawnSupervisor). */
export type Supervisor = SupervisorProcess;

// ---- processes, through /proc -----------------------------------------------------------------------------------

export const stat = procStat;
export const cmdline = (pid: number): string => cmdlineOf(pid) ?? '';
export const livePids = (): number[] => allPids().filter((pid) => isAlive(pid));

/** The process and all its descendants (PostgreSQL backends put themselves in their own process groups). */
export function tree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of livePids()) {
    const s = stat(pid);
    if (s) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const visit = (pid: number): void => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) visit(c);
  };
  if (stat(root)) visit(root);
  return out;
}

/** Anything that still belongs to this run: in its process group, or naming its data folder (postgres -D, temporal). */
export function survivors(pgid: number, dataDir: string, known: number[]): string[] {
  const alive = livePids();
  return alive
    .filter((pid) => known.includes(pid) || stat(pid)?.pgid === pgid || cmdline(pid).includes(dataDir))
    .map((pid) => `${pid} ${cmdline(pid).slice(0, 120)}`);
}

// ---- the supervisor ---------------------------------------------------------------------------------------------

export function startSupervisor(dataDir: string, port: number, run: number | string, extraEnv: Record<string, string> = {}): Supervisor {
  return spawnSupervisor({
    logFile: path.join(dataDir, `..`, `supervisor-${run}.log`),
    env: { DATA_DIR: dataDir, PORT: String(port), TEMPORAL_DEV_PORT: '0', TEMPORAL_UI_PORT: '0', EMBEDDED_PG_PORT: '0', LOG_LEVEL: 'info', ...extraEnv },
  });
}

export function logOf(s: Supervisor): string {
  return fs.readFileSync(s.logFile, 'utf8');
}

/** Waits for GET /readyz on the API's `port` (or at a role's health `url`) to answer 200, and returns its body. */
export async function waitReady(target: number | string, s: Supervisor): Promise<{ body: unknown; ms: number }> {
  const started = Date.now();
  const url = typeof target === 'number' ? `http://127.0.0.1:${target}/readyz` : `${target}/readyz`;
  const ready = eventually(
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      return res.status === 200 ? ((await res.json()) as unknown) : undefined;
    },
    'GET /readyz to answer 200',
    60000,
    250,
  );
  // A supervisor that gives up fails the wait at once, not at the deadline.
  const gaveUp = s.exit.then(({ code, signal }) => {
    throw new Error(`the supervisor exited (code ${code}, signal ${signal}) before it was ready`);
  });
  try {
    const body = await Promise.race([ready, gaveUp]);
    return { body, ms: Date.now() - started };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- supervisor log (tail) ---\n${logOf(s).slice(-4000)}`);
  } finally {
    gaveUp.catch(() => undefined);
    ready.catch(() => undefined);
  }
}

export function readRuntime(dataDir: string): RuntimeFile {
  return JSON.parse(fs.readFileSync(path.join(dataDir, 'runtime.json'), 'utf8')) as RuntimeFile;
}

export function killTree(pgid: number, pids: number[]): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // the group may be gone already
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
