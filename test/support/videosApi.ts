// What the Videos API test files (test/api/videos*.test.ts) share: the real stack for one file (the jest run's
// Temporal dev server with a Worker of the workflow bundle and real activities, embedded PostgreSQL in schemas of the
// file's own, the videos projector, users alice, bob, an auditor and an admin), two API servers on it, and the helpers
// its tests call. No GPU worker polls `gpuTaskQueue`, so new videos wait in `rendering` unless a test starts one.
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import pino from 'pino';
import type { Problem as ProblemBody } from '../../api/plugins/errors';
import type { ServerDeps } from '../../api/server';
import { PgIdempotencyStore } from '../../api/videos/idempotency';
import { createVideoReadModel, type VideoReadModel } from '../../api/videos/readModel';
import { contentKeys } from '../../domain/video/content';
import type { VideoEvent } from '../../domain/video';
import type { BlobStore } from '../../infra/blobs';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { createLogger } from '../../infra/logger';
import { createPgPool, type PgPool } from '../../infra/postgres/pool';
import { connectTemporalClient, type TemporalClient } from '../../infra/temporal/connection';
import type { UserStore } from '../../infra/users/port';
import { openUserStore } from '../../infra/users/store';
import { ProjectionRunner } from '../../projections/runner';
import { createVideosReadModel } from '../../projections/videos';
import { realActivities } from './activities';
import { eventually, testEnv } from './env';
import { sharedDevServer } from './temporal';
import { seedVideo } from './seedVideo';
import { listen, type Running } from './listen';

export type { Running } from './listen';
export interface Video {
  id: string;
  object: 'video';
  status: string;
  stage: string;
  progress: number;
  model: string;
  prompt: string;
  seconds: string;
  size: string;
  style: string;
  camera: string;
  seed: number;
  owner_id: string;
  visibility: string;
  created_at: number;
  completed_at: number | null;
  error: { code: string; message: string } | null;
}

export interface VideoPage {
  object: 'list';
  data: Video[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** A 1x1 PNG. */
export const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
export const INPUT_REFERENCE_MAX_BYTES = 64 * 1024;
export const PROMPT = 'three red balls bouncing on a wooden floor';

export type CallOptions = { key?: string; json?: unknown; body?: RequestInit['body']; headers?: Record<string, string>; target?: Running };

/**
 * A create answers the video as the read model first shows it: queued, or already past prompt moderation when the
 * projector applied the request and the verdict together (a busy machine). These files run no GPU worker (but for
 * the end-to-end test's own), so it goes no further than that.
 */
export function expectJustCreated(video: { status: string; progress: number }): void {
  expect([
    { status: 'queued', progress: 0 },
    { status: 'in_progress', progress: 5 },
  ]).toContainEqual({ status: video.status, progress: video.progress });
}

export async function problem(res: Response, status: number): Promise<ProblemBody> {
  const text = await res.text();
  expect({ status: res.status, text }).toEqual({ status, text: expect.any(String) });
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return JSON.parse(text) as ProblemBody;
}

export interface SseEvent {
  event: string;
  data: unknown;
}

/** Reads a text/event-stream to its end, handing each event to `onEvent` as it arrives. */
export async function readSse(res: Response, onEvent: (e: SseEvent) => void | Promise<void> = () => undefined): Promise<SseEvent[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const lines = block.split('\n').filter((l) => !l.startsWith(':'));
      if (lines.length === 0) continue;
      const event = lines.find((l) => l.startsWith('event: '))?.slice('event: '.length) ?? 'message';
      const data = lines
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice('data: '.length))
        .join('\n');
      const parsed = { event, data: JSON.parse(data) as unknown };
      events.push(parsed);
      await onEvent(parsed);
    }
  }
  return events;
}

/** One file's stack and helpers: the fields are set by its beforeAll, the helpers may be taken apart at once. */
export interface VideosApi {
  env: TestWorkflowEnvironment;
  eventStore: PgEventStore;
  pool: PgPool;
  users: UserStore;
  blobs: BlobStore;
  /** An API whose workflows run on `taskQueue`, polled by this file's Worker. */
  server: Running;
  /** No worker polls this one's task queue: what it is sent never runs, so any workflow it starts is visible as such. */
  idleServer: Running;
  readonly taskQueue: string;
  readonly idleTaskQueue: string;
  readonly schemas: { events: string; app: string; readModels: string };
  /** API keys and user ids, filled in by the beforeAll. */
  readonly keys: { alice: string; bob: string; auditor: string; admin: string };
  readonly ids: { alice: string; bob: string; auditor: string; admin: string };
  listen(deps: ServerDeps): Promise<Running>;
  /** The Videos resource on `queue`; `readModelWaitMs` and `readModel` as a test needs them. */
  videosDeps(queue: string, options?: { readModelWaitMs?: number; readModel?: VideoReadModel }): NonNullable<ServerDeps['videos']>;
  /** What every server of the file is built on: a silent logger, the event store, Temporal, the read models, the users. */
  serverBase(): Pick<ServerDeps, 'logger' | 'eventStore' | 'temporal' | 'readModels' | 'users'>;
  /** A request to `server` (or `options.target`). */
  call(method: string, route: string, options?: CallOptions): Promise<Response>;
  /** POST /v1/videos, expected to answer 200 with a Video. */
  create(key: string, json: Record<string, unknown>, headers?: Record<string, string>): Promise<Video>;
  getVideo(key: string, id: string): Promise<Response>;
  /** Waits until the read model shows the video in `stage`. */
  untilStage(key: string, id: string, stage: string): Promise<Video>;
  /** The video's stream as recorded, events without their metadata. */
  streamEvents(id: string): Promise<VideoEvent[]>;
  /** The generationWorkflow runs started on a task queue, from Temporal's visibility store. */
  workflowIdsOn(queue: string): Promise<string[]>;
  /**
   * A completed video recorded through the decider, as the workflow would have recorded it, with stored content: the
   * content, publish and finished-video paths without rendering.
   */
  seedCompletedVideo(ownerId: string, contentBytes: Buffer): Promise<string>;
}

/** What the beforeAll sets. */
type LateFields = 'env' | 'eventStore' | 'pool' | 'users' | 'blobs' | 'server' | 'idleServer';

/** Registers the file's beforeAll (the stack, the users, `server` and `idleServer`) and its afterAll (all of it ended). */
export function useVideosApi(): VideosApi {
  const suffix = randomUUID().replace(/-/g, '').slice(0, 10);
  const schemas = { events: `videos_es_${suffix}`, app: `videos_app_${suffix}`, readModels: `videos_rm_${suffix}` };
  // Nobody polls it: rendering never starts, so videos wait in `rendering` until cancelled.
  const gpuTaskQueue = `gpu-none-${randomUUID()}`;
  let temporal: TemporalClient;
  let idempotency: PgIdempotencyStore;
  let projector: ProjectionRunner;
  let worker: Worker;
  let workerRun: Promise<void>;

  // The fields the beforeAll sets are added to this object then; the helpers read them through `api` when called.
  const partial: Omit<VideosApi, LateFields> = {
    taskQueue: `api-videos-${randomUUID()}`,
    idleTaskQueue: `api-videos-idle-${randomUUID()}`,
    schemas,
    keys: { alice: '', bob: '', auditor: '', admin: '' },
    ids: { alice: '', bob: '', auditor: '', admin: '' },
    listen,

    videosDeps(queue, options = {}) {
      return {
        blobs: api.blobs,
        readModel: options.readModel ?? createVideoReadModel(api.pool, { schema: schemas.readModels }),
        idempotency,
        config: {
          modelName: 'reference',
          taskQueue: queue,
          gpuTaskQueue,
          inputReferenceMaxBytes: INPUT_REFERENCE_MAX_BYTES,
          streamPollMs: 100,
          readModelWaitMs: options.readModelWaitMs,
        },
      };
    },

    serverBase: () => ({ logger: pino({ level: 'silent' }), eventStore: api.eventStore, temporal, readModels: api.pool, users: api.users }),

    call(method, route, options = {}) {
      const target = options.target ?? api.server;
      return fetch(`${target.url}${route}`, {
        method,
        headers: {
          ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
          ...(options.json !== undefined ? { 'content-type': 'application/json' } : {}),
          ...options.headers,
        },
        body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
      });
    },

    async create(key, json, headers = {}) {
      const res = await api.call('POST', '/v1/videos', { key, json, headers });
      const body = await res.json();
      expect({ status: res.status, body }).toEqual({ status: 200, body: expect.objectContaining({ object: 'video' }) });
      return body as Video;
    },

    getVideo: (key, id) => api.call('GET', `/v1/videos/${id}`, { key }),

    untilStage(key, id, stage) {
      return eventually(async () => {
        const res = await api.getVideo(key, id);
        if (res.status !== 200) return undefined;
        const video = (await res.json()) as Video;
        return video.stage === stage ? video : undefined;
      }, `video ${id} to reach ${stage}`);
    },

    async streamEvents(id) {
      return (await api.eventStore.readStream(`video-${id}`)).map((e) => ({ type: e.type, data: e.data }) as VideoEvent);
    },

    async workflowIdsOn(queue) {
      const found: string[] = [];
      for await (const wf of api.env.client.workflow.list({ query: `TaskQueue = '${queue}'` })) found.push(wf.workflowId);
      return found.sort();
    },

    async seedCompletedVideo(ownerId, contentBytes) {
      const id = await seedVideo(api.eventStore, { ownerId, prompt: PROMPT, content: contentBytes });
      const keysOf = contentKeys(id);
      await api.blobs.put(keysOf.content, contentBytes);
      await api.blobs.put(keysOf.thumbnail, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(200)]));
      await api.blobs.put(keysOf.spritesheet, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(300)]));
      // The read model itself (GET answers from the stream before it has the video).
      const readModel = createVideoReadModel(api.pool, { schema: schemas.readModels });
      await eventually(async () => ((await readModel.get(id))?.status === 'completed' ? true : undefined), `video ${id} completed in the read model`);
      return id;
    },
  };
  const api = partial as VideosApi;

  beforeAll(async () => {
    api.env = await sharedDevServer();
    api.pool = createPgPool({ connectionString: testEnv.embeddedPgUrl, max: 12 });
    api.eventStore = await PgEventStore.open({
      connectionString: testEnv.embeddedPgUrl,
      schema: schemas.events,
      maxEventBytes: 1024 * 1024,
      pollIntervalMs: 50,
    });
    api.users = await openUserStore({ pool: api.pool, schema: schemas.app });
    idempotency = await PgIdempotencyStore.open({ pool: api.pool, schema: schemas.app });
    projector = new ProjectionRunner({
      eventStore: api.eventStore,
      pool: api.pool,
      schema: schemas.readModels,
      readModels: [createVideosReadModel()],
      logger: createLogger({ level: 'silent', name: 'test-projector' }),
      batchSize: 50,
    });
    await projector.start();

    const dataDir = fs.mkdtempSync(path.join(testEnv.tmpDir, 'api-videos-'));
    const real = realActivities(api.eventStore, dataDir);
    api.blobs = real.blobs;
    worker = await Worker.create({
      connection: api.env.nativeConnection,
      taskQueue: api.taskQueue,
      workflowBundle: { codePath: testEnv.workflowBundlePath },
      activities: real.activities,
    });
    workerRun = worker.run();

    temporal = connectTemporalClient({ temporalAddress: testEnv.temporalAddress, temporalDevPort: 7233, temporalNamespace: 'default' });
    for (const [name, role] of [
      ['alice', 'user'],
      ['bob', 'user'],
      ['auditor', 'auditor'],
      ['admin', 'admin'],
    ] as const) {
      const created = await api.users.createUser({ name, role });
      api.keys[name] = created.apiKey;
      api.ids[name] = created.user.id;
    }
    api.server = await listen({ ...api.serverBase(), videos: api.videosDeps(api.taskQueue) });
    api.idleServer = await listen({ ...api.serverBase(), videos: api.videosDeps(api.idleTaskQueue, { readModelWaitMs: 0 }) });
  });

  afterAll(async () => {
    await api.server?.app.close();
    await api.idleServer?.app.close();
    // Whatever is still running here (the idle queue's sentinel, a stuck video) is ended, so nothing outlives the file.
    for (const queue of [api.taskQueue, api.idleTaskQueue]) {
      for await (const wf of api.env.client.workflow.list({ query: `TaskQueue = '${queue}' AND ExecutionStatus = 'Running'` })) {
        await api.env.client.workflow
          .getHandle(wf.workflowId)
          .terminate('test over')
          .catch(() => undefined);
      }
    }
    worker?.shutdown();
    await workerRun;
    await projector?.stop();
    await api.eventStore?.close();
    await api.users?.close();
    for (const schema of Object.values(schemas)) await api.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await api.pool?.end();
    await temporal?.close();
    await api.env?.teardown();
  });

  return api;
}
