// Graceful drain (issue 17), through the role processes as `npm start` and production run them, on the test run's
// Temporal dev server and a PostgreSQL database of this file's own: SIGTERM to a GPU worker in the middle of a chunk
// hands the chunk back at once (another worker renders it, without waiting for a heartbeat timeout) and exits 0 within
// SHUTDOWN_GRACE_SECONDS; SIGTERM to the API refuses new requests, ends progress streams cleanly, finishes the request
// in flight and exits 0.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { WORKER_SHUTDOWN_FAILURE } from '../../gpu-workers/activities';
import { startRole, withRoleOutput, type RoleProcess } from '../support/processes';
import { eventually, testEnv } from '../support/env';
import { createRoleDatabase, dropRoleDatabase, roleEnv, videoFinished } from '../support/roleDatabase';

/**
 * The GPU workers' grace period. Their drain time is 0 (WORKER_DRAIN_SECONDS): a chunk of the reference pack renders in
 * well under a second, so only a worker that hands back at once is sure to be caught with the chunk in hand.
 */
const GPU_GRACE_SECONDS = 4;

describe('graceful drain on SIGTERM', () => {
  const suffix = randomUUID().replace(/-/g, '').slice(0, 10);
  const database = `rf_drain_${suffix}`;
  const dataDir = path.join(testEnv.tmpDir, `drain-${suffix}`);
  const roles: RoleProcess[] = [];
  let databaseUrl: string;
  let env: Record<string, string>;
  let api: RoleProcess;
  let apiUrl: string;
  let gpu: RoleProcess[];
  let headers: Record<string, string>;
  let connection: Connection;
  let temporal: Client;

  const start = (entry: string, extra: Record<string, string> = {}): RoleProcess => {
    const role = startRole(entry, { ...env, ...extra });
    roles.push(role);
    return role;
  };

  beforeAll(async () => {
    fs.mkdirSync(dataDir, { recursive: true });
    databaseUrl = await createRoleDatabase(database);
    env = roleEnv({ databaseUrl, queues: `drain-${suffix}`, dataDir });
    // Each role's "up" line, watched for from its start.
    api = start('api/main.ts');
    const listening = api.logged(/^API listening/);
    const orchestration = start('activities/worker.ts');
    const projector = start('projections/main.ts');
    gpu = [0, 1].map(() => start('gpu-workers/worker.ts', { SHUTDOWN_GRACE_SECONDS: String(GPU_GRACE_SECONDS), WORKER_DRAIN_SECONDS: '0' }));
    const up = [
      orchestration.logged(/orchestration worker polling/),
      projector.logged(/^projector running/),
      ...gpu.map((g) => g.logged(/gpu worker polling/)),
    ];
    await withRoleOutput(
      () => roles,
      async () => {
        apiUrl = `http://127.0.0.1:${(await listening).port as number}`;
        await Promise.all(up);
      },
    );
    const keys = JSON.parse(fs.readFileSync(path.join(dataDir, 'dev-keys.json'), 'utf8')) as { user: string };
    headers = { authorization: `Bearer ${keys.user}`, 'content-type': 'application/json' };
    connection = await Connection.connect({ address: testEnv.temporalAddress });
    temporal = new Client({ connection });
  }, 180000);

  afterAll(async () => {
    await Promise.all(roles.map((r) => r.kill('SIGKILL')));
    await connection?.close();
    await dropRoleDatabase(database);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const createVideo = async (): Promise<string> => {
    const res = await fetch(`${apiUrl}/v1/videos`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ prompt: 'a red ball bounces on a wooden floor', seconds: 1, size: '1792x1024' }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { id: string }).id;
  };

  it('a GPU worker stopped mid-chunk hands the chunk back at once and exits 0 within its grace; the video completes on the other worker', async () => {
    await withRoleOutput(
      () => roles,
      async () => {
        const id = await createVideo();
        const workflow = temporal.workflow.getHandle(`video-${id}`);
        // The worker rendering the video chunk, once it has rendered a frame of it (its heartbeat says so).
        const busy = await eventually(
          async () => {
            const { raw } = await workflow.describe();
            const chunk = (raw.pendingActivities ?? []).find(
              (a) => a.activityType?.name === 'renderChunk' && a.lastWorkerIdentity && a.heartbeatDetails?.payloads?.length,
            );
            return gpu.find((g) => chunk?.lastWorkerIdentity?.startsWith(`${g.child.pid}@`));
          },
          'a GPU worker to be rendering the video chunk',
          90000,
          50,
        );
        const other = gpu.find((g) => g !== busy)!;
        const signalled = Date.now();
        busy.child.kill('SIGTERM');
        expect(await busy.exited).toBe('code 0');
        const stoppedAfterMs = Date.now() - signalled;

        const done = await videoFinished(apiUrl, headers, id);
        expect(done.status).toBe('completed');
        // Every chunk recorded once.
        const events = (await (await fetch(`${apiUrl}/v1/videos/${id}/events`, { headers })).json()) as { type: string; data: { index: number } }[];
        const rendered = events.filter((e) => e.type === 'VideoChunkRendered').map((e) => e.data.index);
        expect(rendered).toEqual([0]);

        // The history: the chunk's first attempt failed because its worker shut down (handed back), not by a heartbeat
        // timeout, and the attempt that rendered it ran on the other worker.
        const history = await workflow.fetchHistory();
        const chunkStarts = startsOf(history.events ?? [], 'renderChunk');
        expect(chunkStarts).toHaveLength(1);
        const [started] = chunkStarts;
        expect(started!.attempt).toBeGreaterThan(1);
        expect(started!.lastFailure?.timeoutFailureInfo).toBeFalsy();
        expect(started!.lastFailure?.applicationFailureInfo?.type).toBe(WORKER_SHUTDOWN_FAILURE);
        expect(started!.identity).toMatch(new RegExp(`^${other.child.pid}@`));
        process.stdout.write(`GPU worker stopped ${stoppedAfterMs} ms after SIGTERM (grace ${GPU_GRACE_SECONDS} s)\n`);
      },
    );
  });

  it('the API on SIGTERM refuses new requests, ends a progress stream cleanly, finishes the request in flight, and exits 0', async () => {
    await withRoleOutput(
      () => roles,
      async () => {
        // No GPU worker left: this video stays queued, so its progress stream stays open until the API stops.
        for (const g of gpu) expect(await g.kill('SIGTERM')).toBe('code 0');
        const id = await createVideo();
        const stream = await fetch(`${apiUrl}/v1/videos/${id}/stream`, { headers });
        expect(stream.status).toBe(200);
        const streamBody = stream.text();

        // A request in flight: its headers and half its body sent, the rest after the SIGTERM.
        const body = Buffer.from(JSON.stringify({ prompt: 'a blue kite over a green hill', seconds: 1, size: '256x256' }));
        const port = Number(new URL(apiUrl).port);
        const slow = http.request({
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/videos',
          headers: { ...headers, 'content-length': String(body.length) },
        });
        const slowResponse = new Promise<{ status: number; text: string }>((resolve, reject) => {
          slow.once('response', (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.once('end', () => resolve({ status: res.statusCode!, text }));
            res.once('error', reject);
          });
          slow.once('error', reject);
        });
        slow.write(body.subarray(0, 10));
        slow.flushHeaders();
        // The server has the request (it is counted as in flight) before the signal.
        await new Promise((r) => setTimeout(r, 300));

        api.child.kill('SIGTERM');
        // New connections are refused (or, on a kept-alive one, answered 503).
        const refused = await eventually(
          async () => {
            try {
              const res = await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
              return res.status === 503 ? 'answered 503' : undefined;
            } catch (err) {
              return ((err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message) === 'ECONNREFUSED' ? 'refused' : undefined;
            }
          },
          'the API to refuse new requests',
          10000,
          50,
        );
        expect(['refused', 'answered 503']).toContain(refused);
        // The progress stream ended cleanly (its body is whole), with the video's progress in it.
        const events = await streamBody;
        expect(events).toContain(`: video ${id}`);
        expect(events).toContain('event: progress');
        // The request in flight is finished.
        slow.end(body.subarray(10));
        const answer = await slowResponse;
        expect(answer.status).toBe(200);
        // Queued, or already in progress: the prompt is judged within the generation's first workflow task, so the read
        // model may have its chunk plan by the time the answer is built.
        expect(JSON.parse(answer.text)).toMatchObject({ object: 'video', status: expect.stringMatching(/^(queued|in_progress)$/) });
        expect(await api.exited).toBe('code 0');
      },
    );
  });
});

interface ActivityStart {
  attempt: number;
  identity: string;
  lastFailure: temporal.api.failure.v1.IFailure | null | undefined;
}

/** The started events of the activities of type `name` (one per scheduled activity: the attempt that ended it). */
function startsOf(events: temporal.api.history.v1.IHistoryEvent[], name: string): ActivityStart[] {
  const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).map((e) => String(e.eventId)));
  return events
    .map((e) => e.activityTaskStartedEventAttributes)
    .filter((a): a is temporal.api.history.v1.IActivityTaskStartedEventAttributes => !!a && scheduled.has(String(a.scheduledEventId)))
    .map((a) => ({ attempt: a.attempt ?? 1, identity: a.identity ?? '', lastFailure: a.lastFailure }));
}
