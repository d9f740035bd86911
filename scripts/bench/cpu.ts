// CPU time by component for bench scripts, from /proc (Linux): on a small machine the servers' own CPU competes with
// the work measured, and these numbers say how much. Elsewhere every reading is NaN and the reports print n/a.
import fs from 'node:fs';

/** Clock ticks per second of /proc's times: 100 on every Linux build that matters here (`getconf CLK_TCK`). */
const CLK_TCK = 100;

export interface CpuSample {
  /** This process and its children other than the servers (the GPU worker process, ffmpeg), live or waited for. */
  self: number;
  temporal: number;
  postgres: number;
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; everything after its closing parenthesis is space-separated.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU seconds of a process (utime + stime), plus those of its children it has reaped when `reaped`. */
export function cpuSeconds(pid: number, reaped: boolean): number {
  const f = statFields(pid);
  if (!f) return NaN;
  // After the name: state, ppid, ... utime is field 14 of the line, so index 11 here.
  const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((i) => Number(f[i]));
  return (utime! + stime! + (reaped ? cutime! + cstime! : 0)) / CLK_TCK;
}

function childrenOf(pid: number): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  return entries.map(Number).filter((p) => statFields(p)?.[1] === String(pid));
}

/**
 * Reads the CPU used so far by this process, the Temporal dev server and PostgreSQL (the postmaster with the backends
 * it has reaped, plus the live ones). A pid left out (a server this run did not start) reads NaN.
 */
export function cpuMeter(pids: { temporal?: number; postgres?: number }): () => CpuSample {
  return () => ({
    // This process, and its children other than the servers: the GPU worker process, live ffmpeg runs.
    self:
      cpuSeconds(process.pid, true) +
      childrenOf(process.pid)
        .filter((c) => c !== pids.temporal && c !== pids.postgres)
        .reduce((n, c) => n + cpuSeconds(c, true), 0),
    temporal: pids.temporal ? cpuSeconds(pids.temporal, true) : NaN,
    postgres: pids.postgres ? postgresCpuSeconds(pids.postgres) : NaN,
  });
}

export function cpuDelta(from: CpuSample, to: CpuSample): CpuSample {
  return { self: to.self - from.self, temporal: to.temporal - from.temporal, postgres: to.postgres - from.postgres };
}

/** CPU seconds of a process and every live descendant, each with the children it has reaped (a role and its ffmpeg runs). */
export function treeCpuSeconds(pid: number): number {
  return cpuSeconds(pid, true) + childrenOf(pid).reduce((n, c) => n + treeCpuSeconds(c), 0);
}

/** PostgreSQL's CPU seconds: the postmaster with the backends it has reaped, plus the live ones. */
export function postgresCpuSeconds(postmaster: number): number {
  return cpuSeconds(postmaster, true) + childrenOf(postmaster).reduce((n, c) => n + cpuSeconds(c, false), 0);
}
