// The video's state folded from its events: what the job is doing and what the result is. Used by the workflow,
// the videos read model and the debugging endpoints alike.
import type { CancelCode, ChunkPlan, FailureCode, SceneDescribedData, StopCode, VideoEvent, VideoRequestedData } from './events';

export type VideoStatus = 'queued' | 'in_progress' | 'completed' | 'failed' | 'cancelled';
export type VideoStage = 'queued' | 'moderating' | 'rendering' | 'muxing' | 'reviewing' | 'in_review' | 'completed' | 'failed' | 'cancelled' | 'blocked';

/** A moderation case about the video: which, and what it judged. */
export interface VideoCase {
  case_id: string;
  stage: 'prompt' | 'output';
}
export type Visibility = 'private' | 'published' | 'taken_down';

export interface VideoState {
  exists: boolean;
  request: VideoRequestedData | null;
  status: VideoStatus;
  stage: VideoStage;
  progress: number;
  chunks: { total: number; videoDone: number; audioDone: number; plan: ChunkPlan[] };
  videoChunkKeys: Record<number, string>;
  audioChunkKeys: Record<number, string>;
  /** How many chunk segments, from the first, passed their checks while rendering: what the live preview shows. */
  previewSegments: number;
  /** `sha256`: of the MP4's bytes, hex; absent for videos muxed before it was recorded. */
  content: { contentKey: string; thumbnailKey: string; spritesheetKey: string; durationS: number; sha256?: string } | null;
  /** `case_id`: the moderation case that blocked it, for an appeal to name. */
  error: { code: StopCode | FailureCode | CancelCode; message: string; case_id?: string } | null;
  /**
   * The case that last judged it (its prompt's, then its output's); `waiting`: in stage `in_review` for that case's
   * review or appeal. Null on states folded before review.
   */
  moderation: (VideoCase & { waiting: 'review' | 'appeal' | null; appealed: boolean }) | null;
  visibility: Visibility;
  cameoUses: { cameo_id: string; grant_revision: number }[];
  /** Cameo uses reserved for this video before rendering (the consent each rests on). */
  cameoReservations: { cameo_id: string; basis: string; grant_revision: number }[];
  createdAt: number | null;
  completedAt: number | null;
  /** Deleted by its owner: files removed, the events stay as the record. */
  deleted: boolean;
  /** When its content is deleted (retention), set at completion; null: kept (no retention, or published). */
  expiresAt: number | null;
  /** VideoContentExpired is recorded: its blobs are gone (or going), the events stay. */
  contentExpired: boolean;
  /** The scene its chunks render (absent on videos made before scenes were recorded). */
  scene: SceneDescribedData | null;
  /** Remixes of this video (VideoRemixed on its stream), in order. */
  remixes: string[];
  /** How many users like it now, and who (an array, so the state stays plain JSON). */
  likes: number;
  likers: string[];
  views: number;
}

export const initialVideoState: VideoState = Object.freeze({
  exists: false,
  request: null,
  status: 'queued',
  stage: 'queued',
  progress: 0,
  chunks: { total: 0, videoDone: 0, audioDone: 0, plan: [] },
  videoChunkKeys: {},
  audioChunkKeys: {},
  previewSegments: 0,
  content: null,
  error: null,
  moderation: null,
  visibility: 'private',
  cameoUses: [],
  cameoReservations: [],
  createdAt: null,
  completedAt: null,
  deleted: false,
  expiresAt: null,
  contentExpired: false,
  scene: null,
  remixes: [],
  likes: 0,
  likers: [],
  views: 0,
}) as VideoState;

/** Progress bands: moderation 0-5, rendering 5-85 (video and audio chunks), muxing 85-95, output review 95-99. */
export function renderProgress(chunks: VideoState['chunks']): number {
  if (chunks.total === 0) return 5;
  const done = chunks.videoDone * 0.7 + chunks.audioDone * 0.3;
  return Math.min(85, Math.floor(5 + (80 * done) / chunks.total));
}

export function isFinished(state: VideoState): boolean {
  return state.status === 'completed' || state.status === 'failed' || state.status === 'cancelled';
}

/**
 * Whether the content is past its expiry at `nowS` (Unix seconds): recorded as expired, or its `expires_at` has passed
 * and the retention workflow is about to record it. `?? null`: states folded before retention lack the fields.
 */
export function isContentExpired(state: Pick<VideoState, 'expiresAt' | 'contentExpired'>, nowS: number): boolean {
  if (state.contentExpired) return true;
  const expiresAt = state.expiresAt ?? null;
  return expiresAt !== null && nowS >= expiresAt;
}

export function evolve(state: VideoState, event: VideoEvent): VideoState {
  switch (event.type) {
    case 'VideoRequested':
      return { ...state, exists: true, request: event.data, status: 'queued', stage: 'moderating', progress: 0, createdAt: event.data.at };
    case 'PromptModerated':
    case 'OutputModerated': {
      const stage = event.type === 'PromptModerated' ? 'prompt' : 'output';
      const moderation = { case_id: event.data.case_id, stage, waiting: null, appealed: false } as const;
      if (event.data.verdict === 'review') return { ...state, stage: 'in_review', moderation: { ...moderation, waiting: 'review' } };
      if (event.data.verdict === 'block') return { ...state, moderation };
      return stage === 'prompt' ? { ...state, status: 'in_progress', progress: 5, moderation } : { ...state, progress: 99, moderation };
    }
    case 'ModerationReviewed': {
      const moderation = state.moderation ? { ...state.moderation, waiting: null } : null;
      // Blocked on review, VideoBlocked follows; a block upheld on appeal is where it was.
      if (event.data.decision === 'block') return event.data.appeal ? { ...state, stage: 'blocked', moderation } : { ...state, moderation };
      // Allowed, the video goes on from where the case stopped it: to rendering, or to completion.
      const resumed = { ...state, status: 'in_progress' as const, error: null, completedAt: null, moderation };
      return event.data.stage === 'prompt' ? { ...resumed, stage: 'moderating', progress: 5 } : { ...resumed, stage: 'reviewing', progress: 99 };
    }
    case 'VideoAppealed':
      return { ...state, stage: 'in_review', moderation: { case_id: event.data.case_id, stage: event.data.stage, waiting: 'appeal', appealed: true } };
    case 'CameoUseReserved':
      // `?? []`: states folded and stored before reservations existed lack the field.
      if ((state.cameoReservations ?? []).some((r) => r.cameo_id === event.data.cameo_id)) return state;
      return {
        ...state,
        cameoReservations: [
          ...(state.cameoReservations ?? []),
          { cameo_id: event.data.cameo_id, basis: event.data.basis, grant_revision: event.data.grant_revision },
        ],
      };
    case 'SceneDescribed':
      return { ...state, scene: event.data };
    case 'VideoRemixed':
      // `?? []`: states folded and stored before remixes were recorded lack the field.
      if ((state.remixes ?? []).includes(event.data.child_video_id)) return state;
      return { ...state, remixes: [...(state.remixes ?? []), event.data.child_video_id] };
    case 'ChunksPlanned':
      return {
        ...state,
        status: 'in_progress',
        stage: 'rendering',
        progress: 5,
        chunks: { total: event.data.total, videoDone: 0, audioDone: 0, plan: event.data.chunks },
      };
    case 'VideoChunkRendered': {
      if (state.videoChunkKeys[event.data.index] !== undefined) return state;
      const chunks = { ...state.chunks, videoDone: state.chunks.videoDone + 1 };
      return { ...state, chunks, progress: renderProgress(chunks), videoChunkKeys: { ...state.videoChunkKeys, [event.data.index]: event.data.blob_key } };
    }
    case 'AudioChunkRendered': {
      if (state.audioChunkKeys[event.data.index] !== undefined) return state;
      const chunks = { ...state.chunks, audioDone: state.chunks.audioDone + 1 };
      const next = { ...state, chunks, progress: renderProgress(chunks), audioChunkKeys: { ...state.audioChunkKeys, [event.data.index]: event.data.blob_key } };
      const allDone = chunks.total > 0 && chunks.videoDone === chunks.total && chunks.audioDone === chunks.total;
      return allDone ? { ...next, stage: 'muxing' } : next;
    }
    case 'PreviewSegmentPassed':
      // `?? 0`: states stored before the preview lack the field.
      return event.data.index === (state.previewSegments ?? 0) ? { ...state, previewSegments: event.data.index + 1 } : state;
    case 'Muxed':
      return {
        ...state,
        stage: 'reviewing',
        progress: 95,
        content: {
          contentKey: event.data.content_key,
          thumbnailKey: event.data.thumbnail_key,
          spritesheetKey: event.data.spritesheet_key,
          durationS: event.data.duration_s,
          ...(event.data.sha256 !== undefined ? { sha256: event.data.sha256 } : {}),
        },
      };
    case 'VideoCompleted':
      return { ...state, status: 'completed', stage: 'completed', progress: 100, completedAt: event.data.at, expiresAt: event.data.expires_at ?? null };
    case 'VideoBlocked':
      return {
        ...state,
        status: 'failed',
        stage: 'blocked',
        error: { code: event.data.code, message: event.data.message, ...(event.data.case_id ? { case_id: event.data.case_id } : {}) },
        completedAt: event.data.at,
      };
    case 'VideoFailed':
      return { ...state, status: 'failed', stage: 'failed', error: { code: event.data.code, message: event.data.message }, completedAt: event.data.at };
    case 'VideoCancelled':
      return {
        ...state,
        status: 'cancelled',
        stage: 'cancelled',
        completedAt: event.data.at,
        ...(event.data.code ? { error: { code: event.data.code, message: event.data.message ?? event.data.code } } : {}),
      };
    case 'VideoPublished':
      // On the feed: kept, whatever the retention said at completion.
      return { ...state, visibility: 'published', cameoUses: event.data.cameo_uses, expiresAt: null };
    case 'VideoDeleted':
      return { ...state, deleted: true };
    case 'VideoTakenDown':
      return { ...state, visibility: 'taken_down' };
    // `?? []`, `?? 0`: states folded and stored before engagement existed lack the fields.
    case 'VideoLiked': {
      const likers = state.likers ?? [];
      if (likers.includes(event.data.user_id)) return state;
      return { ...state, likers: [...likers, event.data.user_id], likes: likers.length + 1 };
    }
    case 'VideoUnliked': {
      const likers = state.likers ?? [];
      if (!likers.includes(event.data.user_id)) return state;
      const rest = likers.filter((u) => u !== event.data.user_id);
      return { ...state, likers: rest, likes: rest.length };
    }
    case 'VideoViewed':
      return { ...state, views: (state.views ?? 0) + event.data.count };
    case 'VideoContentExpired':
      return { ...state, contentExpired: true, expiresAt: event.data.expires_at };
  }
}

/** How a video's state is folded, for a command handler over video streams. */
export const videoEvolver = { initialState: (): VideoState => initialVideoState, evolve };

export function foldVideo(events: readonly VideoEvent[]): VideoState {
  return events.reduce(evolve, initialVideoState);
}
