// `npm start` as a user runs it: ready within 60 s, a dead role restarted, every event and workflow intact after the
// whole tree is SIGKILLed, and on SIGTERM an exit 0 that leaves no process behind. A start that cannot succeed exits
// non-zero within seconds, naming the cause in one line, and leaves no process behind.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { openEventStore } from '../../infra/eventstore';
import { freePort } from '../../infra/postgres/embedded';
import { recordEventsWorkflow } from '../../workflows';
import { eventually } from '../support/env';
import { cmdline, killTree, livePids, logOf, readRuntime, startSupervisor, survivors, tree, waitReady, type Supervisor } from '../support/supervisor';

describe('npm start (scripts/start.ts)', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-start-'));
  // As root the embedded PostgreSQL runs as the postgres user, who must be able to reach the data folder.
  fs.chmodSync(base, 0o755);
  const dataDir = path.join(base, 'data');
  const started: Supervisor[] = [];

  afterAll(async () => {
    // Whatever a failed test left running goes, so the next run starts clean.
    for (const s of started) if (s.proc.pid) killTree(s.proc.pid, tree(s.proc.pid));
    for (const pid of livePids()) if (cmdline(pid).includes(dataDir)) killTree(pid, tree(pid));
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('comes up ready, restarts a dead role, keeps every event across a SIGKILL of the whole tree, and stops cleanly', async () => {
    const port = await freePort();
    const timings: Record<string, number> = {};

    // --- first start -------------------------------------------------------------------------------------------
    const first = startSupervisor(dataDir, port, 1);
    started.push(first);
    const ready1 = await waitReady(port, first);
    timings.firstReadyMs = ready1.ms;
    expect(ready1.body).toEqual({ status: 'ok', checks: { temporal: 'ok', eventstore: 'ok', readmodels: 'ok', blobs: 'ok' } });
    expect(ready1.ms).toBeLessThan(60000);

    const runtimeStat = fs.statSync(path.join(dataDir, 'runtime.json'));
    expect(runtimeStat.mode & 0o777).toBe(0o600);
    const runtime1 = readRuntime(dataDir);
    expect(runtime1.api.url).toBe(`http://127.0.0.1:${port}`);
    expect(runtime1.temporal.uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Object.keys(runtime1.children).sort()).toEqual(['api', 'gpu-worker', 'orchestration-worker', 'projector']);
    // Where everything listens, for people: the URLs, with the database password left out.
    const out1 = logOf(first);
    expect(out1).toContain(`API docs     http://127.0.0.1:${port}/docs`);
    expect(out1).toContain(`Temporal UI  ${runtime1.temporal.uiUrl}`);
    expect(out1).toMatch(/PostgreSQL {3}postgres:\/\/reelforge:\*\*\*@127\.0\.0\.1:\d+\/reelforge/);
    expect(out1).not.toMatch(/reelforge:reelforge@/);
    const docs = await fetch(`http://127.0.0.1:${port}/docs`);
    expect(docs.status).toBe(200);

    // Every role is up and stays up (none is crash-looping).
    await eventually(
      () =>
        logOf(first).includes('orchestration worker polling') && logOf(first).includes('gpu worker polling') && logOf(first).includes('projector running')
          ? true
          : undefined,
      'all four roles running',
      60000,
      250,
    );
    expect(logOf(first)).not.toMatch(/restarting in/);

    // Each worker role answers /readyz on a health port of its own, naming what it depends on; the supervisor says
    // "ready" once the API and all three do.
    expect(Object.keys(runtime1.health).sort()).toEqual(['gpu-worker', 'orchestration-worker', 'projector']);
    const readyz = async (role: string) => {
      const res = await fetch(`${runtime1.health[role]!.url}/readyz`);
      return { status: res.status, body: (await res.json()) as unknown };
    };
    await eventually(() => (/reelforge is ready/.test(logOf(first)) ? true : undefined), 'the supervisor to say it is ready', 30000, 250);
    expect(await readyz('orchestration-worker')).toEqual({
      status: 200,
      body: { status: 'ok', role: 'orchestration-worker', checks: { temporal: 'ok', eventstore: 'ok', blobs: 'ok', worker: 'ok' } },
    });
    expect(await readyz('gpu-worker')).toEqual({
      status: 200,
      body: { status: 'ok', role: 'gpu-worker', checks: { temporal: 'ok', blobs: 'ok', worker: 'ok' } },
    });
    expect(await readyz('projector')).toEqual({
      status: 200,
      body: { status: 'ok', role: 'projector', checks: { eventstore: 'ok', readmodels: 'ok', projections: 'ok' } },
    });

    // --- a role that dies is restarted, and the log says so ----------------------------------------------------
    const oldApi = runtime1.children.api!;
    process.kill(oldApi, 'SIGKILL');
    await eventually(
      () => (/child api exited with signal SIGKILL; restarting in 500 ms/.test(logOf(first)) ? true : undefined),
      'the restart to be logged',
      10000,
      100,
    );
    await waitReady(port, first);
    const newApi = readRuntime(dataDir).children.api!;
    expect(newApi).not.toBe(oldApi);
    expect(cmdline(newApi)).toContain('api/main.ts');

    // --- events appended now must survive a crash of everything ---------------------------------------------------
    const stream = `start-test-${randomUUID()}`;
    const written = [0, 1, 2].map((i) => ({ id: randomUUID(), type: 'SomethingHappened', data: { i, note: 'survives SIGKILL' } }));
    const store1 = await openEventStore({ url: runtime1.eventStoreUrl, maxEventBytes: 1024 * 1024 });
    await store1.appendToStream(stream, written, { expectedRevision: 'no_stream' });
    await store1.close();

    // A workflow run through the supervised orchestration worker: its history lives in the dev server's SQLite file.
    const workflowStream = `video-start-test-${randomUUID()}`;
    const connection1 = await Connection.connect({ address: runtime1.temporal.address });
    const result = await new Client({ connection: connection1 }).workflow.execute(recordEventsWorkflow, {
      taskQueue: 'orchestration',
      workflowId: workflowStream,
      args: [{ stream: workflowStream, actor: 'user_start_test', batches: [[{ type: 'VideoRequested', data: { prompt: 'a ball' } }]] }],
      workflowExecutionTimeout: '60 seconds',
    });
    expect(result.eventsRecorded).toBe(1);
    await connection1.close();

    // SIGKILL every process of the tree at once, as a crash of the machine would.
    const pgid = first.proc.pid!;
    const doomed = tree(pgid);
    expect(doomed).toEqual(expect.arrayContaining([runtime1.supervisorPid, runtime1.temporal.pid, runtime1.postgres.pid, newApi]));
    killTree(pgid, doomed);
    expect(await first.exit).toEqual({ code: null, signal: 'SIGKILL' });
    await eventually(() => (survivors(pgid, dataDir, doomed).length === 0 ? true : undefined), 'every process of the killed tree to be gone', 10000, 100).catch(
      (err: Error) => {
        throw new Error(`${err.message}: ${survivors(pgid, dataDir, doomed).join('\n')}`);
      },
    );

    // --- restart: ready again, with everything that was appended ------------------------------------------------
    const second = startSupervisor(dataDir, port, 2);
    started.push(second);
    const ready2 = await waitReady(port, second);
    timings.restartReadyMs = ready2.ms;
    expect(ready2.body).toEqual({ status: 'ok', checks: { temporal: 'ok', eventstore: 'ok', readmodels: 'ok', blobs: 'ok' } });
    const runtime2 = readRuntime(dataDir);
    expect(runtime2.supervisorPid).not.toBe(runtime1.supervisorPid);
    const store2 = await openEventStore({ url: runtime2.eventStoreUrl, maxEventBytes: 1024 * 1024 });
    const read = await store2.readStream(stream);
    expect(read.map((e) => ({ id: e.id, type: e.type, data: e.data }))).toEqual(written);
    expect(read.map((e) => e.revision)).toEqual([0n, 1n, 2n]);
    const fromWorkflow = await store2.readStream(workflowStream);
    expect(fromWorkflow.map((e) => e.type)).toEqual(['VideoRequested']);
    await store2.close();
    const connection2 = await Connection.connect({ address: runtime2.temporal.address });
    const described = await new Client({ connection: connection2 }).workflow.getHandle(workflowStream).describe();
    await connection2.close();
    expect(described.status.name).toBe('COMPLETED');

    // --- SIGTERM: everything stops, the supervisor exits 0, nothing is left -------------------------------------
    const pgid2 = second.proc.pid!;
    const before = tree(pgid2);
    expect(before).toEqual(expect.arrayContaining([runtime2.supervisorPid, runtime2.temporal.pid, runtime2.postgres.pid]));
    const stopStarted = Date.now();
    process.kill(pgid2, 'SIGTERM');
    expect(await second.exit).toEqual({ code: 0, signal: null });
    timings.stopMs = Date.now() - stopStarted;
    expect(survivors(pgid2, dataDir, before)).toEqual([]);
    expect(fs.existsSync(path.join(dataDir, 'runtime.json'))).toBe(false);
    expect(logOf(second)).toMatch(/"msg":"stopped"/);

    process.stderr.write(
      `[start.test] first ready ${timings.firstReadyMs} ms, ready after SIGKILL + restart ${timings.restartReadyMs} ms, SIGTERM to exit ${timings.stopMs} ms\n`,
    );
  });
});

/** Holds a TCP port open on 127.0.0.1 (so a server that wants it cannot have it) until closed. */
async function occupyPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('npm start that cannot succeed', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-start-fail-'));
  fs.chmodSync(base, 0o755);
  const started: Supervisor[] = [];
  const occupied: Array<{ close(): Promise<void> }> = [];

  afterAll(async () => {
    for (const s of started) if (s.proc.pid) killTree(s.proc.pid, tree(s.proc.pid));
    for (const pid of livePids()) if (cmdline(pid).includes(base)) killTree(pid, tree(pid));
    await Promise.all(occupied.map((o) => o.close()));
    fs.rmSync(base, { recursive: true, force: true });
  });

  const cases: Array<{ what: string; setup: (dataDir: string) => Promise<{ env: Record<string, string>; cause: RegExp }> }> = [
    {
      what: 'the API port is occupied',
      setup: async () => {
        const held = await occupyPort();
        occupied.push(held);
        return { env: { PORT: String(held.port) }, cause: new RegExp(`PORT ${held.port} is already in use`) };
      },
    },
    {
      what: 'DATABASE_URL is unreachable',
      setup: async () => {
        const port = await freePort();
        return {
          env: { DATABASE_URL: `postgres://someone:secret@127.0.0.1:${port}/db` },
          cause: new RegExp(`DATABASE_URL postgres://someone:\\*\\*\\*@127\\.0\\.0\\.1:${port}/db is unreachable: connect ECONNREFUSED`),
        };
      },
    },
    {
      what: 'TEMPORAL_ADDRESS is unreachable',
      setup: async () => {
        const port = await freePort();
        return {
          env: { TEMPORAL_ADDRESS: `127.0.0.1:${port}` },
          cause: new RegExp(`TEMPORAL_ADDRESS 127\\.0\\.0\\.1:${port} \\(namespace default\\) is unreachable`),
        };
      },
    },
    {
      what: 'a GPU-worker host is not told where Temporal is',
      setup: async () => ({
        env: { ROLES: 'gpu-worker' },
        cause: /ROLES=gpu-worker needs a Temporal server \(gpu-worker\) but TEMPORAL_ADDRESS is unset: set TEMPORAL_ADDRESS/,
      }),
    },
    {
      // The embedded PostgreSQL fails at once while the Temporal dev server is still starting: that start is cut short.
      what: "the embedded PostgreSQL's cluster is damaged",
      setup: async (dataDir) => {
        fs.mkdirSync(path.join(dataDir, 'postgres'), { recursive: true });
        fs.writeFileSync(path.join(dataDir, 'postgres', 'PG_VERSION'), '18\n');
        return { env: {}, cause: /PostgreSQL \(.*\) exited with code \d+ before it was ready: .*postgresql\.conf/ };
      },
    },
  ];

  it.each(cases)('exits non-zero in under 10 s when $what, naming the cause in one line, with no process left', async ({ what, setup }) => {
    const dataDir = path.join(base, what.replace(/\W+/g, '-'), 'data');
    fs.mkdirSync(path.dirname(dataDir), { recursive: true });
    const { env, cause } = await setup(dataDir);
    const spawnedAt = Date.now();
    const s = startSupervisor(dataDir, await freePort(), 'failing', env);
    started.push(s);
    const pgid = s.proc.pid!;
    // Every process of the run, as seen while it runs (PostgreSQL backends leave the process group).
    const seen = new Set<number>();
    const sampler = setInterval(() => tree(pgid).forEach((pid) => seen.add(pid)), 50);
    const exit = await s.exit.finally(() => clearInterval(sampler));
    const tookMs = Date.now() - spawnedAt;
    const log = logOf(s);
    const survived = survivors(pgid, dataDir, [...seen]);
    const failedLines = log.split('\n').filter((line) => line.includes('start-up failed'));
    const detail = `\n--- supervisor log (tail) ---\n${log.slice(-3000)}`;
    expect({ exit, survived }).toEqual({ exit: { code: 1, signal: null }, survived: [] });
    expect(failedLines.length === 1 ? failedLines[0] : `${failedLines.length} lines${detail}`).toMatch(cause);
    if (tookMs >= 10000) throw new Error(`the failed start took ${tookMs} ms to exit${detail}`);
    process.stderr.write(`[start.test] ${what}: exit ${exit.code} after ${tookMs} ms, ${seen.size} processes seen, none left\n`);
  });
});
