// The events of the `video-<id>` stream: one stream for a video's whole life, from job to result.
// Times are Unix seconds, as the Videos API reports them.

export type StopCode = 'moderation_blocked' | 'consent_missing' | 'consent_revoked';
/** Why a job was cancelled other than by its owner: its Cancel-After deadline passed. */
export type CancelCode = 'deadline_exceeded';
export type FailureCode = 'render_failed' | 'mux_failed' | 'internal_error' | 'invalid_request';

export interface VideoRequestedData {
  video_id: string;
  owner_id: string;
  prompt: string;
  model: string;
  seconds: number;
  size: string;
  style: string;
  camera: string;
  seed: number;
  cameo_ids: string[];
  publish: boolean;
  remixed_from_video_id: string | null;
  extended_from_video_id: string | null;
  has_input_reference: boolean;
  /**
   * The owner's tier when it was asked for, and that tier's GPU weight: the Temporal priority its workflow runs at,
   * and what its queue position is reckoned with. Absent on videos asked for before tiers (the default tier, weight 1).
   */
  priority?: { tier: string; weight: number };
  at: number;
}

/** One impact of the model's event track: which frame, which global audio sample, how hard. */
export interface Collision {
  frame: number;
  sample: number;
  speed: number;
  body: number;
  kind: 'floor' | 'wall' | 'body';
}

export interface ChunkPlan {
  index: number;
  start_frame: number;
  num_frames: number;
}

/** Where a video's scene came from: its own prompt, its parent's changed by a remix prompt, or its source's. */
export type SceneSource = 'prompt' | 'remix' | 'extension';

/**
 * The scene the chunks render, as numbers (the model's text graph's outputs, or a remix of them): what a remix keeps
 * and an extension continues. `initial_state` is the bodies' layout at frame 0 (x, y, vx, vy per body).
 */
export interface SceneDescribedData {
  prompt_used: string;
  seed: number;
  /** `name@version` of the pack whose graphs read these numbers. */
  pack: string;
  width: number;
  height: number;
  bodies: number[];
  world: number[];
  ambient: number[];
  initial_state: number[];
  source: SceneSource;
  at: number;
}

/**
 * The mux's result. `sha256`: of the MP4's bytes (hex), so a downloaded copy uploaded again is known; absent on videos
 * muxed before it. `media_sha256`: of the MP4 before its content credentials were signed into it: the same for the
 * same render (the signature is new each time); absent on videos muxed before credentials.
 */
export interface MuxedData {
  content_key: string;
  thumbnail_key: string;
  spritesheet_key: string;
  duration_s: number;
  bytes: number;
  sha256?: string;
  media_sha256?: string;
  at: number;
}

/**
 * A moderation case's automated verdict on the video's prompt or output: `review` sends it to a person (stage
 * `in_review`) until ModerationReviewed.
 */
export interface ModeratedData {
  case_id: string;
  verdict: 'allow' | 'block' | 'review';
  categories: string[];
  reasons: string[];
  at: number;
}

/**
 * A person's decision on the video's case (`by`: the moderator; null: the policy's default when nobody decided in
 * time). `appeal`: on the owner's appeal of a block. Allowed, the video goes on from where the case stopped it.
 */
export interface ModerationReviewedData {
  case_id: string;
  stage: 'prompt' | 'output';
  decision: 'allow' | 'block';
  by: string | null;
  reason: string;
  appeal?: boolean;
  at: number;
}

export type VideoEvent =
  | { type: 'VideoRequested'; data: VideoRequestedData }
  | { type: 'PromptModerated'; data: ModeratedData }
  /** A use of a cameo reserved on the cameo's workflow before any rendering: the consent it rests on. */
  | { type: 'CameoUseReserved'; data: { cameo_id: string; basis: string; grant_revision: number; at: number } }
  | { type: 'SceneDescribed'; data: SceneDescribedData }
  /** `from_frame`: an extension's chunks continue its source's frame numbering from there (absent: 0). */
  | { type: 'ChunksPlanned'; data: { total: number; fps: number; frames: number; chunks: ChunkPlan[]; from_frame?: number; at: number } }
  | { type: 'VideoChunkRendered'; data: { index: number; blob_key: string; frames: number; collisions: Collision[]; at: number } }
  | { type: 'AudioChunkRendered'; data: { index: number; blob_key: string; samples: number; at: number } }
  /**
   * Chunk `index`'s segment passed its own output checks while the video rendered (the flash analysis over it and the
   * segments before it, the safety classifier's scores of its frames): the live preview may show it. In order, from 0.
   */
  | { type: 'PreviewSegmentPassed'; data: { index: number; at: number } }
  /** The MP4, its thumbnail and spritesheet, and their hashes (MuxedData). */
  | { type: 'Muxed'; data: MuxedData }
  | { type: 'OutputModerated'; data: ModeratedData }
  | { type: 'ModerationReviewed'; data: ModerationReviewedData }
  /** Its owner appealed the block of case `case_id`: the video waits in `in_review` until the appeal is decided. */
  | { type: 'VideoAppealed'; data: { case_id: string; stage: 'prompt' | 'output'; by: string; at: number } }
  /** `expires_at`: when its content (every blob of it) is deleted, unless it is published first; null or absent: kept. */
  | { type: 'VideoCompleted'; data: { at: number; expires_at?: number | null } }
  /** `case_id`: the moderation case that blocked it (what an appeal names); absent for consent stops and older blocks. */
  | { type: 'VideoBlocked'; data: { code: StopCode; message: string; case_id?: string; at: number } }
  | { type: 'VideoFailed'; data: { code: FailureCode; message: string; at: number } }
  | { type: 'VideoCancelled'; data: { by: string; at: number; code?: CancelCode; message?: string } }
  | { type: 'VideoPublished'; data: { by: string; cameo_uses: { cameo_id: string; grant_revision: number }[]; at: number } }
  | { type: 'VideoDeleted'; data: { by: string; at: number } }
  /** Off the feed and not served to others: by the owner of a cameo in it, or because that cameo was deleted. */
  | { type: 'VideoTakenDown'; data: { by: string; reason: string; at: number } }
  /** On the parent's stream: a remix (or edit) of this video completed as `child_video_id`. */
  | { type: 'VideoRemixed'; data: { child_video_id: string; by: string; at: number } }
  /** Engagement, appended by the API itself once the video has finished: one like per user at a time. */
  | { type: 'VideoLiked'; data: { user_id: string; at: number } }
  | { type: 'VideoUnliked'; data: { user_id: string; at: number } }
  /** Views batched in the API: `count` distinct (viewer, window) views since the last one, never one per request. */
  | { type: 'VideoViewed'; data: { count: number; at: number } }
  /** Retention: its `expires_at` passed while it was not published; its blobs are deleted after this is recorded. */
  | { type: 'VideoContentExpired'; data: { expires_at: number; at: number } };

export type VideoEventType = VideoEvent['type'];
