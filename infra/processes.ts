// Processes seen through /proc (Linux): what the supervisor, the test set-up and their tests need to tell a live
// process from a gone one, what it runs, and whose child it is.
import fs from 'node:fs';

/** Its command line, arguments joined by spaces; undefined when it is gone. */
export function cmdlineOf(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/** State (`R`, `S`, `Z`...), parent and process group; undefined when it is gone. */
export function procStat(pid: number): { state: string; ppid: number; pgid: number } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces; the fields after it are fixed.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, ppid: Number(fields[1]), pgid: Number(fields[2]) };
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
