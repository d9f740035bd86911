// What every benchmark records and prints about the machine it ran on: CPU, cores, memory, Node, and the load average
// at its start and end (a loaded machine explains a slow run).
import os from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  totalMemoryBytes: number;
  platform: string;
  node: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
}

const round2 = (v: number) => Math.round(v * 100) / 100;

/** The machine now; `loadAverageAtStart` is os.loadavg() as the benchmark began. */
export function machineInfo(loadAverageAtStart: number[]): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    totalMemoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    loadAverageAtStart: loadAverageAtStart.map(round2),
    loadAverageAtEnd: os.loadavg().map(round2),
  };
}

/** One line for a report: `<cpu>, N cores, X GiB, node vN[, extra]; load average a at start, b at end`. */
export function describeMachine(machine: MachineInfo, extra?: string): string {
  const gib = (machine.totalMemoryBytes / 2 ** 30).toFixed(1);
  return `${machine.cpu}, ${machine.cores} cores, ${gib} GiB, node ${machine.node}${extra ? `, ${extra}` : ''}; load average ${machine.loadAverageAtStart.join(' ')} at start, ${machine.loadAverageAtEnd.join(' ')} at end`;
}
