// `npm start` with ROLES on two hosts (two working copies of one machine here): the first runs the API, the
// orchestration worker and the projector on its embedded PostgreSQL and Temporal dev server; the second runs only the
// GPU worker, joined to them through TEMPORAL_ADDRESS and DATABASE_URL, starts no server of its own, and renders the
// videos made through the first one's API.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../../infra/postgres/embedded';
import { eventually } from '../support/env';
import {
  cmdline,
  killTree,
  livePids,
  logOf,
  readRuntime,
  startSupervisor,
  survivors,
  tree,
  waitReady,
  type RuntimeFile,
  type Supervisor,
} from '../support/supervisor';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startS3Server, type S3Server } from '../support/s3';
import { videoFinished } from '../support/roleDatabase';

describe('npm start with ROLES: a GPU-worker host joins a cluster', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-roles-'));
  // As root the embedded PostgreSQL runs as the postgres user, who must be able to reach the data folder.
  fs.chmodSync(base, 0o755);
  const firstDir = path.join(base, 'first', 'data');
  const secondDir = path.join(base, 'second', 'data');
  for (const dir of [firstDir, secondDir]) fs.mkdirSync(path.dirname(dir), { recursive: true });
  const started: Supervisor[] = [];
  let apiPort: number;
  let first: Supervisor;
  let second: Supervisor;
  let firstRuntime: RuntimeFile;
  let secondRuntime: RuntimeFile;
  // The blob store both hosts share: a real S3 server (moto) on 127.0.0.1, named by BLOB_URL and the AWS variables.
  let s3: S3Server;
  let blobEnv: Record<string, string>;

  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ['reelforge-roles'] });
    blobEnv = {
      BLOB_URL: 's3://reelforge-roles/cluster',
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.aws.credentials!.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.aws.credentials!.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
  });

  afterAll(async () => {
    // The GPU host first, as an operator would; then the cluster. Whatever does not stop is killed.
    for (const s of [...started].reverse()) {
      if (s.proc.exitCode !== null || s.proc.signalCode !== null) continue;
      process.kill(s.proc.pid!, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([s.exit.then(() => true), new Promise((r) => (timer = setTimeout(() => r(false), 30000)))]);
      clearTimeout(timer);
      if (!stopped) killTree(s.proc.pid!, tree(s.proc.pid!));
    }
    for (const pid of livePids()) if (cmdline(pid).includes(base)) killTree(pid, tree(pid));
    fs.rmSync(base, { recursive: true, force: true });
    await s3?.stop();
  });

  it('a host with ROLES=gpu-worker, TEMPORAL_ADDRESS and DATABASE_URL starts no PostgreSQL, no Temporal and only the GPU worker', async () => {
    apiPort = await freePort();
    first = startSupervisor(firstDir, apiPort, 'first', { ROLES: 'api,orchestration-worker,projector', ...blobEnv });
    started.push(first);
    const ready = await waitReady(apiPort, first);
    expect(ready.body).toEqual({ status: 'ok', checks: { temporal: 'ok', eventstore: 'ok', readmodels: 'ok', blobs: 'ok' } });
    firstRuntime = readRuntime(firstDir);
    expect(firstRuntime.roles).toEqual(['api', 'orchestration-worker', 'projector']);
    expect(Object.keys(firstRuntime.children).sort()).toEqual(['api', 'orchestration-worker', 'projector']);
    expect(firstRuntime.temporal.pid).toEqual(expect.any(Number));
    expect(firstRuntime.postgres.pid).toEqual(expect.any(Number));

    second = startSupervisor(secondDir, await freePort(), 'second', {
      ROLES: 'gpu-worker',
      TEMPORAL_ADDRESS: firstRuntime.temporal.address,
      DATABASE_URL: firstRuntime.postgres.url,
      ...blobEnv,
    });
    started.push(second);
    const health = await eventually(() => readRuntimeIfThere(secondDir)?.health?.['gpu-worker'], 'the GPU host to record its health endpoint', 30000, 100);
    const gpuReady = await waitReady(health.url, second);
    expect(gpuReady.body).toEqual({ status: 'ok', role: 'gpu-worker', checks: { temporal: 'ok', blobs: 'ok', worker: 'ok' } });
    await eventually(() => (/reelforge is ready/.test(logOf(second)) ? true : undefined), 'the GPU host to say it is ready', 30000, 250);

    secondRuntime = readRuntime(secondDir);
    expect(secondRuntime.roles).toEqual(['gpu-worker']);
    expect(Object.keys(secondRuntime.children)).toEqual(['gpu-worker']);
    expect(secondRuntime.temporal).toEqual({ address: firstRuntime.temporal.address, namespace: 'default', uiUrl: null, pid: null });
    // The GPU worker uses no PostgreSQL: DATABASE_URL is neither checked nor recorded, and no API port is taken.
    expect(secondRuntime.postgres).toBeUndefined();
    expect(secondRuntime.api).toBeUndefined();
    // Its whole process tree: the supervisor and the GPU worker, nothing else (once a short-lived helper process the
    // worker may run at start, such as ffmpeg's check, has exited; seen on a loaded machine).
    const expected = [secondRuntime.supervisorPid, secondRuntime.children['gpu-worker']!].sort();
    const settled = await eventually(
      () => {
        const processes = tree(second.proc.pid!).sort();
        return JSON.stringify(processes) === JSON.stringify(expected) ? processes : undefined;
      },
      'the GPU host to run only the supervisor and the GPU worker',
      10_000,
      100,
    ).catch(() => tree(second.proc.pid!).sort());
    expect(settled).toEqual(expected);
    expect(fs.existsSync(path.join(secondDir, 'postgres'))).toBe(false);
    const out = logOf(second);
    expect(out).toContain('Roles        gpu-worker (ROLES)');
    expect(out).toContain(`Temporal     ${firstRuntime.temporal.address}   namespace default (TEMPORAL_ADDRESS)`);
    expect(out).not.toMatch(/Temporal UI|PostgreSQL {3}|API {10}/);
  });

  it("renders the videos made through the first host's API on the second host's GPU worker", async () => {
    expect(secondRuntime).toBeDefined();
    const keys = JSON.parse(fs.readFileSync(path.join(firstDir, 'dev-keys.json'), 'utf8')) as { user: string };
    const api = `http://127.0.0.1:${apiPort}`;
    const headers = { authorization: `Bearer ${keys.user}`, 'content-type': 'application/json' };
    const created = await fetch(`${api}/v1/videos`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ prompt: 'a red ball bounces on a wooden floor', seconds: 1, size: '256x256' }),
    });
    expect(created.status).toBe(200);
    const { id } = (await created.json()) as { id: string };
    const done = await videoFinished(api, headers, id, 90000);
    expect(done).toMatchObject({ id, status: 'completed' });
    const content = await fetch(`${api}/v1/videos/${id}/content`, { headers });
    expect(content.status).toBe(200);
    expect((await content.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    // Every blob of the video is in S3, and no host kept one on its own disk.
    const stored = await s3.client().send(new ListObjectsV2Command({ Bucket: 'reelforge-roles', Prefix: `cluster/videos/${id}/` }));
    const storedKeys = (stored.Contents ?? []).map((o) => o.Key!.slice(`cluster/videos/${id}/`.length));
    expect(storedKeys).toEqual(expect.arrayContaining(['content.mp4', 'thumbnail.jpg', 'spritesheet.jpg', 'chunks/000.ts']));
    for (const dir of [firstDir, secondDir]) expect(fs.existsSync(path.join(dir, 'blobs'))).toBe(false);

    // Who rendered it: the workflow history names the worker that started each GPU activity (pid@host by default).
    const connection = await Connection.connect({ address: firstRuntime.temporal.address });
    try {
      const history = await new Client({ connection }).workflow.getHandle(`video-${id}`).fetchHistory();
      const events = history.events ?? [];
      const scheduled = new Map(
        events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!]),
      );
      const startedBy = events
        .filter((e) => e.activityTaskStartedEventAttributes)
        .map((e) => {
          const task = scheduled.get(String(e.activityTaskStartedEventAttributes!.scheduledEventId));
          return { activity: task?.activityType?.name, queue: task?.taskQueue?.name, identity: e.activityTaskStartedEventAttributes!.identity };
        });
      const onGpu = startedBy.filter((s) => s.queue === 'gpu');
      expect(onGpu.map((s) => s.activity)).toEqual(expect.arrayContaining(['describeVideoScene', 'renderChunk']));
      expect(onGpu.filter((s) => !s.identity?.startsWith(`${secondRuntime.children['gpu-worker']}@`))).toEqual([]);
      // The rest ran on the first host's orchestration worker.
      const elsewhere = startedBy.filter((s) => s.queue !== 'gpu');
      expect(elsewhere.length).toBeGreaterThan(0);
      expect(elsewhere.filter((s) => s.queue !== 'orchestration' || !s.identity?.startsWith(`${firstRuntime.children['orchestration-worker']}@`))).toEqual([]);
    } finally {
      await connection.close();
    }
    expect(logOf(first)).not.toMatch(/gpu worker polling/);
  });

  it('stops the GPU host on SIGTERM with nothing left, and the cluster keeps running', async () => {
    expect(secondRuntime).toBeDefined();
    const before = tree(second.proc.pid!);
    process.kill(second.proc.pid!, 'SIGTERM');
    expect(await second.exit).toEqual({ code: 0, signal: null });
    expect(survivors(second.proc.pid!, secondDir, before)).toEqual([]);
    const ready = await fetch(`http://127.0.0.1:${apiPort}/readyz`);
    expect(ready.status).toBe(200);
  });
});

function readRuntimeIfThere(dataDir: string): RuntimeFile | undefined {
  try {
    return readRuntime(dataDir);
  } catch {
    return undefined;
  }
}
