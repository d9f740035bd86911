// What the Videos routes share. api/routes/videos.ts builds one VideosContext and hands it to each group of routes
// (create.ts, read.ts, progress.ts, changes.ts): the options with their waits filled in, and the reads every group
// makes: a video's state folded from its stream (decisions), and the Video a caller may see (the read model first).
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { FastifyBaseLogger } from 'fastify';
import type { VideoRequestedData, VideoState } from '../../domain/video';
import type { generationWorkflow } from '../../workflows/generation';
import type { BlobStore } from '../../infra/blobs';
import type { EventStore } from '../../infra/eventstore/port';
import type { Ffmpeg } from '../../infra/media/ffmpeg';
import type { ContentCredentials } from '../../infra/provenance/c2pa';
import { previewUrlOf } from '../../projections/queries';
import { readVideo } from '../../infra/streams/videos';
import type { User } from '../../infra/users/port';
import type { Tier, TierTable } from '../../infra/tiers';
import { mayAccess, problemResponse } from '../plugins/auth';
import { ProblemError } from '../plugins/errors';
import type { IdempotencyStore } from './idempotency';
import type { VideoReadModel } from './readModel';
import { VIDEO_ID, type VideoObject } from './schemas';
import type { ViewCounter } from './views';

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
  /** When set (BLOB_CONTENT_REDIRECT_SECONDS) and the blob store signs URLs (S3), content GETs redirect to a URL signed for this long. */
  contentRedirectSeconds?: number;
  /** VIDEO_RETENTION_SECONDS: handed to each generationWorkflow, which sets `expires_at` at completion; 0 or absent: kept. */
  retentionSeconds?: number;
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
  /** The tiers: each caller's concurrent-job limit, daily budget and GPU weight (infra/tiers.ts). */
  tiers: TierTable;
  /** The ffmpeg the live preview packages its fragments with, found on first use; absent, the preview answers 503. */
  ffmpeg?: () => Ffmpeg;
  /** Reads the content credentials of GET /v1/videos/{id}/provenance; absent, that route answers 503. */
  contentCredentials?: ContentCredentials;
}

export { VIDEO_ID };

/**
 * Starts a video's generationWorkflow (create, remix, edit and extension alike): its id is the video's stream name
 * and never runs twice (an idempotent replay finds it started, which is fine); the inference queue and the retention
 * where configured; the deadline (Unix seconds) when the request set one; and the caller's tier as the workflow's
 * Temporal priority, a fairness key of the tier's weight, which its activities (the GPU's among them) inherit
 * (docs/architecture.md, "Priority between tiers"). Temporal refusing the start is 503 `temporal_unavailable`.
 */
export async function startGeneration(
  context: Pick<VideosContext, 'workflows' | 'config'>,
  input: { request: VideoRequestedData; actor: string; tier: Tier; deadlineAt?: number },
  log: FastifyBaseLogger,
): Promise<void> {
  const { config } = context;
  const { request, actor, tier, deadlineAt } = input;
  try {
    await context.workflows.start<typeof generationWorkflow>('generationWorkflow', {
      taskQueue: config.taskQueue,
      workflowId: streamOf(request.video_id),
      args: [
        {
          request,
          actor,
          ...(config.gpuTaskQueue ? { gpuTaskQueue: config.gpuTaskQueue } : {}),
          ...(config.retentionSeconds ? { retentionSeconds: config.retentionSeconds } : {}),
          ...(deadlineAt !== undefined ? { deadlineAt } : {}),
        },
      ],
      priority: { fairnessKey: tier.name, fairnessWeight: tier.gpuWeight },
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

export const streamOf = (videoId: string) => `video-${videoId}`;
export const nowS = () => Math.floor(Date.now() / 1000);
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function videoNotFound(id: string): ProblemError {
  return new ProblemError({ status: 404, code: 'video_not_found', detail: `no video ${id}` });
}

/** 410 `video_expired`: the video's content was deleted by retention (or is, now that its expires_at has passed). */
export function videoExpired(id: string, expiresAt: number | null): ProblemError {
  const when = expiresAt === null ? 'already' : `at ${new Date(expiresAt * 1000).toISOString()} (expires_at ${expiresAt})`;
  return new ProblemError({
    status: 410,
    code: 'video_expired',
    detail: `the content of video ${id} expired ${when} and was deleted; the video and its events remain`,
  });
}

/** Whether a Video's content has expired at this moment (expires_at set and passed). */
export function hasExpired(video: Pick<VideoObject, 'expires_at'>): boolean {
  return video.expires_at !== null && nowS() >= video.expires_at;
}

/**
 * A video the caller may see whose content is there to read: completed (else 404 `video_not_ready`, `available` saying
 * what becomes available then) and not past its retention (410 `video_expired`: the video object stays, completed).
 */
export async function completedVideo(context: Pick<VideosContext, 'visibleVideo'>, caller: User, id: string, available: string): Promise<VideoObject> {
  const video = await context.visibleVideo(caller, id);
  if (video.status !== 'completed') {
    throw new ProblemError({ status: 404, code: 'video_not_ready', detail: `video ${id} is ${video.status}; ${available} once it is completed` });
  }
  if (hasExpired(video)) throw videoExpired(id, video.expires_at);
  return video;
}

export const errorResponses = {
  404: problemResponse('No such video, or one the caller may not see (a video is never 403, so its existence does not leak)'),
};

/** Polls until `check` gives a value or the deadline passes (then undefined): read-your-writes over a lagging read model. */
export async function poll<T>(check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 50): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined || Date.now() >= deadline) return value;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/** A workflow's result, or the `pending` problem (a 504: the workflow goes on) once `ms` have passed. */
export async function resultWithin<T>(handle: { result(): Promise<T> }, ms: number, pending: () => ProblemError): Promise<T> {
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
    expires_at: state.expiresAt ?? null,
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
    // The queue is the read model's too: unknown until it has the video.
    queue_position: null,
    estimated_start_at: null,
    estimated_completion_at: state.status === 'completed' ? state.completedAt : null,
    preview_url: previewUrlOf(request.video_id, state.status),
  };
}

/** Requested, not deleted, and the caller's. */
export function isOwnedBy(state: VideoState, caller: User): boolean {
  return !!state.request && !state.deleted && state.request.owner_id === caller.id;
}

/** Owner, admins and auditors see any video; everyone sees a published one (a taken-down one is not `published`). */
export function maySee(caller: User, video: Pick<VideoObject, 'owner_id' | 'visibility'>): boolean {
  return mayAccess(caller, video.owner_id, 'admin', 'auditor') || video.visibility === 'published';
}

export interface VideosContext extends VideosRoutesOptions {
  workflows: Client['workflow'];
  readModelWaitMs: number;
  cancelWaitMs: number;
  publishWaitMs: number;
  streamPollMs: number;
  /** True once the server has started closing: progress streams end then, not at their video's end. */
  closing(): boolean;
  /** The video's state and revision from its stream; undefined for an id that is not a video's or names none. */
  loadStream(videoId: string): Promise<{ state: VideoState; revision: bigint } | undefined>;
  /** The video's state for a change only its owner may make; anyone else, and a deleted video, get 404. */
  ownedState(caller: User, videoId: string): Promise<{ state: VideoState; revision: bigint }>;
  /** The read model's video, or the one folded from the stream while the read model has not caught up. */
  currentVideo(videoId: string, state: VideoState): Promise<VideoObject>;
  /**
   * The read model's video; one it does not have yet (a GET right after the POST, on a loaded machine) is folded from
   * its stream, so a client's create-then-poll never sees a 404 for a video it was just given.
   */
  visibleVideo(caller: User, videoId: string): Promise<VideoObject>;
}

export function videosContext(options: VideosRoutesOptions, closing: () => boolean): VideosContext {
  const { eventStore, readModel, config } = options;

  async function loadStream(videoId: string): Promise<{ state: VideoState; revision: bigint } | undefined> {
    return VIDEO_ID.test(videoId) ? readVideo(eventStore, videoId) : undefined;
  }

  return {
    ...options,
    workflows: options.temporal.client.workflow,
    readModelWaitMs: config.readModelWaitMs ?? 2000,
    cancelWaitMs: config.cancelWaitMs ?? 5000,
    publishWaitMs: config.publishWaitMs ?? 15000,
    streamPollMs: config.streamPollMs ?? 200,
    closing,
    loadStream,
    async ownedState(caller, videoId) {
      const loaded = await loadStream(videoId);
      if (!loaded || !isOwnedBy(loaded.state, caller)) throw videoNotFound(videoId);
      return loaded;
    },
    async currentVideo(videoId, state) {
      return (await readModel.get(videoId)) ?? videoFromState(state);
    },
    async visibleVideo(caller, videoId) {
      if (!VIDEO_ID.test(videoId)) throw videoNotFound(videoId);
      let video = await readModel.get(videoId);
      if (!video) {
        const state = (await loadStream(videoId))?.state;
        if (state?.request && !state.deleted) video = videoFromState(state);
      }
      if (!video || !maySee(caller, video)) throw videoNotFound(videoId);
      return video;
    },
  };
}
