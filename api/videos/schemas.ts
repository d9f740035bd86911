// The Videos resource's wire shapes as TypeBox schemas (the OpenAI Video object plus reelforge's fields, list pages,
// create parameters): routes use them as their schemas, so the OpenAPI document and the serializer read one definition.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** Sizes the reference pack renders: the OpenAI API's four, plus smaller ones for quick drafts. */
export const VIDEO_SIZES = ['720x1280', '1280x720', '1024x1792', '1792x1024', '256x256', '512x512', '480x854', '854x480'] as const;
export const VIDEO_STYLES = ['cinematic', 'anime', 'noir'] as const;
export const CAMERA_MOVES = ['static', 'pan', 'zoom'] as const;
export const VIDEO_STATUSES = ['queued', 'in_progress', 'completed', 'failed', 'cancelled'] as const;
export const VIDEO_STAGES = ['queued', 'moderating', 'rendering', 'muxing', 'reviewing', 'completed', 'failed', 'cancelled', 'blocked'] as const;
export const VISIBILITIES = ['private', 'published', 'taken_down'] as const;
export const CONTENT_VARIANTS = ['video', 'thumbnail', 'spritesheet'] as const;

export const PROMPT_MAX_CHARS = 2000;
export const SECONDS_MIN = 1;
export const SECONDS_MAX = 20;
export const DEFAULT_SECONDS = 4;
export const SEED_MAX = 2147483647;

// One `enum` rather than a union of literals: one error ("must be equal to one of the allowed values") per field.
const StringEnum = <T extends readonly string[]>(values: T, options: { description?: string; default?: T[number] } = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });

/**
 * One stage of a video job. Times are ISO 8601 strings in UTC with milliseconds (not the Unix seconds of
 * `created_at`: a stage often lasts less than a second), taken from the event store's record of the events.
 */
export const TimelineEntry = Type.Object(
  {
    stage: StringEnum(VIDEO_STAGES),
    started_at: Type.String({ format: 'date-time', description: 'ISO 8601 (UTC, milliseconds): when the event that entered the stage was recorded' }),
    ended_at: Nullable(Type.String({ format: 'date-time', description: 'ISO 8601 (UTC, milliseconds): when the next stage started; null while in this stage' })),
    duration_ms: Nullable(Type.Integer({ minimum: 0, description: 'ended_at - started_at in milliseconds; null while in this stage' })),
  },
  { title: 'TimelineEntry', description: 'Final stages (completed, failed, cancelled, blocked) start and end at once.' },
);

export const VideoObject = Type.Object(
  {
    id: Type.String({ description: '`video_` + 32 hex digits' }),
    object: Type.Literal('video'),
    status: StringEnum(VIDEO_STATUSES),
    progress: Type.Integer({ minimum: 0, maximum: 100 }),
    model: Type.String({ description: 'The model pack that renders it' }),
    prompt: Type.String(),
    seconds: Type.String({ description: 'Duration in seconds, as a string (as the OpenAI Videos API answers it)' }),
    size: Type.String({ description: 'width x height' }),
    created_at: Type.Integer({ description: 'Unix seconds' }),
    completed_at: Nullable(Type.Integer({ description: 'Unix seconds; set once it is finished' })),
    expires_at: Nullable(Type.Integer({ description: 'Unix seconds; null: the content does not expire' })),
    error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
    remixed_from_video_id: Nullable(Type.String()),
    stage: StringEnum(VIDEO_STAGES, { description: 'Where the job is; `blocked` when moderation or consent stopped it' }),
    style: Type.String(),
    camera: Type.String(),
    seed: Type.Integer({ description: 'The seed it renders with; chosen at random when the request gave none' }),
    owner_id: Type.String(),
    cameo_uses: Type.Array(Type.Object({ cameo_id: Type.String(), grant_revision: Type.Integer() })),
    visibility: StringEnum(VISIBILITIES),
    extended_from_video_id: Nullable(Type.String()),
    chunks: Type.Object({ total: Type.Integer(), video_done: Type.Integer(), audio_done: Type.Integer() }),
    timeline: Type.Array(TimelineEntry, {
      description:
        'reelforge: the stages the job went through, oldest first, each starting when the previous one ended; the last one is open (`ended_at` null) while the job runs. ' +
        'Empty until the read model has the video.',
    }),
  },
  { title: 'Video' },
);
export type VideoObject = Static<typeof VideoObject>;

export const VideoList = Type.Object(
  {
    object: Type.Literal('list'),
    data: Type.Array(VideoObject),
    first_id: Nullable(Type.String()),
    last_id: Nullable(Type.String({ description: 'Pass it as `after` for the next page' })),
    has_more: Type.Boolean(),
  },
  { title: 'VideoList' },
);
export type VideoList = Static<typeof VideoList>;

export const ListVideosQuery = Type.Object({
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'The last id of the previous page' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  order: Type.Optional(StringEnum(['asc', 'desc'] as const, { default: 'desc', description: 'By creation time' })),
});
export type ListVideosQuery = Static<typeof ListVideosQuery>;

export const VideoIdParams = Type.Object({ id: Type.String({ description: 'The video id, `video_...`' }) });
export type VideoIdParams = Static<typeof VideoIdParams>;

export const ContentQuery = Type.Object({
  variant: Type.Optional(StringEnum(CONTENT_VARIANTS, { default: 'video', description: 'The MP4, or its thumbnail or spritesheet (JPEG)' })),
});
export type ContentQuery = Static<typeof ContentQuery>;

export const DeletedVideo = Type.Object(
  { id: Type.String(), object: Type.Literal('video.deleted'), deleted: Type.Literal(true) },
  { title: 'DeletedVideo' },
);
export type DeletedVideo = Static<typeof DeletedVideo>;

export const VideoEventObject = Type.Object(
  {
    revision: Type.Integer({ description: 'The event\'s revision in the `video-<id>` stream, from 0' }),
    type: Type.String(),
    data: Type.Unknown(),
    metadata: Type.Record(Type.String(), Type.Unknown()),
    created_at: Type.Integer({ description: 'Unix seconds' }),
  },
  { title: 'VideoEvent' },
);
export const VideoEvents = Type.Array(VideoEventObject, { title: 'VideoEvents' });
export type VideoEvents = Static<typeof VideoEvents>;

const secondsDoc = 'An integer from 1 to 20, as a number or a string ("4", "8" and "12" are the OpenAI API\'s); default 4';

/** POST /v1/videos as JSON. Documentation only: the handler checks JSON and multipart with one validator (params.ts). */
export const CreateVideoJson = Type.Object(
  {
    prompt: Type.String({ minLength: 1, maxLength: PROMPT_MAX_CHARS, description: 'What to render; control characters other than newline and tab are refused' }),
    model: Type.Optional(Type.String({ description: 'The configured model pack (default); `sora-2` and `sora-2-pro` are aliases of it' })),
    seconds: Type.Optional(Type.Union([Type.String({ pattern: '^\\d{1,2}$' }), Type.Integer({ minimum: SECONDS_MIN, maximum: SECONDS_MAX })], { description: secondsDoc })),
    size: Type.Optional(StringEnum(VIDEO_SIZES, { default: '720x1280' })),
    style: Type.Optional(StringEnum(VIDEO_STYLES, { default: 'cinematic' })),
    camera: Type.Optional(StringEnum(CAMERA_MOVES, { default: 'static' })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: SEED_MAX, description: 'Random when absent; the one used is recorded and answered' })),
    cameo_ids: Type.Optional(Type.Array(Type.String(), { maxItems: 4, description: 'Cameos to put into the video (each needs its owner\'s consent, reserved before rendering)' })),
    publish: Type.Optional(Type.Boolean({ default: false, description: 'Publish to the feed once completed' })),
    input_reference: Type.Optional(
      Type.Object(
        { image_url: Type.String({ description: 'A `data:image/png;base64,...` or `data:image/jpeg;base64,...` URL' }) },
        { description: 'The scene\'s backdrop, as a data URL (or send it as a multipart file)' },
      ),
    ),
  },
  { title: 'CreateVideo', additionalProperties: false },
);

/** POST /v1/videos as multipart/form-data (what the OpenAI SDKs send): every field a string, the image a file part. */
export const CreateVideoForm = Type.Object(
  {
    prompt: Type.String({ minLength: 1, maxLength: PROMPT_MAX_CHARS }),
    model: Type.Optional(Type.String()),
    seconds: Type.Optional(Type.String({ description: secondsDoc })),
    size: Type.Optional(StringEnum(VIDEO_SIZES)),
    style: Type.Optional(StringEnum(VIDEO_STYLES)),
    camera: Type.Optional(StringEnum(CAMERA_MOVES)),
    seed: Type.Optional(Type.String({ pattern: '^\\d+$' })),
    'cameo_ids[]': Type.Optional(Type.Array(Type.String(), { maxItems: 4 })),
    publish: Type.Optional(StringEnum(['true', 'false'] as const)),
    input_reference: Type.Optional(Type.String({ format: 'binary', description: 'A PNG or JPEG image (checked by its content, not its name)' })),
  },
  { title: 'CreateVideoForm' },
);

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description: 'The same key with the same body answers the same video (for 24 hours); with another body, 409',
    }),
  ),
});
