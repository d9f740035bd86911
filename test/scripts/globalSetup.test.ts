// The tests' set-up (test/globalSetup.ts) leaves no server running however the run ends: a piece that fails makes it
// stop what it had started (jest runs no globalTeardown then), and a watchdog stops the servers when the process
// that started them dies without stopping them (jest crashed, was killed, or got SIGINT/SIGTERM).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { PROJECT_ROOT } from '../../infra/tools';
import { postgresPiece, startAllOrNothing, temporalPiece, type Piece } from '../globalSetup';
import { eventually } from '../support/env';
import { cmdlineOf, isAlive } from '../../infra/processes';

const alive = isAlive;
const command = (pid: number): string => (cmdlineOf(pid) ?? '').slice(0, 160);

describe('the test set-up', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-setup-'));
  // As root the embedded PostgreSQL runs as the postgres user, who must be able to enter this folder.
  fs.chmodSync(base, 0o755);
  const seen: number[] = [];

  afterAll(() => {
    for (const pid of seen) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    }
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('stops the servers that started when another piece fails, and names the failed piece', async () => {
    const started: Record<string, number[]> = {};
    const watched = <T>(piece: Piece<T>): Piece<T> => ({
      name: piece.name,
      start: async () => {
        const s = await piece.start();
        started[piece.name] = s.processes.map((p) => p.pid);
        seen.push(...started[piece.name]!);
        return s;
      },
    });
    const failing: Piece<unknown> = {
      name: 'bundle',
      start: () => Promise.reject(new Error('the workflow bundle did not build')),
    };
    await expect(startAllOrNothing([watched(postgresPiece(path.join(base, 'failing'))), watched(temporalPiece()), failing])).rejects.toThrow(
      'the test set-up failed, and stopped what it had started: bundle: the workflow bundle did not build',
    );
    // Both servers had started (the failure did not stop them from starting) and are gone now.
    expect(Object.keys(started).sort()).toEqual(['postgres', 'temporal']);
    expect(started.postgres).toHaveLength(1);
    expect(started.temporal).toHaveLength(1);
    expect([...started.postgres!, ...started.temporal!].filter(alive).map(command)).toEqual([]);
  });

  it.each(['SIGKILL', 'SIGTERM'] as const)('stops the servers when the process that started them gets %s before its teardown', async (signal) => {
    // A process that runs the set-up the way jest's main process does, then is killed before any teardown.
    const code = [
      "const { postgresPiece, startAllOrNothing, temporalPiece } = require('./test/globalSetup.ts');",
      `startAllOrNothing([postgresPiece(${JSON.stringify(path.join(base, signal))}), temporalPiece()])`,
      '  .then((s) => { process.stdout.write("PIDS " + JSON.stringify(s.pids) + "\\n"); setInterval(() => undefined, 1000); })',
      '  .catch((err) => { process.stderr.write(String(err) + "\\n"); process.exit(1); });',
    ].join('\n');
    const runner = spawn(process.execPath, ['--import', 'tsx', '-e', code], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: string[] = [];
    readline.createInterface({ input: runner.stderr }).on('line', (l) => stderr.push(l));
    const exited = new Promise<string>((resolve) => runner.once('exit', (c, s) => resolve(s ?? `code ${c}`)));
    // The Temporal CLI writes its banner to the same stdout.
    const line = await Promise.race([
      new Promise<string>((resolve) => readline.createInterface({ input: runner.stdout }).on('line', (l) => l.startsWith('PIDS ') && resolve(l.slice(5)))),
      exited.then((how) => {
        throw new Error(`the set-up process exited (${how}) before it was ready: ${stderr.join('\n')}`);
      }),
    ]);
    const pids = JSON.parse(line) as Record<string, number[]>;
    const servers = [...pids.postgres!, ...pids.temporal!];
    seen.push(...servers);
    expect(servers).toHaveLength(2);
    expect(servers.filter(alive)).toEqual(servers);

    runner.kill(signal);
    // SIGKILL leaves it to the watchdog; SIGTERM is handled: the servers are stopped, then the process exits 143.
    expect(await exited).toBe(signal === 'SIGKILL' ? 'SIGKILL' : 'code 143');
    await eventually(() => (servers.some(alive) ? undefined : true), `the servers ${servers.join(', ')} to be stopped`, 20000, 100).catch((err: Error) => {
      throw new Error(`${err.message}: ${servers.filter(alive).map(command).join('; ')}`);
    });
  });
});
