// A cluster of three hosts on this machine (scripts/harness/cluster.ts): host A runs the API, the orchestration worker
// and the projector; hosts B and C run only the GPU worker. Each host is an `npm start` supervisor in a process group
// of its own, with its own DATA_DIR, working folder and TMPDIR; the shared services are the test run's Temporal dev
// server (task queues of this file's own), a PostgreSQL of this file's own and moto's S3 server behind a TCP proxy.
// One video (same prompt, seed and size every time) is made in each scenario, and every run's MP4 must be the
// uninterrupted run's, byte for byte (the Muxed event's media_sha256: the MP4 before its content credentials, which
// name the video and are signed anew), with one VideoChunkRendered per chunk.
//
// "The S3 server stopped for 10 s" is the proxy closed for 10 s (its listener and every open connection): moto keeps
// its objects in memory, so stopping moto itself would lose them. To the hosts the store is gone and comes back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import {
  filesInDataDir,
  gpuActivities,
  gpuWorkerPid,
  pendingActivities,
  startClusterServices,
  startHost,
  submitVideo,
  videoEvents,
  videoState,
  waitForWorkflow,
  type ClusterHost,
  type ClusterServices,
} from '../../scripts/harness/cluster';
import { eventually, testEnv } from '../support/env';

const VIDEO = { prompt: 'a red ball bounces on a wooden floor', seconds: 2, size: '256x256', seed: 4242 };
const CHUNKS = 2;
/** The GPU activities' heartbeat timeout (workflows/generation.ts) is 20 s; a moved chunk takes that and a render. */
const MOVED_CHUNK_TIMEOUT_MS = 180_000;

describe('a cluster: one platform host and two GPU-worker hosts on shared services', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-cluster-'));
  // As root the embedded PostgreSQL runs as the postgres user, who must be able to reach the data folder.
  fs.chmodSync(base, 0o755);
  let services: ClusterServices;
  let a: ClusterHost;
  let b: ClusterHost;
  let c: ClusterHost;
  let uninterruptedSha: string;

  beforeAll(async () => {
    services = await startClusterServices({ dir: base, temporalAddress: testEnv.temporalAddress, name: `cluster-${process.pid}` });
    a = await startHost(services, { name: 'a', roles: ['api', 'orchestration-worker', 'projector'] });
    [b, c] = await Promise.all([startHost(services, { name: 'b', roles: ['gpu-worker'] }), startHost(services, { name: 'c', roles: ['gpu-worker'] })]);
  }, 240_000);

  afterAll(async () => {
    for (const host of [b, c, a]) {
      host?.resume();
      await host?.stop();
    }
    await services?.stop();
    fs.rmSync(base, { recursive: true, force: true });
  }, 120_000);

  /** The video completed, its MP4 the uninterrupted run's, one VideoChunkRendered per chunk; returns its events. */
  async function expectCompletedOnce(id: string) {
    const events = await videoEvents(services, id);
    const rendered = events.filter((e) => e.type === 'VideoChunkRendered').map((e) => (e.data as { index: number }).index);
    expect(rendered.sort()).toEqual(Array.from({ length: CHUNKS }, (_, i) => i));
    expect(events.map((e) => e.type)).toContain('VideoCompleted');
    // The media (the MP4 before its content credentials, which name the video and are signed anew each time).
    const muxed = events.find((e) => e.type === 'Muxed')!.data as { media_sha256: string };
    if (uninterruptedSha) expect(muxed.media_sha256).toBe(uninterruptedSha);
    return { events, sha256: muxed.media_sha256 };
  }

  /** Every blob the video's events name (chunks, audio, the MP4, its thumbnail and sprite sheet) is in the bucket. */
  async function expectEveryBlobInS3(id: string) {
    const events = await videoEvents(services, id);
    const named = events.flatMap((e) => {
      const data = e.data as Record<string, unknown>;
      return ['blob_key', 'content_key', 'thumbnail_key', 'spritesheet_key'].flatMap((k) => (typeof data[k] === 'string' ? [data[k]] : []));
    });
    expect(named).toEqual(expect.arrayContaining([expect.stringMatching(/\.ts$/), expect.stringMatching(/\.mp4$/)]));
    expect(named.length).toBeGreaterThanOrEqual(2 * CHUNKS + 1);
    const listed = await services.s3.client().send(new ListObjectsV2Command({ Bucket: services.bucket, Prefix: `${services.prefix}/` }));
    const stored = (listed.Contents ?? []).map((o) => o.Key!.slice(`${services.prefix}/`.length));
    expect(stored).toEqual(expect.arrayContaining(named));
  }

  /** Waits until a renderChunk (a chunk's video, audio and checks) is running on `host`'s GPU worker (its identity is `<pid>@<hostname>`). */
  async function chunkStartedOn(host: ClusterHost, id: string) {
    const pid = gpuWorkerPid(host);
    return eventually(
      async () => (await pendingActivities(services, id)).find((p) => p.activity === 'renderChunk' && p.started && p.identity.startsWith(`${pid}@`)),
      `a chunk of video ${id} to start on host ${host.name}`,
      60_000,
      50,
    );
  }

  /** Stops C, makes the video, waits until B renders a chunk, does `interrupt` to B, starts C, and checks the outcome. */
  async function chunkMovesFromBToC(interrupt: () => Promise<void> | void) {
    await c.stop();
    const id = await submitVideo(a, VIDEO);
    await chunkStartedOn(b, id);
    await interrupt();
    await c.start();
    expect(await waitForWorkflow(services, id, MOVED_CHUNK_TIMEOUT_MS)).toBe('COMPLETED');
    await expectCompletedOnce(id);
    // The chunk B had was started again, on C, after B's attempt timed out.
    const cPid = gpuWorkerPid(c);
    const moved = (await gpuActivities(services, id)).filter((r) => r.activity === 'renderChunk' && (r.attempt ?? 1) > 1);
    expect(moved.length).toBeGreaterThan(0);
    for (const run of moved) expect(run).toMatchObject({ identity: expect.stringMatching(new RegExp(`^${cPid}@`)), outcome: 'completed' });
    return id;
  }

  it('makes a video with every blob in S3 and none under any host’s DATA_DIR', async () => {
    const id = await submitVideo(a, VIDEO);
    expect(await waitForWorkflow(services, id, 120_000)).toBe('COMPLETED');
    uninterruptedSha = (await expectCompletedOnce(id)).sha256;
    expect(uninterruptedSha).toMatch(/^[0-9a-f]{64}$/);
    await expectEveryBlobInS3(id);
    for (const host of [a, b, c]) expect(filesInDataDir(host)).toEqual([]);
    const state = await eventually(async () => {
      const v = await videoState(a, id);
      return v?.status === 'completed' ? v : undefined;
    }, `the API to show video ${id} completed`);
    expect(state.status).toBe('completed');
  }, 180_000);

  it('host B frozen mid-chunk: the chunk moves to C, the video is the same, and B’s late result is discarded', async () => {
    expect(uninterruptedSha).toBeDefined();
    const id = await chunkMovesFromBToC(() => b.freeze());
    b.resume();
    // B finishes its stale attempt and reports it; the server refuses it. Nothing more is recorded.
    await new Promise((r) => setTimeout(r, 5000));
    const after = await expectCompletedOnce(id);
    expect(after.events.filter((e) => e.type === 'VideoCompleted')).toHaveLength(1);
    expect(await waitForWorkflow(services, id, 1000)).toBe('COMPLETED');
  }, 300_000);

  it('host B killed mid-chunk: the chunk moves to C, the video is the same', async () => {
    expect(uninterruptedSha).toBeDefined();
    await chunkMovesFromBToC(() => b.kill());
    expect(b.pid).toBeUndefined();
  }, 300_000);

  it('the S3 server away for 10 s mid-job: the video completes and nothing is lost', async () => {
    expect(uninterruptedSha).toBeDefined();
    const id = await submitVideo(a, VIDEO);
    await chunkStartedOn(c, id);
    await services.s3Outage(10_000);
    expect(await waitForWorkflow(services, id, 180_000)).toBe('COMPLETED');
    await expectCompletedOnce(id);
    await expectEveryBlobInS3(id);
  }, 240_000);

  it('the API host stopped and started mid-job: the video completes and the API answers with it completed', async () => {
    expect(uninterruptedSha).toBeDefined();
    const id = await submitVideo(a, VIDEO);
    await chunkStartedOn(c, id);
    await a.stop();
    expect(await videoState(a, id)).toBeUndefined();
    await a.start();
    expect(await waitForWorkflow(services, id, 180_000)).toBe('COMPLETED');
    await expectCompletedOnce(id);
    const state = await eventually(async () => {
      const v = await videoState(a, id);
      return v?.status === 'completed' ? v : undefined;
    }, `the API to show video ${id} completed`);
    expect(state).toMatchObject({ id, status: 'completed' });
    for (const host of [a, b, c]) expect(filesInDataDir(host)).toEqual([]);
  }, 240_000);
});
