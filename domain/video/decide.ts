// The video decider: a command and the current state give the events to record, or a typed refusal.
// Pure: time, ids and verdicts come in with the command.
import type {
  CancelCode,
  ChunkPlan,
  Collision,
  FailureCode,
  ModeratedData,
  MuxedData,
  SceneDescribedData,
  StopCode,
  VideoEvent,
  VideoRequestedData,
} from './events';
import { isContentExpired, isFinished, type VideoState } from './state';

export type VideoCommand =
  | { type: 'RequestVideo'; data: VideoRequestedData }
  /** The prompt's automated verdict: `review` waits in `in_review` for RecordReviewDecision. */
  | { type: 'RecordPromptVerdict'; data: ModeratedData }
  | { type: 'ReserveCameo'; data: { cameo_id: string; basis: string; grant_revision: number; at: number } }
  | { type: 'RecordScene'; data: SceneDescribedData }
  /** `from_frame`: an extension plans only the chunks after its source's frames (same boundaries as one long render). */
  | { type: 'PlanChunks'; data: { fps: number; frames_per_chunk: number; from_frame?: number; at: number } }
  | { type: 'RecordVideoChunk'; data: { index: number; blob_key: string; frames: number; collisions: Collision[]; at: number } }
  | { type: 'RecordAudioChunk'; data: { index: number; blob_key: string; samples: number; at: number } }
  /** Chunk `index`'s segment passed its own output checks: the live preview may show it (in order, from 0). */
  | { type: 'PassPreviewSegment'; data: { index: number; at: number } }
  | { type: 'RecordMux'; data: MuxedData }
  | { type: 'RecordOutputVerdict'; data: ModeratedData }
  /** A person's (or the policy default's, `by` null) decision on the case the video waits in review for. */
  | { type: 'RecordReviewDecision'; data: { case_id: string; decision: 'allow' | 'block'; by: string | null; reason: string; at: number } }
  /** The owner appeals the block of case `case_id`. */
  | { type: 'AppealBlock'; data: { case_id: string; by: string; at: number } }
  /** The decision on the appeal the video waits for: allowed, it goes on from where it was blocked. */
  | { type: 'RecordAppealDecision'; data: { case_id: string; decision: 'allow' | 'block'; by: string | null; reason: string; at: number } }
  /** `expires_at`: when the content is to be deleted (VIDEO_RETENTION_SECONDS after `at`); null or absent: kept. */
  | { type: 'CompleteVideo'; data: { at: number; expires_at?: number | null } }
  | { type: 'StopVideo'; data: { code: StopCode; message: string; at: number } }
  | { type: 'FailVideo'; data: { code: FailureCode; message: string; at: number } }
  | { type: 'CancelVideo'; data: { by: string; at: number; code?: CancelCode; message?: string } }
  | { type: 'PublishVideo'; data: { by: string; cameo_uses: { cameo_id: string; grant_revision: number }[]; at: number } }
  | { type: 'DeleteVideo'; data: { by: string; at: number } }
  | { type: 'TakeDownVideo'; data: { by: string; reason: string; at: number } }
  | { type: 'RecordRemix'; data: { child_video_id: string; by: string; at: number } }
  | { type: 'LikeVideo'; data: { user_id: string; at: number } }
  | { type: 'UnlikeVideo'; data: { user_id: string; at: number } }
  | { type: 'RecordViews'; data: { count: number; at: number } }
  /** Retention: `at` is when the retention workflow's timer fired. */
  | { type: 'ExpireContent'; data: { at: number } };

export type RefusalCode =
  | 'already_exists'
  | 'not_found'
  | 'already_finished'
  | 'wrong_stage'
  | 'not_completed'
  | 'invalid_chunk'
  | 'invalid_cameo'
  | 'video_expired'
  | 'not_in_review';

export class VideoCommandRefused extends Error {
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message);
    this.name = 'VideoCommandRefused';
  }
}

function refuse(code: RefusalCode, message: string): never {
  throw new VideoCommandRefused(code, message);
}

function requireRunning(state: VideoState, command: string): void {
  if (!state.exists) refuse('not_found', `${command}: the video was never requested`);
  if (isFinished(state)) refuse('already_finished', `${command}: the video is already ${state.status}`);
}

/**
 * Splits `seconds` of video into chunks of `framesPerChunk` frames; the last one may be shorter. With `fromFrame`
 * (an extension), only the chunks from that frame on, numbered from 0 but keeping the boundaries of the whole render,
 * so an extension renders exactly the frames the longer video would have.
 */
export function planChunks(seconds: number, fps: number, framesPerChunk: number, fromFrame = 0): ChunkPlan[] {
  const frames = seconds * fps;
  const chunks: ChunkPlan[] = [];
  for (let start = 0; start < frames; start += framesPerChunk) {
    if (start < fromFrame) continue;
    chunks.push({ index: chunks.length, start_frame: start, num_frames: Math.min(framesPerChunk, frames - start) });
  }
  return chunks;
}

/** The verdict's events: allowed, the video goes on; in review, it waits; blocked, it ends naming its case. */
function verdictEvents(stage: 'prompt' | 'output', data: ModeratedData): VideoEvent[] {
  const moderated: VideoEvent = { type: stage === 'prompt' ? 'PromptModerated' : 'OutputModerated', data } as VideoEvent;
  if (data.verdict !== 'block') return [moderated];
  return [moderated, blockedEvent(stage, data.case_id, data.reasons.join('; ') || data.categories.join(', '), data.at)];
}

function blockedEvent(stage: 'prompt' | 'output', caseId: string, why: string, at: number): VideoEvent {
  return {
    type: 'VideoBlocked',
    data: { code: 'moderation_blocked', message: `${stage} blocked by moderation (case ${caseId}): ${why}`, case_id: caseId, at },
  };
}

/** The case the video waits in review for, when it is `caseId`'s `kind` (a review, an appeal). */
function waitingFor(state: VideoState, caseId: string, kind: 'review' | 'appeal'): { stage: 'prompt' | 'output' } {
  const { moderation } = state;
  if (state.stage !== 'in_review' || !moderation || moderation.case_id !== caseId || moderation.waiting !== kind) {
    refuse('not_in_review', `the video does not wait for the ${kind} of case ${caseId} (it is at stage ${state.stage})`);
  }
  return { stage: moderation.stage };
}

export function decide(command: VideoCommand, state: VideoState): VideoEvent[] {
  switch (command.type) {
    case 'RequestVideo':
      if (state.exists) refuse('already_exists', `video ${command.data.video_id} was already requested`);
      return [{ type: 'VideoRequested', data: command.data }];

    case 'RecordPromptVerdict':
      requireRunning(state, 'RecordPromptVerdict');
      return verdictEvents('prompt', command.data);
    case 'ReserveCameo':
      requireRunning(state, 'ReserveCameo');
      if (!state.request!.cameo_ids.includes(command.data.cameo_id)) refuse('invalid_cameo', `cameo ${command.data.cameo_id} is not one the video asked for`);
      if (state.chunks.total > 0) refuse('wrong_stage', 'ReserveCameo: cameo uses are reserved before rendering is planned');
      if (state.cameoReservations.some((r) => r.cameo_id === command.data.cameo_id)) return [];
      return [{ type: 'CameoUseReserved', data: command.data }];

    case 'RecordScene':
      requireRunning(state, 'RecordScene');
      // Recorded once the chunks are planned and before any is rendered: every chunk renders the recorded scene.
      if (state.chunks.total === 0 || state.chunks.videoDone > 0)
        refuse('wrong_stage', 'RecordScene: the scene is recorded after the chunks are planned, before any is rendered');
      if (state.scene) return [];
      return [{ type: 'SceneDescribed', data: command.data }];

    case 'PlanChunks': {
      requireRunning(state, 'PlanChunks');
      if (state.chunks.total > 0) return [];
      const fromFrame = command.data.from_frame ?? 0;
      const frames = state.request!.seconds * command.data.fps;
      if (!Number.isInteger(fromFrame) || fromFrame < 0 || fromFrame % command.data.frames_per_chunk !== 0 || fromFrame >= frames) {
        refuse('invalid_chunk', `PlanChunks: from_frame ${fromFrame} is not a chunk boundary inside the video's ${frames} frames`);
      }
      const chunks = planChunks(state.request!.seconds, command.data.fps, command.data.frames_per_chunk, fromFrame);
      return [
        {
          type: 'ChunksPlanned',
          data: { total: chunks.length, fps: command.data.fps, frames, chunks, ...(fromFrame > 0 ? { from_frame: fromFrame } : {}), at: command.data.at },
        },
      ];
    }

    case 'RecordVideoChunk':
    case 'RecordAudioChunk': {
      requireRunning(state, command.type);
      const { index } = command.data;
      if (!Number.isInteger(index) || index < 0 || index >= state.chunks.total) {
        refuse('invalid_chunk', `chunk ${index} is not one of the ${state.chunks.total} planned chunks`);
      }
      if (command.type === 'RecordVideoChunk') {
        // A retried activity reports the same chunk again: record it once.
        if (state.videoChunkKeys[index] !== undefined) return [];
        return [{ type: 'VideoChunkRendered', data: command.data }];
      }
      if (state.audioChunkKeys[index] !== undefined) return [];
      return [{ type: 'AudioChunkRendered', data: command.data }];
    }

    case 'PassPreviewSegment': {
      requireRunning(state, 'PassPreviewSegment');
      const { index } = command.data;
      const passed = state.previewSegments ?? 0;
      // A retried append reports it again: recorded once.
      if (Number.isInteger(index) && index >= 0 && index < passed) return [];
      if (index !== passed) refuse('wrong_stage', `PassPreviewSegment: segment ${index} cannot pass before segment ${passed}; segments pass in order`);
      if (state.videoChunkKeys[index] === undefined || state.audioChunkKeys[index] === undefined) {
        refuse('wrong_stage', `PassPreviewSegment: chunk ${index}'s video and audio are not both recorded`);
      }
      return [{ type: 'PreviewSegmentPassed', data: command.data }];
    }

    case 'RecordMux':
      requireRunning(state, 'RecordMux');
      if (state.chunks.total === 0 || state.chunks.videoDone < state.chunks.total || state.chunks.audioDone < state.chunks.total) {
        refuse(
          'wrong_stage',
          `RecordMux: ${state.chunks.videoDone}/${state.chunks.total} video and ${state.chunks.audioDone}/${state.chunks.total} audio chunks are rendered`,
        );
      }
      if (state.content) return [];
      return [{ type: 'Muxed', data: command.data }];

    case 'RecordOutputVerdict':
      requireRunning(state, 'RecordOutputVerdict');
      if (!state.content) refuse('wrong_stage', 'RecordOutputVerdict: nothing has been muxed yet');
      return verdictEvents('output', command.data);

    case 'RecordReviewDecision': {
      requireRunning(state, 'RecordReviewDecision');
      const waiting = waitingFor(state, command.data.case_id, 'review');
      const { case_id, decision, by, reason, at } = command.data;
      const reviewed: VideoEvent = { type: 'ModerationReviewed', data: { case_id, stage: waiting.stage, decision, by, reason, at } };
      if (decision === 'allow') return [reviewed];
      const who = by === null ? "the policy's default (no moderator decided in time)" : 'a moderator';
      return [reviewed, blockedEvent(waiting.stage, case_id, `${who}: ${reason}`, at)];
    }

    case 'AppealBlock': {
      if (!state.exists) refuse('not_found', 'AppealBlock: the video was never requested');
      const { moderation } = state;
      if (state.stage !== 'blocked' || state.error?.code !== 'moderation_blocked' || !moderation || moderation.case_id !== command.data.case_id) {
        refuse('wrong_stage', `AppealBlock: the video is not blocked by case ${command.data.case_id}`);
      }
      if (moderation.appealed) refuse('wrong_stage', `AppealBlock: the block of case ${command.data.case_id} was already appealed`);
      return [{ type: 'VideoAppealed', data: { case_id: command.data.case_id, stage: moderation.stage, by: command.data.by, at: command.data.at } }];
    }

    case 'RecordAppealDecision': {
      if (!state.exists) refuse('not_found', 'RecordAppealDecision: the video was never requested');
      const waiting = waitingFor(state, command.data.case_id, 'appeal');
      return [{ type: 'ModerationReviewed', data: { ...command.data, stage: waiting.stage, appeal: true } }];
    }

    case 'CompleteVideo':
      requireRunning(state, 'CompleteVideo');
      if (!state.content || state.stage !== 'reviewing') refuse('wrong_stage', `CompleteVideo: the video is at stage ${state.stage}, not reviewed output`);
      return [{ type: 'VideoCompleted', data: command.data }];

    case 'StopVideo':
      requireRunning(state, 'StopVideo');
      return [{ type: 'VideoBlocked', data: command.data }];

    case 'FailVideo':
      if (!state.exists) refuse('not_found', 'FailVideo: the video was never requested');
      // A failure reported after the video ended (a late activity error) changes nothing.
      if (isFinished(state)) return [];
      return [{ type: 'VideoFailed', data: command.data }];

    case 'CancelVideo':
      requireRunning(state, 'CancelVideo');
      return [{ type: 'VideoCancelled', data: command.data }];

    case 'DeleteVideo':
      if (!state.exists) refuse('not_found', 'DeleteVideo: the video was never requested');
      if (state.deleted) return [];
      if (!isFinished(state)) refuse('wrong_stage', 'a video still being generated must be cancelled before it is deleted');
      return [{ type: 'VideoDeleted', data: command.data }];

    case 'PublishVideo':
      if (!state.exists) refuse('not_found', 'PublishVideo: the video was never requested');
      if (state.deleted) refuse('already_finished', 'the video was deleted');
      if (state.status !== 'completed') refuse('not_completed', `only a completed video can be published; this one is ${state.status}`);
      if (state.visibility === 'published') return [];
      if (state.visibility === 'taken_down') refuse('already_finished', 'the video was taken down');
      // Its content is gone (or going: its expires_at has passed), so there is nothing to put on the feed.
      if (isContentExpired(state, command.data.at)) refuse('video_expired', `the video's content expired at ${state.expiresAt}`);
      return [{ type: 'VideoPublished', data: command.data }];

    case 'ExpireContent':
      if (!state.exists) refuse('not_found', 'ExpireContent: the video was never requested');
      // Nothing to expire: already expired, deleted (its files went with it), published (kept), or never given an expiry.
      if (state.contentExpired || state.deleted || state.visibility === 'published' || state.status !== 'completed') return [];
      if (state.expiresAt === null || state.expiresAt === undefined) return [];
      if (command.data.at < state.expiresAt) refuse('wrong_stage', `ExpireContent: the content expires at ${state.expiresAt}, not before`);
      return [{ type: 'VideoContentExpired', data: { expires_at: state.expiresAt, at: command.data.at } }];

    case 'LikeVideo':
      if (!state.exists) refuse('not_found', 'LikeVideo: the video was never requested');
      if (state.deleted) refuse('already_finished', 'the video was deleted');
      if (state.visibility === 'taken_down') refuse('already_finished', 'the video was taken down');
      if (state.status !== 'completed') refuse('not_completed', `only a completed video can be liked; this one is ${state.status}`);
      // A second like by the same user records nothing: a like is a state, not a counter that clicks can inflate.
      if ((state.likers ?? []).includes(command.data.user_id)) return [];
      return [{ type: 'VideoLiked', data: command.data }];

    case 'UnlikeVideo':
      if (!state.exists) refuse('not_found', 'UnlikeVideo: the video was never requested');
      if (!(state.likers ?? []).includes(command.data.user_id)) return [];
      return [{ type: 'VideoUnliked', data: command.data }];

    case 'RecordViews':
      if (!state.exists) refuse('not_found', 'RecordViews: the video was never requested');
      if (!Number.isInteger(command.data.count) || command.data.count < 1) return [];
      return [{ type: 'VideoViewed', data: command.data }];

    case 'RecordRemix':
      if (!state.exists) refuse('not_found', 'RecordRemix: the video was never requested');
      if (state.status !== 'completed') refuse('not_completed', `only a completed video has remixes; this one is ${state.status}`);
      if ((state.remixes ?? []).includes(command.data.child_video_id)) return [];
      return [{ type: 'VideoRemixed', data: command.data }];

    case 'TakeDownVideo':
      if (!state.exists) refuse('not_found', 'TakeDownVideo: the video was never requested');
      if (state.visibility === 'taken_down' || state.deleted) return [];
      if (!isFinished(state)) refuse('wrong_stage', 'a video still being generated is stopped by its consent, not taken down');
      return [{ type: 'VideoTakenDown', data: command.data }];
  }
}
