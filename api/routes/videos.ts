// The Videos resource (API.md): create (JSON or multipart, Idempotency-Key), retrieve, list, content with Range,
// delete, cancel, publish, an SSE progress stream, domain events. Reads: the read model; decisions: the event stream.
import { randomBytes, randomInt } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { readCameo } from '../../infra/streams/cameos';
import { readVideo } from '../../infra/streams/videos';
import { contentKeys, inputReferenceKey } from '../../domain/video/content';
import { decide, evolve, initialVideoState, isFinished, VideoCommandRefused, videoEvolver, type VideoRequestedData, type VideoState } from '../../domain/video';
import type { BlobStore } from '../../infra/blobs';
import { commandHandler } from '../../infra/eventstore/commandHandler';
import { StreamNotFound } from '../../infra/eventstore/errors';
import type { EventStore, RecordedEvent } from '../../infra/eventstore/port';
import type { User } from '../../infra/users/port';
import type { generationWorkflow } from '../../workflows/generation';
import type { publishWorkflow } from '../../workflows/publish';
import type { takedownWorkflow } from '../../workflows/takedown';
import { callerOf, mayAccess, problemResponse } from '../plugins/auth';
import { contentRefusal, invalidParams, ProblemError, unprocessableResponse } from '../plugins/errors';
import { readCreateRequest } from '../videos/createRequest';
import type { IdempotencyStore } from '../videos/idempotency';
import { parseCreateParams, requestHash } from '../videos/params';
import { parseRange } from '../videos/range';
import type { ViewCounter } from '../videos/views';
import {
  ContentQuery,
  createVideoBodies,
  DeletedVideo,
  IdempotencyHeaders,
  ListVideosQuery,
  SEED_MAX,
  VideoEvents,
  VideoIdParams,
  VideoList,
  VideoObject,
  VideoStreamEvent,
} from '../videos/schemas';

/** What the routes need of the videos read model; api/videos/readModel.ts adapts the projector's query to it. */
export interface VideoReadModel {
  /** The video, or undefined when there is none or it was deleted. Who may see it is decided here, not there. */
  get(id: string): Promise<VideoObject | undefined>;
  /** The owner's videos, newest first unless `order` is asc; throws UnknownCursor when `after` is not one of them. */
  list(options: { ownerId: string; after?: string; limit: number; order: 'asc' | 'desc' }): Promise<VideoList>;
  /** The completed video whose MP4 has this SHA-256 that the viewer may build on (own first), if any (videoFile.ts). */
  findByContent(sha256: string, viewer: { ownerId: string; anyOwner?: boolean }): Promise<string | undefined>;
}

/** `after` names no video of the caller's: a 400 on `after`. */
export class UnknownCursor extends Error {
  constructor(readonly after: string) {
    super(`after=${after} is not one of your videos`);
    this.name = 'UnknownCursor';
  }
}

export interface VideosConfig {
  /** The configured model pack's name: the default `model`, and what `sora-2` / `sora-2-pro` stand for. */
  modelName: string;
  /** Where generation and publish workflows run (`orchestration`; tests use their own). */
  taskQueue: string;
  /** The inference queue handed to generationWorkflow; absent, the workflow's default (`gpu`). */
  gpuTaskQueue?: string;
  /** Largest input_reference image accepted. */
  inputReferenceMaxBytes: number;
  /** How long create waits for the read model to show the new video before answering it built from the request. */
  readModelWaitMs?: number;
  /** How long delete waits for a running generation to record its cancellation. */
  cancelWaitMs?: number;
  /** How long publish waits for publishWorkflow. */
  publishWaitMs?: number;
  /** How often the progress stream polls the read model. */
  streamPollMs?: number;
}

export interface VideosRoutesOptions {
  temporal: { client: Client };
  eventStore: EventStore;
  blobs: BlobStore;
  readModel: VideoReadModel;
  idempotency: IdempotencyStore;
  config: VideosConfig;
  /** Counts views of the content (api/videos/views.ts); absent, none are counted. */
  views?: ViewCounter;
}

const VIDEO_ID = /^video_[0-9a-f]{32}$/;
/** Printable ASCII, as the keys clients generate (UUIDs, `stainless-node-retry-<uuid>`) are. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const TERMINAL_STATUSES = new Set(['completed', 'failed', 'cancelled']);
const STREAM_KEEPALIVE_MS = 15000;

const streamOf = (videoId: string) => `video-${videoId}`;
const publishWorkflowId = (videoId: string) => `publish-${videoId}`;
const nowS = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function newVideoId(): string {
  return `video_${randomBytes(16).toString('hex')}`;
}

function videoNotFound(id: string): ProblemError {
  return new ProblemError({ status: 404, code: 'video_not_found', detail: `no video ${id}` });
}

/** Polls until `check` gives a value or the deadline passes (then undefined): read-your-writes over a lagging read model. */
async function poll<T>(check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 50): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined || Date.now() >= deadline) return value;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/** A workflow's result, or the `pending` problem (a 504: the workflow goes on) once `ms` have passed. */
async function resultWithin<T>(handle: { result(): Promise<T> }, ms: number, pending: () => ProblemError): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([handle.result(), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(pending()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The Video the read model will show, folded from the stream's state with the same evolve (toApiVideo's shape). */
export function videoFromState(state: VideoState): VideoObject {
  const request = state.request!;
  return {
    id: request.video_id,
    object: 'video',
    status: state.status,
    progress: state.progress,
    model: request.model,
    prompt: request.prompt,
    seconds: String(request.seconds),
    size: request.size,
    created_at: state.createdAt ?? request.at,
    completed_at: state.completedAt,
    expires_at: null,
    error: state.error ? { code: state.error.code, message: state.error.message } : null,
    remixed_from_video_id: request.remixed_from_video_id,
    stage: state.stage,
    style: request.style,
    camera: request.camera,
    seed: request.seed,
    owner_id: request.owner_id,
    cameo_uses: state.cameoUses,
    visibility: state.visibility,
    extended_from_video_id: request.extended_from_video_id,
    chunks: { total: state.chunks.total, video_done: state.chunks.videoDone, audio_done: state.chunks.audioDone },
    // The timeline is timed by the events' store times, which the state does not carry: the read model's alone.
    timeline: [],
  };
}

/** Owner, admins and auditors see any video; everyone sees a published one (a taken-down one is not `published`). */
/** Requested, not deleted, and the caller's. */
function isOwnedBy(state: VideoState, caller: User): boolean {
  return !!state.request && !state.deleted && state.request.owner_id === caller.id;
}

function maySee(caller: User, video: Pick<VideoObject, 'owner_id' | 'visibility'>): boolean {
  return mayAccess(caller, video.owner_id, 'admin', 'auditor') || video.visibility === 'published';
}

function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const raw = request.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? raw : [raw];
  if (value.length !== 1 || !IDEMPOTENCY_KEY.test(value[0]!)) {
    throw new ProblemError({
      status: 400,
      code: 'invalid_idempotency_key',
      detail: 'Idempotency-Key must be one value of 1 to 255 printable ASCII characters',
      errors: [{ field: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters, given once' }],
    });
  }
  return value[0];
}

/** Only JSON and multipart create videos; anything else (text, urlencoded, a body without a type) is 415. */
function checkCreateContentType(request: FastifyRequest): void {
  const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  const hasBody = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
  if (type === undefined || type === '') {
    if (!hasBody) return;
  } else if (type === 'application/json' || type === 'multipart/form-data') return;
  throw new ProblemError({
    status: 415,
    code: 'unsupported_media_type',
    detail: `Content-Type ${type ? `"${type}" ` : ''}is not accepted here: send application/json or multipart/form-data`,
    errors: [{ field: 'Content-Type', message: 'must be application/json or multipart/form-data' }],
  });
}

const errorResponses = {
  404: problemResponse('No such video, or one the caller may not see (a video is never 403, so its existence does not leak)'),
};

export const videosRoutes: FastifyPluginAsync<VideosRoutesOptions> = async (app, options) => {
  const { eventStore, blobs, readModel, idempotency, config } = options;
  const workflows = options.temporal.client.workflow;
  const readModelWaitMs = config.readModelWaitMs ?? 2000;
  const handleVideo = commandHandler(eventStore, videoEvolver);
  const cancelWaitMs = config.cancelWaitMs ?? 5000;
  const publishWaitMs = config.publishWaitMs ?? 15000;
  const streamPollMs = config.streamPollMs ?? 200;
  const createBodies = createVideoBodies(config.modelName);
  // Progress streams end when the server starts closing (before it waits for open connections), not at their video's end.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });

  // JSON here answers a malformed body as a 400 naming `body` (fastify's own says neither field nor code), and takes
  // an empty body as none, so POST .../cancel with a JSON content type and no body is fine. text/plain is dropped, so
  // only JSON and multipart (registered in server.ts) reach these routes. Scoped to this plugin.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') return done(null, undefined);
    defaultJson(request, body as string, (err, value) => {
      if (!err) return done(null, value);
      const message = `is not valid JSON: ${err.message}`;
      done(new ProblemError({ status: 400, code: 'invalid_json', title: 'Malformed JSON', detail: `body ${message}`, errors: [{ field: 'body', message }] }), undefined);
    });
  });

  // ---- state from the stream ------------------------------------------------------------------------------------

  async function loadStream(videoId: string): Promise<{ state: VideoState; revision: bigint } | undefined> {
    return VIDEO_ID.test(videoId) ? readVideo(eventStore, videoId) : undefined;
  }

  /** The video's state for a change only its owner may make; anyone else, and a deleted video, get 404. */
  async function ownedState(caller: User, videoId: string): Promise<{ state: VideoState; revision: bigint }> {
    const loaded = await loadStream(videoId);
    if (!loaded || !isOwnedBy(loaded.state, caller)) throw videoNotFound(videoId);
    return loaded;
  }

  /** The read model's video, or the one folded from the stream while the read model has not caught up. */
  async function currentVideo(videoId: string, state: VideoState): Promise<VideoObject> {
    return (await readModel.get(videoId)) ?? videoFromState(state);
  }

  /**
   * The read model's video; one it does not have yet (a GET right after the POST, on a loaded machine) is folded from
   * its stream, so a client's create-then-poll never sees a 404 for a video it was just given.
   */
  async function visibleVideo(caller: User, videoId: string): Promise<VideoObject> {
    if (!VIDEO_ID.test(videoId)) throw videoNotFound(videoId);
    let video = await readModel.get(videoId);
    if (!video) {
      const state = (await loadStream(videoId))?.state;
      if (state?.request && !state.deleted) video = videoFromState(state);
    }
    if (!video || !maySee(caller, video)) throw videoNotFound(videoId);
    return video;
  }

  // ---- generation -------------------------------------------------------------------------------------------------

  async function startGeneration(request: VideoRequestedData, actor: string, log: FastifyRequest['log']): Promise<void> {
    try {
      await workflows.start<typeof generationWorkflow>('generationWorkflow', {
        taskQueue: config.taskQueue,
        workflowId: streamOf(request.video_id),
        args: [{ request, actor, ...(config.gpuTaskQueue ? { gpuTaskQueue: config.gpuTaskQueue } : {}) }],
        // Never a second run for one video id, even after the first closed: an idempotent replay restarts nothing.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (err) {
      // An idempotent replay (or the concurrent twin of a request) found it started: that is the video.
      if (err instanceof WorkflowExecutionAlreadyStartedError) return;
      // The cause stays in the log (as for every 5xx); the client learns what to do.
      log.error({ err, videoId: request.video_id }, 'generationWorkflow not started');
      throw new ProblemError({
        status: 503,
        code: 'temporal_unavailable',
        detail: 'the video could not be queued; retry, with the same Idempotency-Key to be safe',
      });
    }
  }

  app.post(
    '/v1/videos',
    {
      bodyLimit: Math.ceil((config.inputReferenceMaxBytes * 4) / 3) + 256 * 1024,
      // One validator (api/videos/params.ts) checks JSON and multipart alike; the schemas below document the two forms.
      validatorCompiler: () => () => true,
      preParsing: async (request, _reply, payload) => {
        checkCreateContentType(request);
        return payload;
      },
      schema: {
        tags: ['videos'],
        summary: 'Create a video (a generation job)',
        description: 'As the OpenAI Videos API: answers 200 with the Video, queued. JSON or multipart/form-data (what the SDKs send).',
        headers: IdempotencyHeaders,
        body: { content: { 'application/json': { schema: createBodies.json }, 'multipart/form-data': { schema: createBodies.form } } },
        response: {
          200: VideoObject,
          400: problemResponse('A parameter is invalid; `errors` names each field, `error.param` the first'),
          409: problemResponse('The Idempotency-Key was used with another body (`idempotency_key_reused`)'),
          413: problemResponse('The input_reference image (or the form) is too large'),
          422: unprocessableResponse('input_reference is not a PNG or JPEG image'),
          415: problemResponse('The body is neither JSON nor multipart/form-data'),
          503: problemResponse('Temporal did not take the job; nothing was created unless the same Idempotency-Key is retried'),
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const key = idempotencyKeyOf(request);
      const body = await readCreateRequest(request, { inputReferenceMaxBytes: config.inputReferenceMaxBytes });
      const params = parseCreateParams(body.raw, { modelName: config.modelName }, body.errors);

      let videoRequest: VideoRequestedData = {
        video_id: newVideoId(),
        owner_id: caller.id,
        prompt: params.prompt,
        model: params.model,
        seconds: params.seconds,
        size: params.size,
        style: params.style,
        camera: params.camera,
        seed: params.seed ?? randomInt(0, SEED_MAX + 1),
        cameo_ids: params.cameo_ids,
        publish: params.publish,
        remixed_from_video_id: null,
        extended_from_video_id: null,
        has_input_reference: body.inputReference !== undefined,
        at: nowS(),
      };
      let replayed = false;
      if (key !== undefined) {
        const claim = await idempotency.claim(caller.id, key, requestHash(params, body.inputReference), videoRequest);
        if (claim.outcome === 'conflict') {
          throw new ProblemError({
            status: 409,
            code: 'idempotency_key_reused',
            detail: `this Idempotency-Key was used for video ${claim.record.videoId} with another request body; use a new key for a new request`,
            param: 'Idempotency-Key',
          });
        }
        if (claim.outcome === 'replay') {
          // The recorded request (its seed, its id) is the video; this attempt's random choices are dropped.
          videoRequest = claim.record.request;
          replayed = true;
        }
      }
      const videoId = videoRequest.video_id;
      request.log.info({ videoId, replayed }, replayed ? 'video request replayed' : 'video requested');

      // A replay whose video the workflow already recorded has nothing left to do. Otherwise (a first attempt, or
      // one that died before its workflow ran) the image goes in before the workflow starts, so nothing downstream
      // ever looks for it too early, and the start is idempotent by workflow id.
      const recorded = replayed ? await loadStream(videoId) : undefined;
      if (!recorded) {
        const inputKey = inputReferenceKey(videoId);
        if (body.inputReference && (!replayed || !(await blobs.exists(inputKey)))) await blobs.put(inputKey, body.inputReference);
        try {
          await startGeneration(videoRequest, caller.id, request.log);
        } catch (err) {
          // Without a key nobody can resume this attempt: leave no orphaned upload behind.
          if (key === undefined && body.inputReference) await blobs.deletePrefix(`videos/${videoId}/`).catch(() => undefined);
          throw err;
        }
      }

      // Wait for the read model, so the client's next GET finds what this answer names; past the deadline, answer
      // what the stream says, or (nothing recorded yet) the request itself.
      const video =
        (await poll(() => readModel.get(videoId), readModelWaitMs)) ??
        videoFromState((await loadStream(videoId))?.state ?? evolve(initialVideoState, { type: 'VideoRequested', data: videoRequest }));
      if (replayed) reply.header('idempotent-replayed', 'true');
      return video;
    },
  );

  // ---- reads ------------------------------------------------------------------------------------------------------

  app.get<{ Params: VideoIdParams }>(
    '/v1/videos/:id',
    { schema: { tags: ['videos'], summary: 'Retrieve a video', params: VideoIdParams, response: { 200: VideoObject, ...errorResponses } } },
    async (request) => visibleVideo(callerOf(request), request.params.id),
  );

  app.get<{ Querystring: ListVideosQuery }>(
    '/v1/videos',
    {
      schema: {
        tags: ['videos'],
        summary: "List the caller's videos",
        description: 'Keyset pages by creation time: pass `last_id` as `after` for the next page.',
        querystring: ListVideosQuery,
        response: { 200: VideoList, 400: problemResponse('`after`, `limit` or `order` is invalid; `error.param` names it'), 422: unprocessableResponse('`after` is not one of the caller\'s videos') },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { after, limit = 20, order = 'desc' } = request.query;
      try {
        return await readModel.list({ ownerId: caller.id, after, limit, order });
      } catch (err) {
        if (err instanceof UnknownCursor) {
          throw invalidParams([contentRefusal('after', 'is not one of your videos')]);
        }
        throw err;
      }
    },
  );

  app.get<{ Params: VideoIdParams; Querystring: ContentQuery }>(
    '/v1/videos/:id/content',
    {
      schema: {
        tags: ['videos'],
        summary: 'Download the video (MP4), its thumbnail or its spritesheet (JPEG)',
        description: 'Supports HTTP Range (one range): 206 with Content-Range, 416 when it lies outside the file.',
        params: VideoIdParams,
        querystring: ContentQuery,
        response: {
          200: {
            description: 'The whole file',
            content: { 'video/mp4': { schema: { type: 'string', format: 'binary' } }, 'image/jpeg': { schema: { type: 'string', format: 'binary' } } },
          },
          206: { description: 'The requested byte range', content: { 'video/mp4': { schema: { type: 'string', format: 'binary' } } } },
          400: problemResponse('Unknown variant'),
          404: problemResponse('No such video, or not completed yet (`video_not_ready`)'),
          416: problemResponse('The range lies outside the file'),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const variant = request.query.variant ?? 'video';
      const video = await visibleVideo(callerOf(request), id);
      if (video.status !== 'completed') {
        throw new ProblemError({ status: 404, code: 'video_not_ready', detail: `video ${id} is ${video.status}; its content is available once it is completed` });
      }
      const keys = contentKeys(id);
      const key = variant === 'video' ? keys.content : variant === 'thumbnail' ? keys.thumbnail : keys.spritesheet;
      const info = await blobs.stat(key);
      if (!info) throw new ProblemError({ status: 404, code: 'content_not_found', detail: `the ${variant} of video ${id} is not stored` });
      // Batched: at most once per viewer and window, recorded as one VideoViewed per video every few seconds.
      if (variant === 'video' && request.method !== 'HEAD') options.views?.record(callerOf(request).id, id);

      const etag = `"${info.bytes.toString(16)}-${info.modifiedAt.getTime().toString(16)}"`;
      reply
        .header('content-type', variant === 'video' ? 'video/mp4' : 'image/jpeg')
        .header('accept-ranges', 'bytes')
        .header('etag', etag)
        .header('last-modified', info.modifiedAt.toUTCString())
        .header('cache-control', video.visibility === 'published' ? 'public, max-age=300' : 'private, max-age=0');
      // If-Range: a range of a file that changed since the client's copy would splice two files; send it whole.
      const ifRange = request.headers['if-range'];
      const range = ifRange !== undefined && ifRange !== etag ? ({ kind: 'full' } as const) : parseRange(request.headers.range, info.bytes);
      if (range.kind === 'unsatisfiable') {
        reply.header('content-range', `bytes */${info.bytes}`);
        throw new ProblemError({ status: 416, code: 'range_not_satisfiable', detail: `the range ${request.headers.range} lies outside the ${info.bytes} bytes of the file`, param: 'Range' });
      }
      const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, info.bytes - 1];
      if (range.kind === 'partial') reply.status(206).header('content-range', `bytes ${start}-${end}/${info.bytes}`);
      reply.header('content-length', String(Math.max(0, end - start + 1)));
      if (request.method === 'HEAD' || info.bytes === 0) return reply.send();
      return reply.send(await blobs.stream(key, { start, end }));
    },
  );

  app.get<{ Params: VideoIdParams }>(
    '/v1/videos/:id/stream',
    {
      schema: {
        tags: ['videos'],
        summary: 'Follow a video: server-sent events',
        description: 'One `progress` event (data: the Video) per change, then a `done` event with the finished Video, then the stream closes.',
        params: VideoIdParams,
        response: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: VideoStreamEvent } } }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const caller = callerOf(request);
      const first = await visibleVideo(caller, id);
      const out = new PassThrough();
      // fastify destroys the payload stream when the client goes away; the loop below stops on that.
      const gone = () => out.destroyed || out.writableEnded || closing;
      const send = (event: string, data: unknown) => out.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      void (async () => {
        let video: VideoObject | undefined = first;
        let sent = '';
        let lastWriteAt = Date.now();
        try {
          // A comment first: headers and a first byte go out at once, so clients and proxies see the stream open.
          out.write(`: video ${id}\n\n`);
          while (!gone()) {
            if (TERMINAL_STATUSES.has(video.status)) {
              send('done', video);
              break;
            }
            const json = JSON.stringify(video);
            if (json !== sent) {
              send('progress', video);
              sent = json;
              lastWriteAt = Date.now();
            } else if (Date.now() - lastWriteAt >= STREAM_KEEPALIVE_MS) {
              out.write(': keep-alive\n\n');
              lastWriteAt = Date.now();
            }
            await sleep(streamPollMs);
            if (gone()) break;
            video = await readModel.get(id);
            // Deleted, or no longer visible to this caller (taken down): the stream ends as a GET would answer.
            if (!video || !maySee(caller, video)) {
              send('error', { error: { code: 'video_not_found', message: `video ${id} is no longer available` } });
              break;
            }
          }
        } catch (err) {
          request.log.warn({ err, videoId: id }, 'video stream stopped');
        } finally {
          if (!out.destroyed) out.end();
        }
      })();
      reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache, no-transform')
        .header('x-accel-buffering', 'no')
        // The connection ends with the stream: an idle keep-alive socket left behind would only hold up a shutdown.
        .header('connection', 'close');
      return reply.send(out);
    },
  );

  app.get<{ Params: VideoIdParams }>(
    '/v1/videos/:id/events',
    {
      schema: {
        tags: ['videos'],
        summary: "The video's domain events (its `video-<id>` stream), oldest first",
        description: 'For its owner, auditors and admins. A deleted video keeps its events: they are the record.',
        params: VideoIdParams,
        response: { 200: VideoEvents, ...errorResponses },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { id } = request.params;
      let events: RecordedEvent[];
      try {
        events = VIDEO_ID.test(id) ? await eventStore.readStream(streamOf(id)) : [];
      } catch (err) {
        if (!(err instanceof StreamNotFound)) throw err;
        events = [];
      }
      const requested = events.find((e) => e.type === 'VideoRequested')?.data as VideoRequestedData | undefined;
      if (!requested || !mayAccess(caller, requested.owner_id, 'auditor', 'admin')) throw videoNotFound(id);
      return events.map((e) => ({
        revision: Number(e.revision),
        type: e.type,
        data: e.data,
        metadata: e.metadata,
        created_at: Math.floor(e.created.getTime() / 1000),
      }));
    },
  );

  // ---- changes ----------------------------------------------------------------------------------------------------

  /** Asks the generation workflow to stop; false when it had already closed. */
  async function cancelWorkflow(videoId: string): Promise<boolean> {
    try {
      await workflows.getHandle(streamOf(videoId)).cancel();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  app.post<{ Params: VideoIdParams }>(
    '/v1/videos/:id/cancel',
    {
      schema: {
        tags: ['videos'],
        summary: 'Cancel a video being generated',
        description: 'Accepted: the job stops at its next step and records VideoCancelled; follow it with GET or the stream.',
        params: VideoIdParams,
        response: { 202: VideoObject, ...errorResponses, 409: problemResponse('The video already finished (`video_finished`)') },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const { id } = request.params;
      const { state } = await ownedState(caller, id);
      const finished = () => new ProblemError({ status: 409, code: 'video_finished', detail: `video ${id} is already ${state.status}; there is nothing to cancel` });
      if (isFinished(state)) throw finished();
      if (!(await cancelWorkflow(id))) {
        // The workflow closed between the read and the request: it finished on its own.
        const now = await loadStream(id);
        if (!now || isFinished(now.state)) throw finished();
      }
      request.log.info({ videoId: id }, 'video cancellation requested');
      reply.status(202);
      return currentVideo(id, state);
    },
  );

  /** When the caller does not own the video but owns a cameo it asked for or reserved: that cameo's id and the state. */
  async function cameoOwnedIn(caller: User, videoId: string): Promise<{ cameoId: string; state: VideoState } | undefined> {
    const loaded = await loadStream(videoId);
    const request = loaded?.state.request;
    if (!loaded || !request || loaded.state.deleted || request.owner_id === caller.id) return undefined;
    const state = loaded.state;
    const cameoIds = new Set([...request.cameo_ids, ...(state.cameoReservations ?? []).map((r) => r.cameo_id), ...state.cameoUses.map((u) => u.cameo_id)]);
    for (const cameoId of cameoIds) {
      if ((await readCameo(eventStore, cameoId)).ownerId === caller.id) return { cameoId, state };
    }
    return undefined;
  }

  /** takedownWorkflow for the owner of a cameo in the video, awaited; answered as a deletion (API.md). */
  async function takeDown(request: FastifyRequest, state: VideoState, videoId: string, cameoId: string) {
    const caller = callerOf(request);
    if (!isFinished(state)) {
      throw new ProblemError({
        status: 409,
        code: 'video_not_finished',
        detail: `video ${videoId} is still being generated: it can be taken down once it has finished (revoking its use of cameo ${cameoId}, or deleting the cameo, stops it now)`,
      });
    }
    if (state.visibility !== 'taken_down') {
      const handle = await workflows.start<typeof takedownWorkflow>('takedownWorkflow', {
        taskQueue: config.taskQueue,
        workflowId: `takedown-${videoId}-${cameoId}`,
        args: [{ videoId, by: caller.id, reason: `the owner of cameo ${cameoId} asked for the video to be taken down` }],
        // Taking down is idempotent: a later request runs again (and records nothing), one running now is joined.
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
      try {
        await resultWithin(handle, publishWaitMs, () => new ProblemError({ status: 504, code: 'takedown_pending', detail: `taking down video ${videoId} is taking longer than ${publishWaitMs} ms; it goes on` }));
      } catch (err) {
        if (err instanceof WorkflowFailedError) {
          throw new ProblemError({ status: 409, code: 'takedown_refused', detail: `video ${videoId} could not be taken down: ${(err.cause as Error | undefined)?.message ?? err.message}` });
        }
        throw err;
      }
      request.log.info({ videoId, cameoId }, 'video taken down by the owner of a cameo in it');
    }
    // Answered once the read model no longer offers it to others, so the feed and GETs right after agree.
    await poll(async () => {
      const video = await readModel.get(videoId);
      return !video || video.visibility === 'taken_down' ? true : undefined;
    }, readModelWaitMs);
    return { id: videoId, object: 'video.deleted' as const, deleted: true as const };
  }

  app.delete<{ Params: VideoIdParams }>(
    '/v1/videos/:id',
    {
      schema: {
        tags: ['videos'],
        summary: 'Delete a video and its files, or take it down',
        description:
          'By its owner: a video still being generated is cancelled first; its events stay as the record. By the owner of a cameo in it: the finished video is taken down (off the feed, out of others\' reach).',
        params: VideoIdParams,
        response: {
          200: DeletedVideo,
          ...errorResponses,
          409: problemResponse('The generation did not stop in time (`video_busy`); retry. Or, for a cameo owner, the video is still being generated (`video_not_finished`)'),
          504: problemResponse('Taking the video down did not finish in time; it goes on'),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { id } = request.params;
      // Not the video's owner, but the owner of a cameo in it: the video is taken down, not deleted.
      const asCameoOwner = await cameoOwnedIn(caller, id);
      if (asCameoOwner) return takeDown(request, asCameoOwner.state, id, asCameoOwner.cameoId);
      let loaded = await ownedState(caller, id);
      if (!isFinished(loaded.state)) {
        await cancelWorkflow(id);
        // The decider refuses to delete a running job: wait for the workflow to record its cancellation.
        loaded =
          (await poll(async () => {
            const now = await loadStream(id);
            return now && isFinished(now.state) ? now : undefined;
          }, cancelWaitMs)) ?? loaded;
        if (!isFinished(loaded.state)) {
          throw new ProblemError({ status: 409, code: 'video_busy', detail: `video ${id} is still stopping its generation; retry in a moment` });
        }
      }
      // At the revision read: a concurrent change (a late event, another delete) makes the append fail, then we decide again.
      await handleVideo(
        streamOf(id),
        ({ state }) => {
          // As read now: still there and the caller's (what ownedState checked), or 404.
          if (!isOwnedBy(state, caller)) throw videoNotFound(id);
          try {
            return decide({ type: 'DeleteVideo', data: { by: caller.id, at: nowS() } }, state);
          } catch (err) {
            if (err instanceof VideoCommandRefused) throw new ProblemError({ status: 409, code: 'video_busy', detail: err.message });
            throw err;
          }
        },
        { metadata: { actor: caller.id, correlationId: id, causationId: 'DeleteVideo', requestId: request.id }, maxAttempts: 3 },
      );
      const removed = await blobs.deletePrefix(`videos/${id}/`);
      request.log.info({ videoId: id, blobsRemoved: removed }, 'video deleted');
      // Answered once the read model no longer shows it, so a GET right after is a 404.
      await poll(async () => ((await readModel.get(id)) ? undefined : true), readModelWaitMs);
      return { id, object: 'video.deleted' as const, deleted: true as const };
    },
  );

  app.post<{ Params: VideoIdParams }>(
    '/v1/videos/:id/publish',
    {
      schema: {
        tags: ['videos'],
        summary: 'Publish a completed video to the feed',
        description: 'By its owner; runs publishWorkflow, which re-checks consent for every cameo at this moment.',
        params: VideoIdParams,
        response: {
          200: VideoObject,
          ...errorResponses,
          409: problemResponse('The video is not completed (`video_not_completed`), was taken down, or a cameo in it is no longer covered by consent (`consent_revoked`, `consent_missing`)'),
          504: problemResponse('Publishing did not finish in time; it goes on'),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { id } = request.params;
      const { state } = await ownedState(caller, id);
      if (state.status !== 'completed') {
        throw new ProblemError({ status: 409, code: 'video_not_completed', detail: `only a completed video can be published; video ${id} is ${state.status}` });
      }
      if (state.visibility === 'taken_down') throw new ProblemError({ status: 409, code: 'video_taken_down', detail: `video ${id} was taken down` });
      if (state.visibility !== 'published') {
        const handle = await workflows.start<typeof publishWorkflow>('publishWorkflow', {
          taskQueue: config.taskQueue,
          workflowId: publishWorkflowId(id),
          args: [{ videoId: id, actor: caller.id }],
          // A later attempt (after a failed one, or an unpublish to come) may run again; one running now is joined.
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
        try {
          await resultWithin(handle, publishWaitMs, () => new ProblemError({ status: 504, code: 'publish_pending', detail: `publishing video ${id} is taking longer than ${publishWaitMs} ms; it goes on` }));
        } catch (err) {
          if (err instanceof WorkflowFailedError) {
            const cause = (err.cause as Error | undefined)?.message ?? err.message;
            // A cameo use no longer covered by consent answers with the consent code itself.
            const type = err.cause instanceof ApplicationFailure ? err.cause.type : undefined;
            const code = type === 'consent_revoked' || type === 'consent_missing' ? type : 'publish_refused';
            throw new ProblemError({ status: 409, code, detail: `video ${id} could not be published: ${cause}` });
          }
          throw err;
        }
        request.log.info({ videoId: id }, 'video published');
      }
      const video = await poll(async () => {
        const v = await readModel.get(id);
        return v?.visibility === 'published' ? v : undefined;
      }, readModelWaitMs);
      // The stream says published even if the read model is slow: answer what is true.
      return video ?? { ...(await currentVideo(id, state)), visibility: 'published' as const };
    },
  );
};
