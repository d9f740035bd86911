// The Videos API over HTTP against the real stack: Temporal dev server and Worker (workflow bundle, real activities),
// embedded PostgreSQL, the videos projector; no GPU worker unless a test starts one, so new videos wait in `rendering`.
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import OpenAI, { toFile } from 'openai';
import pino from 'pino';
import { contentKeys } from '../../domain/video/content';
import { buildServer, type ServerDeps } from '../../api/server';
import { PgIdempotencyStore } from '../../api/videos/idempotency';
import type { VideoReadModel } from '../../api/videos/readModel';
import { createVideoReadModel } from '../../api/videos/readModel';
import { decide, evolve, initialVideoState, type VideoCommand, type VideoEvent, type VideoRequestedData } from '../../domain/video';
import type { BlobStore } from '../../infra/blobs';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { createLogger } from '../../infra/logger';
import { createPgPool, type PgPool } from '../../infra/postgres/pool';
import { connectTemporalClient, type TemporalClient } from '../../infra/temporal/connection';
import type { UserStore } from '../../infra/users/port';
import { openUserStore } from '../../infra/users/store';
import { ProjectionRunner } from '../../projections/runner';
import { createVideosReadModel } from '../../projections/videos';
import { createGpuActivities } from '../../gpu-workers/activities';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { realActivities } from '../support/activities';
import { testEngine } from '../support/pipeline';
import { eventually, testEnv } from '../support/env';
import { sharedDevServer } from '../support/temporal';
import type { Problem as ProblemBody } from '../../api/plugins/errors';
import { videoRequest } from '../support/videos';

interface Running {
  app: FastifyInstance;
  url: string;
}


interface Video {
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

interface VideoPage {
  object: 'list';
  data: Video[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** A 1x1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const INPUT_REFERENCE_MAX_BYTES = 64 * 1024;
const suffix = randomUUID().replace(/-/g, '').slice(0, 10);
const schemas = { events: `videos_es_${suffix}`, app: `videos_app_${suffix}`, readModels: `videos_rm_${suffix}` };
const PROMPT = 'three red balls bouncing on a wooden floor';

let env: TestWorkflowEnvironment;
let eventStore: PgEventStore;
let pool: PgPool;
let users: UserStore;
let temporal: TemporalClient;
let projector: ProjectionRunner;
let worker: Worker;
let workerRun: Promise<void>;
let blobs: BlobStore;
let server: Running;
/** No worker polls this one's task queue: what it is sent never runs, so any workflow it starts is visible as such. */
let idleServer: Running;
const taskQueue = `api-videos-${randomUUID()}`;
const idleTaskQueue = `api-videos-idle-${randomUUID()}`;
// Nobody polls it: rendering never starts, so videos wait in `rendering` until cancelled.
const gpuTaskQueue = `gpu-none-${randomUUID()}`;
const keys = { alice: '', bob: '', auditor: '', admin: '' };
const ids = { alice: '', bob: '', auditor: '', admin: '' };

async function listen(deps: ServerDeps): Promise<Running> {
  const app = await buildServer(deps);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('no address');
  return { app, url: `http://127.0.0.1:${address.port}` };
}

let idempotency: PgIdempotencyStore;

function videosDeps(queue: string, options: { readModelWaitMs?: number; readModel?: VideoReadModel } = {}): NonNullable<ServerDeps['videos']> {
  return {
    blobs,
    readModel: options.readModel ?? createVideoReadModel(pool, { schema: schemas.readModels }),
    idempotency,
    config: { modelName: 'reference', taskQueue: queue, gpuTaskQueue, inputReferenceMaxBytes: INPUT_REFERENCE_MAX_BYTES, streamPollMs: 100, readModelWaitMs: options.readModelWaitMs },
  };
}

const serverBase = () => ({ logger: pino({ level: 'silent' }), eventStore, temporal, readModels: pool, users });

type CallOptions = { key?: string; json?: unknown; body?: RequestInit['body']; headers?: Record<string, string>; target?: Running };

function call(method: string, route: string, options: CallOptions = {}): Promise<Response> {
  const target = options.target ?? server;
  return fetch(`${target.url}${route}`, {
    method,
    headers: {
      ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
      ...(options.json !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
  });
}

async function create(key: string, json: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Video> {
  const res = await call('POST', '/v1/videos', { key, json, headers });
  const body = await res.json();
  expect({ status: res.status, body }).toEqual({ status: 200, body: expect.objectContaining({ object: 'video' }) });
  return body as Video;
}

/**
 * A create answers the video as the read model first shows it: queued, or already past prompt moderation when the
 * projector applied the request and the verdict together (a busy machine). This file runs no GPU worker, so it goes
 * no further than that.
 */
function expectJustCreated(video: { status: string; progress: number }): void {
  expect([{ status: 'queued', progress: 0 }, { status: 'in_progress', progress: 5 }]).toContainEqual({ status: video.status, progress: video.progress });
}

async function problem(res: Response, status: number): Promise<ProblemBody> {
  const text = await res.text();
  expect({ status: res.status, text }).toEqual({ status, text: expect.any(String) });
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return JSON.parse(text) as ProblemBody;
}

async function getVideo(key: string, id: string): Promise<Response> {
  return call('GET', `/v1/videos/${id}`, { key });
}

/** Waits until the read model shows the video in `stage`. */
async function untilStage(key: string, id: string, stage: string): Promise<Video> {
  return eventually(async () => {
    const res = await getVideo(key, id);
    if (res.status !== 200) return undefined;
    const video = (await res.json()) as Video;
    return video.stage === stage ? video : undefined;
  }, `video ${id} to reach ${stage}`);
}

async function streamEvents(id: string): Promise<VideoEvent[]> {
  return (await eventStore.readStream(`video-${id}`)).map((e) => ({ type: e.type, data: e.data }) as VideoEvent);
}

/** The generationWorkflow runs started on a task queue, from Temporal's visibility store. */
async function workflowIdsOn(queue: string): Promise<string[]> {
  const found: string[] = [];
  for await (const wf of env.client.workflow.list({ query: `TaskQueue = '${queue}'` })) found.push(wf.workflowId);
  return found.sort();
}

/**
 * A completed video recorded through the decider, as the workflow would have recorded it, with stored content: the
 * content, publish and finished-video paths without rendering.
 */
async function seedCompletedVideo(ownerId: string, contentBytes: Buffer): Promise<string> {
  const id = `video_${randomBytes(16).toString('hex')}`;
  const keysOf = contentKeys(id);
  const at = Math.floor(Date.now() / 1000);
  const request: VideoRequestedData = {
    ...videoRequest(PROMPT, { video_id: id, owner_id: ownerId, seconds: 1, at }),
  };
  const verdict = { case_id: `case_${randomBytes(16).toString('hex')}`, verdict: 'allow' as const, categories: [], reasons: [], at };
  const commands: VideoCommand[] = [
    { type: 'RequestVideo', data: request },
    { type: 'RecordPromptVerdict', data: verdict },
    { type: 'PlanChunks', data: { fps: 24, frames_per_chunk: 24, at } },
    { type: 'RecordVideoChunk', data: { index: 0, blob_key: `videos/${id}/chunks/000.ts`, frames: 24, collisions: [], at } },
    { type: 'RecordAudioChunk', data: { index: 0, blob_key: `videos/${id}/chunks/000.pcm`, samples: 48000, at } },
    { type: 'RecordMux', data: { content_key: keysOf.content, thumbnail_key: keysOf.thumbnail, spritesheet_key: keysOf.spritesheet, duration_s: 1, bytes: contentBytes.length, at } },
    { type: 'RecordOutputVerdict', data: { ...verdict, case_id: `case_${randomBytes(16).toString('hex')}` } },
    { type: 'CompleteVideo', data: { at } },
  ];
  let state = initialVideoState;
  const events: VideoEvent[] = [];
  for (const command of commands) {
    const decided = decide(command, state);
    state = decided.reduce(evolve, state);
    events.push(...decided);
  }
  await blobs.put(keysOf.content, contentBytes);
  await blobs.put(keysOf.thumbnail, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(200)]));
  await blobs.put(keysOf.spritesheet, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(300)]));
  await eventStore.appendToStream(
    `video-${id}`,
    events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata: { actor: ownerId } })),
    { expectedRevision: 'no_stream' },
  );
  // The read model itself (GET answers from the stream before it has the video).
  const readModel = createVideoReadModel(pool, { schema: schemas.readModels });
  await eventually(async () => ((await readModel.get(id))?.status === 'completed' ? true : undefined), `video ${id} completed in the read model`);
  return id;
}

interface SseEvent {
  event: string;
  data: unknown;
}

/** Reads a text/event-stream to its end, handing each event to `onEvent` as it arrives. */
async function readSse(res: Response, onEvent: (e: SseEvent) => void | Promise<void> = () => undefined): Promise<SseEvent[]> {
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

beforeAll(async () => {
  env = await sharedDevServer();
  pool = createPgPool({ connectionString: testEnv.embeddedPgUrl, max: 12 });
  eventStore = await PgEventStore.open({ connectionString: testEnv.embeddedPgUrl, schema: schemas.events, maxEventBytes: 1024 * 1024, pollIntervalMs: 50 });
  users = await openUserStore({ pool, schema: schemas.app });
  idempotency = await PgIdempotencyStore.open({ pool, schema: schemas.app });
  projector = new ProjectionRunner({ eventStore, pool, schema: schemas.readModels, readModels: [createVideosReadModel()], logger: createLogger({ level: 'silent', name: 'test-projector' }), batchSize: 50 });
  await projector.start();

  const dataDir = fs.mkdtempSync(path.join(testEnv.tmpDir, 'api-videos-'));
  const real = realActivities(eventStore, dataDir);
  blobs = real.blobs;
  worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: { codePath: testEnv.workflowBundlePath }, activities: real.activities });
  workerRun = worker.run();

  temporal = connectTemporalClient({ temporalAddress: testEnv.temporalAddress, temporalDevPort: 7233, temporalNamespace: 'default' });
  for (const [name, role] of [['alice', 'user'], ['bob', 'user'], ['auditor', 'auditor'], ['admin', 'admin']] as const) {
    const created = await users.createUser({ name, role });
    keys[name] = created.apiKey;
    ids[name] = created.user.id;
  }
  server = await listen({ ...serverBase(), videos: videosDeps(taskQueue) });
  idleServer = await listen({ ...serverBase(), videos: videosDeps(idleTaskQueue, { readModelWaitMs: 0 }) });
});

afterAll(async () => {
  await server?.app.close();
  await idleServer?.app.close();
  // Whatever is still running here (the idle queue's sentinel, a stuck video) is ended, so nothing outlives the file.
  for (const queue of [taskQueue, idleTaskQueue]) {
    for await (const wf of env.client.workflow.list({ query: `TaskQueue = '${queue}' AND ExecutionStatus = 'Running'` })) {
      await env.client.workflow.getHandle(wf.workflowId).terminate('test over').catch(() => undefined);
    }
  }
  worker?.shutdown();
  await workerRun;
  await projector?.stop();
  await eventStore?.close();
  await users?.close();
  for (const schema of Object.values(schemas)) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  await pool?.end();
  await temporal?.close();
  await env?.teardown();
});

describe('POST /v1/videos', () => {
  it('creates a video from JSON: 200 with the new Video, which GET then finds, and runs generationWorkflow video-<id>', async () => {
    const before = Math.floor(Date.now() / 1000);
    const video = await create(keys.alice, { prompt: PROMPT, seconds: 8, size: '256x256', style: 'noir', camera: 'pan', seed: 42 });
    expectJustCreated(video);
    expect(video).toMatchObject({
      id: expect.stringMatching(/^video_[0-9a-f]{32}$/),
      object: 'video',
      model: 'reference',
      prompt: PROMPT,
      seconds: '8',
      size: '256x256',
      style: 'noir',
      camera: 'pan',
      seed: 42,
      owner_id: ids.alice,
      visibility: 'private',
      completed_at: null,
      error: null,
    });
    expect(video.created_at).toBeGreaterThanOrEqual(before);

    const res = await getVideo(keys.alice, video.id);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: video.id, prompt: PROMPT, owner_id: ids.alice });

    const description = await env.client.workflow.getHandle(`video-${video.id}`).describe();
    expect(description).toMatchObject({ type: 'generationWorkflow', taskQueue });
    const requested = (await streamEvents(video.id))[0];
    expect(requested).toEqual({
      type: 'VideoRequested',
      data: expect.objectContaining({ video_id: video.id, owner_id: ids.alice, seconds: 8, size: '256x256', style: 'noir', camera: 'pan', seed: 42, cameo_ids: [], publish: false, has_input_reference: false }),
    });
    // Generation goes on: moderated, planned, and waiting for the (absent) GPU worker.
    await untilStage(keys.alice, video.id, 'rendering');
  });

  it('fills in the defaults and records the random seed it chose; a 2,000-character prompt is fine', async () => {
    const longest = await create(keys.alice, { prompt: 'a'.repeat(2000), size: '256x256' });
    expect(longest.prompt).toHaveLength(2000);
    const video = await create(keys.alice, { prompt: PROMPT });
    expect(video).toMatchObject({ model: 'reference', seconds: '4', size: '720x1280', style: 'cinematic', camera: 'static', visibility: 'private' });
    expect(Number.isInteger(video.seed) && video.seed >= 0 && video.seed <= 2147483647).toBe(true);
    const requested = (await streamEvents(video.id))[0]!.data as VideoRequestedData;
    expect(requested).toMatchObject({ seed: video.seed, seconds: 4, publish: false });
  });

  it('the OpenAI SDK creates, retrieves and lists videos (multipart, with an input_reference image)', async () => {
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: keys.alice, maxRetries: 0 });
    const created = await openai.videos.create({
      prompt: PROMPT,
      model: 'sora-2',
      seconds: '8',
      size: '1280x720',
      input_reference: await toFile(PNG, 'backdrop.png', { type: 'image/png' }),
      // reelforge's extras travel as further form fields.
      ...({ style: 'anime', camera: 'zoom', seed: 99, publish: false } as object),
    });
    expectJustCreated(created);
    expect(created).toMatchObject({ object: 'video', model: 'reference', seconds: '8', size: '1280x720', prompt: PROMPT });
    expect(created).toMatchObject({ style: 'anime', camera: 'zoom', seed: 99 });
    expect(await blobs.get(`videos/${created.id}/input_reference`)).toEqual(PNG);
    expect(((await streamEvents(created.id))[0]!.data as VideoRequestedData).has_input_reference).toBe(true);

    expect(await openai.videos.retrieve(created.id)).toMatchObject({ id: created.id, prompt: PROMPT });
    const listed: string[] = [];
    for await (const v of openai.videos.list({ limit: 2 })) listed.push(v.id);
    expect(listed).toContain(created.id);
  });

  it('takes the input_reference as a data URL in JSON too, and refuses one that is not a PNG or JPEG (422: the form is right, the bytes are not an image)', async () => {
    const video = await create(keys.alice, { prompt: PROMPT, input_reference: { image_url: `data:image/png;base64,${PNG.toString('base64')}` } });
    expect(await blobs.get(`videos/${video.id}/input_reference`)).toEqual(PNG);
    const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
    const res = await call('POST', '/v1/videos', { key: keys.alice, json: { prompt: PROMPT, input_reference: { image_url: `data:image/png;base64,${gif.toString('base64')}` } } });
    expect((await problem(res, 422)).error).toMatchObject({ param: 'input_reference', code: 'unprocessable_content' });
  });

  describe('bad input: 4xx problem+json naming the field, and no workflow started', () => {
    const badKey = `bad-input-${randomUUID()}`;
    const cases: Array<{ name: string; json: unknown; field: string }> = [
      { name: 'empty prompt', json: { prompt: '' }, field: 'prompt' },
      { name: 'blank prompt', json: { prompt: '   ' }, field: 'prompt' },
      { name: '2,001-character prompt', json: { prompt: 'a'.repeat(2001) }, field: 'prompt' },
      { name: 'missing prompt', json: { seconds: 4 }, field: 'prompt' },
      { name: 'prompt not a string', json: { prompt: 42 }, field: 'prompt' },
      { name: 'control character in the prompt', json: { prompt: 'bouncing \u0007 balls' }, field: 'prompt' },
      { name: 'seconds 0', json: { prompt: PROMPT, seconds: 0 }, field: 'seconds' },
      { name: 'seconds 21', json: { prompt: PROMPT, seconds: 21 }, field: 'seconds' },
      { name: 'seconds "21"', json: { prompt: PROMPT, seconds: '21' }, field: 'seconds' },
      { name: 'seconds 4.5', json: { prompt: PROMPT, seconds: 4.5 }, field: 'seconds' },
      { name: 'unknown size', json: { prompt: PROMPT, size: '100x100' }, field: 'size' },
      { name: 'unknown style', json: { prompt: PROMPT, style: 'vaporwave' }, field: 'style' },
      { name: 'unknown camera', json: { prompt: PROMPT, camera: 'dolly' }, field: 'camera' },
      { name: 'unknown model', json: { prompt: PROMPT, model: 'gpt-video' }, field: 'model' },
      { name: 'negative seed', json: { prompt: PROMPT, seed: -1 }, field: 'seed' },
      { name: 'seed past 2^31-1', json: { prompt: PROMPT, seed: 2147483648 }, field: 'seed' },
      { name: 'cameo ids', json: { prompt: PROMPT, cameo_ids: ['video_0123'] }, field: 'cameo_ids' },
      { name: 'publish not a boolean', json: { prompt: PROMPT, publish: 'yes' }, field: 'publish' },
      { name: 'an unknown parameter', json: { prompt: PROMPT, second: 8 }, field: 'second' },
      { name: 'a JSON array', json: [PROMPT], field: 'body' },
    ];

    it.each(cases)('$name → 400 naming $field', async ({ json, field }) => {
      const res = await call('POST', '/v1/videos', { key: keys.alice, json, headers: { 'idempotency-key': badKey }, target: idleServer });
      const body = await problem(res, 400);
      expect(body.errors?.[0]?.field).toBe(field);
      expect(body.error).toMatchObject({ type: 'invalid_request_error', param: field, code: 'validation_failed' });
      expect(body.detail).toContain(field);
    });

    it.each([
      [['cameo_1', 'cameo_2', 'cameo_3', 'cameo_4', 'cameo_5'], 'at most 4 cameos, got 5'],
      [['video_1'], '"video_1" is not a cameo id (cameo_ followed by letters and digits)'],
      [['cameo_1', 'cameo_1'], 'names a cameo more than once'],
    ])('refuses cameo_ids %j: %s', async (cameoIds, message) => {
      const res = await call('POST', '/v1/videos', { key: keys.alice, json: { prompt: PROMPT, cameo_ids: cameoIds }, target: idleServer });
      expect((await problem(res, 400)).errors).toEqual([{ field: 'cameo_ids', message }]);
    });

    it('names every bad field at once', async () => {
      const res = await call('POST', '/v1/videos', { key: keys.alice, json: { prompt: '', seconds: 0, size: 'huge' }, target: idleServer });
      expect((await problem(res, 400)).errors?.map((e) => e.field)).toEqual(['prompt', 'seconds', 'size']);
    });

    it('malformed JSON → 400 naming body', async () => {
      const res = await call('POST', '/v1/videos', { key: keys.alice, body: '{"prompt": "balls",', headers: { 'content-type': 'application/json' }, target: idleServer });
      const body = await problem(res, 400);
      expect(body.errors?.[0]?.field).toBe('body');
      expect(body.error).toMatchObject({ type: 'invalid_request_error', param: 'body', code: 'invalid_json' });
    });

    it('a content type other than JSON or multipart → 415 naming Content-Type', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        const res = await call('POST', '/v1/videos', { key: keys.alice, body: `prompt=${PROMPT}`, headers: { 'content-type': type }, target: idleServer });
        const body = await problem(res, 415);
        expect(body.error).toMatchObject({ param: 'Content-Type', code: 'unsupported_media_type' });
      }
    });

    it('multipart: fields as strings are checked the same way; a non-image or oversized input_reference is refused', async () => {
      const form = (fields: Record<string, string>, file?: { bytes: Buffer; name: string; type: string }) => {
        const data = new FormData();
        for (const [k, v] of Object.entries(fields)) data.append(k, v);
        if (file) data.append('input_reference', new Blob([file.bytes], { type: file.type }), file.name);
        return data;
      };
      const post = (body: FormData) => call('POST', '/v1/videos', { key: keys.alice, body, headers: { 'idempotency-key': badKey }, target: idleServer });
      expect((await problem(await post(form({ prompt: PROMPT, seconds: '0' })), 400)).error.param).toBe('seconds');
      expect((await problem(await post(form({ prompt: PROMPT, publish: 'maybe' })), 400)).error.param).toBe('publish');
      expect((await problem(await post(form({ prompt: PROMPT, seed: '-3' })), 400)).error.param).toBe('seed');
      expect((await problem(await post(form({ prompt: PROMPT, 'cameo_ids[]': 'video_1' })), 400)).error.param).toBe('cameo_ids');
      expect((await problem(await post(form({ prompt: '' })), 400)).error.param).toBe('prompt');
      // A text file named like an image is still text: the bytes decide.
      const fake = await problem(await post(form({ prompt: PROMPT }, { bytes: Buffer.from('not an image at all'), name: 'backdrop.png', type: 'image/png' })), 422);
      expect(fake.errors).toEqual([{ field: 'input_reference', message: 'must be a PNG or JPEG image' }]);
      const big = Buffer.concat([PNG, Buffer.alloc(INPUT_REFERENCE_MAX_BYTES + 1)]);
      const tooLarge = await problem(await post(form({ prompt: PROMPT }, { bytes: big, name: 'big.png', type: 'image/png' })), 413);
      expect(tooLarge.error.param).toBe('input_reference');
    });

    it('a malformed Idempotency-Key → 400 naming it', async () => {
      const res = await call('POST', '/v1/videos', { key: keys.alice, json: { prompt: PROMPT }, headers: { 'idempotency-key': 'k'.repeat(256) }, target: idleServer });
      expect((await problem(res, 400)).error.param).toBe('Idempotency-Key');
    });

    it('no API key, or a bad one → 401', async () => {
      expect((await problem(await call('POST', '/v1/videos', { json: { prompt: PROMPT }, target: idleServer }), 401)).error.code).toBe('invalid_api_key');
      expect((await problem(await call('POST', '/v1/videos', { key: 'rf_not_a_key', json: { prompt: PROMPT }, target: idleServer }), 401)).error.code).toBe('invalid_api_key');
    });

    it('after all of them: no workflow was started, and the Idempotency-Key they carried is still unused', async () => {
      // The same key with a good body now creates a video (no 409: the refused requests claimed nothing). It is the
      // only workflow that this server's task queue has ever seen.
      const sentinel = await (async () => {
        const res = await call('POST', '/v1/videos', { key: keys.alice, json: { prompt: PROMPT }, headers: { 'idempotency-key': badKey }, target: idleServer });
        expect(res.status).toBe(200);
        return (await res.json()) as Video;
      })();
      const started = await eventually(async () => {
        const found = await workflowIdsOn(idleTaskQueue);
        return found.includes(`video-${sentinel.id}`) ? found : undefined;
      }, 'the sentinel workflow to be visible');
      expect(started).toEqual([`video-${sentinel.id}`]);
      // No worker polls the idle queue, so the read model never heard of it: the answer was built from the request.
      expect(sentinel).toMatchObject({ status: 'queued', progress: 0, owner_id: ids.alice, seconds: '4' });
    });
  });
});

describe('Idempotency-Key', () => {
  it('the same key and body answer the same video, and start one workflow', async () => {
    const key = randomUUID();
    const first = await create(keys.alice, { prompt: PROMPT, seconds: 8, size: '256x256' }, { 'idempotency-key': key });
    // The same parameters as a form, with "8" for 8: the same request once normalized.
    const form = new FormData();
    form.append('prompt', PROMPT);
    form.append('seconds', '8');
    form.append('size', '256x256');
    const res = await call('POST', '/v1/videos', { key: keys.alice, body: form, headers: { 'idempotency-key': key } });
    expect(res.status).toBe(200);
    expect(res.headers.get('idempotent-replayed')).toBe('true');
    const second = (await res.json()) as Video;
    expect(second.id).toBe(first.id);
    expect(second.seed).toBe(first.seed);

    const runs: string[] = [];
    for await (const wf of env.client.workflow.list({ query: `WorkflowId = 'video-${first.id}'` })) runs.push(wf.runId);
    expect(runs).toHaveLength(1);
    expect((await streamEvents(first.id)).filter((e) => e.type === 'VideoRequested')).toHaveLength(1);
  });

  it('the same key with another body → 409 idempotency_key_reused, and nothing is started', async () => {
    const key = randomUUID();
    const first = await create(keys.alice, { prompt: PROMPT, size: '256x256' }, { 'idempotency-key': key });
    const res = await call('POST', '/v1/videos', { key: keys.alice, json: { prompt: `${PROMPT}, slowly`, size: '256x256' }, headers: { 'idempotency-key': key } });
    const body = await problem(res, 409);
    expect(body.error).toMatchObject({ code: 'idempotency_key_reused', param: 'Idempotency-Key' });
    expect(body.detail).toContain(first.id);
    // An explicit seed is part of the body too.
    expect((await call('POST', '/v1/videos', { key: keys.alice, json: { prompt: PROMPT, size: '256x256', seed: 5 }, headers: { 'idempotency-key': key } })).status).toBe(409);
  });

  it('concurrent requests with one key resolve to one video', async () => {
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 5 }, () => create(keys.alice, { prompt: PROMPT, size: '256x256' }, { 'idempotency-key': key })));
    expect(new Set(answers.map((v) => v.id)).size).toBe(1);
    const runs: string[] = [];
    for await (const wf of env.client.workflow.list({ query: `WorkflowId = 'video-${answers[0]!.id}'` })) runs.push(wf.runId);
    expect(runs).toHaveLength(1);
  });

  it('a replay after the video was deleted answers that video as it ended, and creates nothing', async () => {
    const key = randomUUID();
    const json = { prompt: PROMPT, size: '256x256', input_reference: { image_url: `data:image/png;base64,${PNG.toString('base64')}` } };
    const first = await create(keys.alice, json, { 'idempotency-key': key });
    await untilStage(keys.alice, first.id, 'rendering');
    expect((await call('DELETE', `/v1/videos/${first.id}`, { key: keys.alice })).status).toBe(200);
    const again = await create(keys.alice, json, { 'idempotency-key': key });
    expect(again).toMatchObject({ id: first.id, status: 'cancelled' });
    expect(await blobs.list(`videos/${first.id}/`)).toEqual([]);
    expect((await streamEvents(first.id)).filter((e) => e.type === 'VideoRequested')).toHaveLength(1);
  });

  it('keys belong to their owner: another user with the same key gets a video of their own', async () => {
    const key = randomUUID();
    const alices = await create(keys.alice, { prompt: PROMPT, size: '256x256' }, { 'idempotency-key': key });
    const bobs = await create(keys.bob, { prompt: PROMPT, size: '256x256' }, { 'idempotency-key': key });
    expect(bobs.id).not.toBe(alices.id);
    expect(bobs.owner_id).toBe(ids.bob);
  });
});

describe('reading videos', () => {
  let alicesVideo: Video;
  beforeAll(async () => {
    alicesVideo = await create(keys.alice, { prompt: PROMPT, size: '256x256' });
  });

  it("someone else's video is 404, exactly like a missing one; auditors and admins see it", async () => {
    const hidden = await problem(await getVideo(keys.bob, alicesVideo.id), 404);
    const missing = await problem(await getVideo(keys.bob, `video_${'0'.repeat(32)}`), 404);
    expect(hidden.error.code).toBe('video_not_found');
    expect(missing.error.code).toBe('video_not_found');
    expect((await problem(await getVideo(keys.bob, 'not-an-id'), 404)).error.code).toBe('video_not_found');
    for (const key of [keys.auditor, keys.admin]) expect((await getVideo(key, alicesVideo.id)).status).toBe(200);
    expect((await problem(await getVideo('', alicesVideo.id), 401)).error.code).toBe('invalid_api_key');
  });

  it('lists only the caller\'s own videos, in keyset pages by creation time', async () => {
    const carol = await users.createUser({ name: 'carol', role: 'user' });
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await create(carol.apiKey, { prompt: `${PROMPT} ${i}`, size: '256x256' })).id);

    const page = async (query: string) => {
      const res = await call('GET', `/v1/videos${query}`, { key: carol.apiKey });
      expect(res.status).toBe(200);
      return (await res.json()) as VideoPage;
    };
    const first = await page('?limit=2');
    expect(first).toMatchObject({ object: 'list', has_more: true });
    expect(first.data).toHaveLength(2);
    expect(first.first_id).toBe(first.data[0]!.id);
    expect(first.last_id).toBe(first.data[1]!.id);
    const second = await page(`?limit=2&after=${first.last_id}`);
    const third = await page(`?limit=2&after=${second.last_id}`);
    expect(third).toMatchObject({ has_more: false });
    const desc = [...first.data, ...second.data, ...third.data].map((v) => v.id);
    expect(new Set(desc)).toEqual(new Set(created));
    expect(desc).toHaveLength(5);
    // Newest first by default; asc is the reverse.
    const asc = (await page('?order=asc&limit=100')).data.map((v) => v.id);
    expect(asc).toEqual([...desc].reverse());
    // Same-second creations order by id within the second; across seconds, by time.
    const times = (await page('?limit=100')).data.map((v) => v.created_at);
    expect(times).toEqual([...times].sort((a, b) => b - a));

    const alices = (await (await call('GET', '/v1/videos?limit=100', { key: keys.alice })).json()) as VideoPage;
    expect(alices.data.some((v) => created.includes(v.id))).toBe(false);
    expect(alices.data.every((v) => v.owner_id === ids.alice)).toBe(true);
  });

  it('bad list parameters → 400 naming the parameter; an `after` that is a video id but not one of the caller\'s → 422', async () => {
    for (const [query, field, status] of [
      ['?limit=0', 'limit', 400],
      ['?limit=101', 'limit', 400],
      ['?limit=ten', 'limit', 400],
      ['?order=sideways', 'order', 400],
      ['?after=video_1', 'after', 400],
      [`?after=${alicesVideo.id}`, 'after', 422],
    ] as const) {
      const body = await problem(await call('GET', `/v1/videos${query}`, { key: keys.bob }), status);
      expect({ query, param: body.error.param }).toEqual({ query, param: field });
    }
  });

  it('content is 404 video_not_ready until the video is completed; an unknown variant is 400', async () => {
    const notReady = await problem(await call('GET', `/v1/videos/${alicesVideo.id}/content`, { key: keys.alice }), 404);
    expect(notReady.error.code).toBe('video_not_ready');
    const variant = await problem(await call('GET', `/v1/videos/${alicesVideo.id}/content?variant=poster`, { key: keys.alice }), 400);
    expect(variant.error.param).toBe('variant');
    expect((await problem(await call('GET', `/v1/videos/${alicesVideo.id}/content`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');
  });

  it("the events endpoint gives the stream's events to the owner, auditors and admins only", async () => {
    await untilStage(keys.alice, alicesVideo.id, 'rendering');
    const res = await call('GET', `/v1/videos/${alicesVideo.id}/events`, { key: keys.alice });
    expect(res.status).toBe(200);
    const events = (await res.json()) as Array<{ revision: number; type: string; data: Record<string, unknown>; metadata: Record<string, unknown>; created_at: number }>;
    expect(events.map((e) => e.type).slice(0, 3)).toEqual(['VideoRequested', 'PromptModerated', 'ChunksPlanned']);
    expect(events.map((e) => e.revision)).toEqual(events.map((_, i) => i));
    expect(events[0]).toMatchObject({ data: { video_id: alicesVideo.id, owner_id: ids.alice }, metadata: { actor: ids.alice, workflowId: `video-${alicesVideo.id}` } });
    expect(events[0]!.created_at).toBeGreaterThan(1_700_000_000);
    for (const key of [keys.auditor, keys.admin]) expect((await call('GET', `/v1/videos/${alicesVideo.id}/events`, { key })).status).toBe(200);
    expect((await problem(await call('GET', `/v1/videos/${alicesVideo.id}/events`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');
  });
});

describe('cancel, stream and delete', () => {
  it('cancel → 202; the video ends cancelled; a second cancel → 409 video_finished', async () => {
    const video = await create(keys.alice, { prompt: PROMPT, size: '256x256' });
    await untilStage(keys.alice, video.id, 'rendering');
    expect((await problem(await call('POST', `/v1/videos/${video.id}/cancel`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');

    const res = await call('POST', `/v1/videos/${video.id}/cancel`, { key: keys.alice });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ id: video.id });
    const cancelled = await untilStage(keys.alice, video.id, 'cancelled');
    expect(cancelled).toMatchObject({ status: 'cancelled', completed_at: expect.any(Number) });
    // The workflow records the cancellation, then closes as cancelled.
    await eventually(async () => ((await env.client.workflow.getHandle(`video-${video.id}`).describe()).status.name === 'CANCELLED' ? true : undefined), 'the workflow to close cancelled');
    const last = (await streamEvents(video.id)).at(-1)!;
    expect(last).toEqual({ type: 'VideoCancelled', data: expect.objectContaining({ by: ids.alice }) });

    const again = await problem(await call('POST', `/v1/videos/${video.id}/cancel`, { key: keys.alice }), 409);
    expect(again.error.code).toBe('video_finished');
  });

  it('the stream sends progress events, then done with the terminal Video, then closes', async () => {
    const video = await create(keys.alice, { prompt: PROMPT, size: '256x256' });
    await untilStage(keys.alice, video.id, 'rendering');
    expect((await problem(await call('GET', `/v1/videos/${video.id}/stream`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');

    const res = await call('GET', `/v1/videos/${video.id}/stream`, { key: keys.alice });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    let cancelled = false;
    const events = await readSse(res, async (e) => {
      if (e.event === 'progress' && !cancelled) {
        cancelled = true;
        expect((await call('POST', `/v1/videos/${video.id}/cancel`, { key: keys.alice })).status).toBe(202);
      }
    });
    expect(events[0]).toEqual({ event: 'progress', data: expect.objectContaining({ id: video.id, stage: 'rendering', status: 'in_progress' }) });
    expect(events.at(-1)).toEqual({ event: 'done', data: expect.objectContaining({ id: video.id, status: 'cancelled', stage: 'cancelled' }) });
    expect(events.filter((e) => e.event === 'done')).toHaveLength(1);
    // One event per change: no two consecutive progress events carry the same Video.
    const progress = events.filter((e) => e.event === 'progress').map((e) => JSON.stringify(e.data));
    expect(progress.every((p, i) => i === 0 || p !== progress[i - 1])).toBe(true);

    // A finished video's stream is just its done event.
    const finished = await readSse(await call('GET', `/v1/videos/${video.id}/stream`, { key: keys.alice }));
    expect(finished).toEqual([{ event: 'done', data: expect.objectContaining({ status: 'cancelled' }) }]);
  });

  it('a client that goes away ends its stream: the server stops polling for it', async () => {
    const video = await create(keys.alice, { prompt: PROMPT, size: '256x256' });
    // A server of its own whose read model notes when it was last asked: only this stream asks it anything.
    const real = createVideoReadModel(pool, { schema: schemas.readModels });
    let lastGetAt = 0;
    const watched: VideoReadModel = {
      get: (id) => {
        lastGetAt = Date.now();
        return real.get(id);
      },
      list: (o) => real.list(o),
      findByContent: (sha256, viewer) => real.findByContent(sha256, viewer),
    };
    const own = await listen({ ...serverBase(), videos: videosDeps(taskQueue, { readModel: watched }) });
    try {
      // node:http with its own socket, so "the client goes away" is exactly this socket closing.
      const request = http.get(`${own.url}/v1/videos/${video.id}/stream`, { headers: { authorization: `Bearer ${keys.alice}` }, agent: false });
      const [res] = (await once(request, 'response')) as [http.IncomingMessage];
      expect(res.statusCode).toBe(200);
      await once(res, 'data');
      await eventually(() => (Date.now() - lastGetAt < 150 ? true : undefined), 'the stream to poll');
      request.destroy();
      // Polled every 100 ms while the client listens; a second of silence means the loop ended.
      await eventually(() => (Date.now() - lastGetAt > 1000 ? true : undefined), 'the stream to stop polling', 10000);
      await eventually(
        () => new Promise<true | undefined>((resolve) => own.app.server.getConnections((_err, n) => resolve(n === 0 ? true : undefined))),
        'the stream connection to close',
        10000,
      );
    } finally {
      await own.app.close();
    }
  });

  it('delete cancels a running generation, records VideoDeleted, removes its files; GET is then 404', async () => {
    const form = new FormData();
    form.append('prompt', PROMPT);
    form.append('size', '256x256');
    form.append('input_reference', new Blob([PNG], { type: 'image/png' }), 'b.png');
    const res = await call('POST', '/v1/videos', { key: keys.alice, body: form });
    expect(res.status).toBe(200);
    const video = (await res.json()) as Video;
    await untilStage(keys.alice, video.id, 'rendering');
    expect(await blobs.list(`videos/${video.id}/`)).toEqual([`videos/${video.id}/input_reference`]);
    expect((await problem(await call('DELETE', `/v1/videos/${video.id}`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');
    expect((await problem(await call('DELETE', `/v1/videos/${video.id}`, { key: keys.admin }), 404)).error.code).toBe('video_not_found');

    const deleted = await call('DELETE', `/v1/videos/${video.id}`, { key: keys.alice });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ id: video.id, object: 'video.deleted', deleted: true });
    expect((await problem(await getVideo(keys.alice, video.id), 404)).error.code).toBe('video_not_found');
    expect(await blobs.list(`videos/${video.id}/`)).toEqual([]);
    const listed = (await (await call('GET', '/v1/videos?limit=100', { key: keys.alice })).json()) as VideoPage;
    expect(listed.data.map((v) => v.id)).not.toContain(video.id);

    // The events stay, as the record: the cancellation, then the deletion by its owner.
    const events = (await (await call('GET', `/v1/videos/${video.id}/events`, { key: keys.auditor })).json()) as Array<{ type: string; data: Record<string, unknown>; metadata: Record<string, unknown> }>;
    expect(events.slice(-2).map((e) => e.type)).toEqual(['VideoCancelled', 'VideoDeleted']);
    expect(events.at(-1)).toMatchObject({ data: { by: ids.alice }, metadata: { actor: ids.alice, correlationId: video.id } });
    expect((await problem(await call('DELETE', `/v1/videos/${video.id}`, { key: keys.alice }), 404)).error.code).toBe('video_not_found');
    expect((await problem(await call('POST', `/v1/videos/${video.id}/cancel`, { key: keys.alice }), 404)).error.code).toBe('video_not_found');
  });
});

describe('a completed video', () => {
  const content = randomBytes(50_000);
  let id: string;
  beforeAll(async () => {
    id = await seedCompletedVideo(ids.alice, content);
  });

  it('serves its content whole, with Accept-Ranges and Content-Length', async () => {
    const res = await call('GET', `/v1/videos/${id}/content`, { key: keys.alice });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-length')).toBe(String(content.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(content)).toBe(true);
    const thumbnail = await call('GET', `/v1/videos/${id}/content?variant=thumbnail`, { key: keys.alice });
    expect(thumbnail.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await thumbnail.arrayBuffer()).equals(await blobs.get(contentKeys(id).thumbnail))).toBe(true);
    const sprites = await call('GET', `/v1/videos/${id}/content?variant=spritesheet`, { key: keys.alice });
    expect(Buffer.from(await sprites.arrayBuffer()).equals(await blobs.get(contentKeys(id).spritesheet))).toBe(true);
  });

  it('answers Range requests with 206 and Content-Range, and 416 outside the file', async () => {
    const range = async (header: string) => call('GET', `/v1/videos/${id}/content`, { key: keys.alice, headers: { range: header } });
    const head = await range('bytes=0-99');
    expect(head.status).toBe(206);
    expect(head.headers.get('content-range')).toBe(`bytes 0-99/${content.length}`);
    expect(head.headers.get('content-length')).toBe('100');
    expect(Buffer.from(await head.arrayBuffer()).equals(content.subarray(0, 100))).toBe(true);

    const open = await range('bytes=49000-');
    expect(open.headers.get('content-range')).toBe(`bytes 49000-49999/${content.length}`);
    expect(Buffer.from(await open.arrayBuffer()).equals(content.subarray(49000))).toBe(true);
    const suffixRange = await range('bytes=-10');
    expect(Buffer.from(await suffixRange.arrayBuffer()).equals(content.subarray(-10))).toBe(true);
    const past = await range('bytes=49990-60000');
    expect(past.headers.get('content-range')).toBe(`bytes 49990-49999/${content.length}`);
    await past.arrayBuffer();

    const outside = await range(`bytes=${content.length}-`);
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${content.length}`);
    expect(outside.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    await outside.arrayBuffer();
    // A header we do not understand is ignored: the whole file.
    const odd = await range('bytes=0-1,5-9');
    expect(odd.status).toBe(200);
    expect((await odd.arrayBuffer()).byteLength).toBe(content.length);
  });

  it('cannot be cancelled (409 video_finished); only its owner may publish it; publishing makes it visible to everyone', async () => {
    expect((await problem(await call('POST', `/v1/videos/${id}/cancel`, { key: keys.alice }), 409)).error.code).toBe('video_finished');
    expect((await problem(await getVideo(keys.bob, id), 404)).error.code).toBe('video_not_found');
    expect((await problem(await call('POST', `/v1/videos/${id}/publish`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');

    const res = await call('POST', `/v1/videos/${id}/publish`, { key: keys.alice });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id, visibility: 'published', status: 'completed' });
    expect((await streamEvents(id)).at(-1)).toEqual({ type: 'VideoPublished', data: expect.objectContaining({ by: ids.alice }) });
    const description = await env.client.workflow.getHandle(`publish-${id}`).describe();
    expect(description).toMatchObject({ type: 'publishWorkflow', taskQueue });

    // Published: anyone may see it and its content, but still not change it.
    expect(await (await getVideo(keys.bob, id)).json()).toMatchObject({ id, visibility: 'published' });
    expect((await call('GET', `/v1/videos/${id}/content?variant=thumbnail`, { key: keys.bob })).status).toBe(200);
    expect((await problem(await call('GET', `/v1/videos/${id}/events`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');
    expect((await problem(await call('DELETE', `/v1/videos/${id}`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');
    // Publishing again answers the published video and records nothing more.
    expect(await (await call('POST', `/v1/videos/${id}/publish`, { key: keys.alice })).json()).toMatchObject({ visibility: 'published' });
    expect((await streamEvents(id)).filter((e) => e.type === 'VideoPublished')).toHaveLength(1);
  });

  it('a video that is not completed cannot be published (409)', async () => {
    const video = await create(keys.alice, { prompt: PROMPT, size: '256x256' });
    const body = await problem(await call('POST', `/v1/videos/${video.id}/publish`, { key: keys.alice }), 409);
    expect(body.error.code).toBe('video_not_completed');
  });

  it('delete of a finished video removes it and its content', async () => {
    const other = await seedCompletedVideo(ids.alice, randomBytes(1000));
    expect((await call('DELETE', `/v1/videos/${other}`, { key: keys.alice })).status).toBe(200);
    expect(await blobs.list(`videos/${other}/`)).toEqual([]);
    expect((await problem(await call('GET', `/v1/videos/${other}/content`, { key: keys.alice }), 404)).error.code).toBe('video_not_found');
  });
});

describe('end to end with the real renderer', () => {
  // A GPU worker (the reference pack on the CPU) on a queue of its own, and an API that sends renders there.
  const liveGpuQueue = `gpu-live-${randomUUID()}`;
  let gpuWorker: Worker;
  let gpuRun: Promise<void>;
  let live: Running;
  const ffmpeg = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });

  beforeAll(async () => {
    gpuWorker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: liveGpuQueue,
      activities: createGpuActivities({ engine: await testEngine(), blobs, ffmpeg, logger: createLogger({ level: 'silent', name: 'test-gpu' }) }),
    });
    gpuRun = gpuWorker.run();
    const deps = videosDeps(taskQueue);
    live = await listen({ ...serverBase(), videos: { ...deps, config: { ...deps.config, gpuTaskQueue: liveGpuQueue } } });
  });
  afterAll(async () => {
    await live?.app.close();
    gpuWorker?.shutdown();
    await gpuRun;
  });

  it('a prompt becomes an MP4: followed on the stream to done, downloaded with Range, then published', async () => {
    const res = await call('POST', '/v1/videos', { key: keys.alice, json: { prompt: PROMPT, seconds: 1, size: '256x256' }, target: live });
    expect(res.status).toBe(200);
    const video = (await res.json()) as Video;

    const events = await readSse(await call('GET', `/v1/videos/${video.id}/stream`, { key: keys.alice, target: live }));
    const done = events.at(-1)!;
    expect(done).toEqual({ event: 'done', data: expect.objectContaining({ id: video.id, status: 'completed', stage: 'completed', progress: 100 }) });
    const progress = events.filter((e) => e.event === 'progress').map((e) => (e.data as Video).progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));

    // Where its time went: the stages in order, contiguous, each ended (the final one at once), timed by its events.
    const { timeline } = (await (await getVideo(keys.alice, video.id)).json()) as { timeline: Array<{ stage: string; started_at: string; ended_at: string | null; duration_ms: number | null }> };
    expect(timeline.map((e) => e.stage)).toEqual(['moderating', 'rendering', 'muxing', 'reviewing', 'completed']);
    const recorded = await eventStore.readStream(`video-${video.id}`);
    expect(timeline[0]!.started_at).toBe(recorded[0]!.created.toISOString());
    expect(timeline.at(-1)).toMatchObject({ started_at: recorded.find((e) => e.type === 'VideoCompleted')!.created.toISOString(), duration_ms: 0 });
    for (const [i, entry] of timeline.entries()) {
      expect(entry.ended_at).not.toBeNull();
      expect(entry.duration_ms).toBe(Date.parse(entry.ended_at!) - Date.parse(entry.started_at));
      expect(entry.duration_ms).toBeGreaterThanOrEqual(0);
      if (i > 0) expect(entry.started_at).toBe(timeline[i - 1]!.ended_at);
    }
    // Rendering is where a video's time goes; a timeline that misplaced it would not show that.
    expect(timeline.find((e) => e.stage === 'rendering')!.duration_ms).toBeGreaterThan(0);

    const whole = await call('GET', `/v1/videos/${video.id}/content`, { key: keys.alice, target: live });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('video/mp4');
    const bytes = Buffer.from(await whole.arrayBuffer());
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    const file = path.join(testEnv.tmpDir, `${video.id}.mp4`);
    fs.writeFileSync(file, bytes);
    const info = await ffmpeg.probe(file);
    expect(info.video).toMatchObject({ codec: 'h264', width: 256, height: 256 });
    expect(info.audio).toMatchObject({ codec: 'aac' });

    const part = await call('GET', `/v1/videos/${video.id}/content`, { key: keys.alice, target: live, headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
    const thumbnail = await call('GET', `/v1/videos/${video.id}/content?variant=thumbnail`, { key: keys.alice, target: live });
    expect(thumbnail.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await thumbnail.arrayBuffer()).subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));

    const published = await call('POST', `/v1/videos/${video.id}/publish`, { key: keys.alice, target: live });
    expect(await published.json()).toMatchObject({ id: video.id, visibility: 'published' });
    expect((await getVideo(keys.bob, video.id)).status).toBe(200);
  });
});

describe('OpenAPI', () => {
  it('documents every Videos route from its schemas, both create body types, and problem+json errors', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown; requestBody?: { content: Record<string, unknown> }; responses: Record<string, { content?: Record<string, unknown> }>; parameters?: Array<{ name: string; in: string }> }>>;
    };
    const create = doc.paths['/v1/videos']!.post!;
    expect(Object.keys(create.requestBody!.content).sort()).toEqual(['application/json', 'multipart/form-data']);
    expect(JSON.stringify(create.requestBody!.content['application/json'])).toContain('"maxLength":2000');
    expect(create.parameters?.some((p) => p.in === 'header' && p.name === 'idempotency-key')).toBe(true);
    expect(Object.keys(create.responses).sort()).toEqual(['200', '400', '401', '409', '413', '415', '422', '500', '503']);
    expect(create.responses['409']!.content).toHaveProperty(['application/problem+json']);
    expect(create.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/v1/videos']!.get!.parameters!.map((p) => p.name).sort()).toEqual(['after', 'limit', 'order']);
    for (const [route, method] of [
      ['/v1/videos/{id}', 'get'],
      ['/v1/videos/{id}', 'delete'],
      ['/v1/videos/{id}/content', 'get'],
      ['/v1/videos/{id}/stream', 'get'],
      ['/v1/videos/{id}/events', 'get'],
      ['/v1/videos/{id}/cancel', 'post'],
      ['/v1/videos/{id}/publish', 'post'],
    ] as const) {
      expect({ route, method, documented: doc.paths[route]?.[method] !== undefined }).toEqual({ route, method, documented: true });
      expect(doc.paths[route]![method]!.responses['404']).toBeDefined();
    }
    expect(Object.keys(doc.paths['/v1/videos/{id}/content']!.get!.responses['200']!.content!)).toEqual(['video/mp4', 'image/jpeg']);
  });
});
