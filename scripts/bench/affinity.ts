// CPU affinity for the benchmarks' "dedicated device" arrangement: with no accelerator, one core stands in for the
// GPU. The GPU worker process (and the direct run it is compared with) get that core to themselves; the platform
// (this process, the Temporal server, PostgreSQL, ffmpeg runs) gets the others, as it would on separate machines.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface CoreSplit {
  /** The stand-in device: the last core, as a taskset CPU list. */
  device: string;
  /** Everything else: the cores before it. */
  platform: string;
  deviceCores: number;
}

export function splitCores(cores = os.cpus().length): CoreSplit {
  if (cores < 2) throw new Error(`a dedicated device core needs at least 2 cores; this machine has ${cores}`);
  return { device: String(cores - 1), platform: cores === 2 ? '0' : `0-${cores - 2}`, deviceCores: 1 };
}

/** Pins every thread of `pid` to `cpus` (taskset from util-linux); threads and processes started later inherit it. */
export function pin(pid: number, cpus: string): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`cannot pin process ${pid} to CPUs ${cpus} with taskset: ${(err as Error).message}`);
  }
}

/** `command` and `args` run with their CPUs limited to `cpus`, when given. */
export function onCpus(cpus: string | undefined, command: string, args: string[]): [string, string[]] {
  return cpus === undefined ? [command, args] : ['taskset', ['-c', cpus, command, ...args]];
}
