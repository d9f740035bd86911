// Processes seen through /proc (Linux): what the supervisor, the test set-up, their tests and the benches need to tell
// a live process from a gone one, what it runs, whose child it is and how much CPU it has used.
import fs from 'node:fs';

/** Its command line, arguments joined by spaces; undefined when it is gone. */
export function cmdlineOf(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/** Clock ticks per second of /proc's times: 100 on every Linux build that matters here (`getconf CLK_TCK`). */
const CLK_TCK = 100;

export interface ProcStat {
  /** `R`, `S`, `Z`... */
  state: string;
  ppid: number;
  pgid: number;
  /** CPU seconds in user and kernel mode (utime + stime). */
  cpuS: number;
  /** CPU seconds of the children it has waited for (cutime + cstime). */
  reapedChildrenCpuS: number;
}

/** State, parent, process group and CPU time; undefined when it is gone. */
export function procStat(pid: number): ProcStat | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces; the fields after it are fixed (proc(5): state is
    // field 3, so index 0 here; utime, stime, cutime and cstime are fields 14 to 17).
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ticks = (i: number) => Number(fields[i]);
    return {
      state: fields[0]!,
      ppid: ticks(1),
      pgid: ticks(2),
      cpuS: (ticks(11) + ticks(12)) / CLK_TCK,
      reapedChildrenCpuS: (ticks(13) + ticks(14)) / CLK_TCK,
    };
  } catch {
    return undefined;
  }
}

/** Running, and not a zombie (which still answers kill(0) but is gone for our purposes). */
export function isAlive(pid: number): boolean {
  // kill(0 or negative) would address process groups, never one process.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return procStat(pid)?.state !== 'Z';
}

/** Every pid in /proc. */
export function allPids(): number[] {
  try {
    return fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return [];
  }
}

/** The pids whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  return allPids().filter((p) => procStat(p)?.ppid === pid);
}
