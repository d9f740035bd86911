// CPU time by component for bench scripts, from /proc (Linux): on a small machine the servers' own CPU competes with
// the work measured, and these numbers say how much. Elsewhere every reading is NaN and the reports print n/a.
import { childrenOf, procStat } from '../../infra/processes';

export interface CpuSample {
  /** This process and its children other than the servers (the GPU worker process, ffmpeg), live or waited for. */
  self: number;
  temporal: number;
  postgres: number;
}

/** CPU seconds of a process (utime + stime), plus those of its children it has reaped when `reaped`; NaN when gone. */
export function cpuSeconds(pid: number, reaped: boolean): number {
  const stat = procStat(pid);
  if (!stat) return NaN;
  return stat.cpuS + (reaped ? stat.reapedChildrenCpuS : 0);
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
