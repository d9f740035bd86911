// The Videos resource's wire shapes as TypeBox schemas (the OpenAI Video object plus reelforge's fields, list pages,
// create parameters): routes use them as their schemas, so the OpenAPI document and the serializer read one definition.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { PROMPT_MAX_CHARS, VISIBLE_TEXT_PATTERN } from '../../domain/text';

// The text forms the create parameters take, as patterns the validator (params.ts) runs and the document carries,
// so the two cannot disagree.
/** The OpenAI model names the SDKs send (with or without a snapshot date), aliases of the configured pack. */
export const MODEL_ALIAS_PATTERN = '^sora-2(?:-pro)?(?:-\\d{4}-\\d{2}-\\d{2})?$';
/** 1..20 in at most three digits ("4", "08", "012"). */
export const SECONDS_TEXT_PATTERN = '^(?:0{0,2}[1-9]|0?1[0-9]|0?20)$';
/** 0..2147483647 in at most ten digits: a seed sent as form text. */
export const SEED_TEXT_PATTERN =
  '^(?:\\d{1,9}|[01]\\d{9}|20\\d{8}|21[0-3]\\d{7}|214[0-6]\\d{6}|2147[0-3]\\d{5}|21474[0-7]\\d{4}|214748[0-2]\\d{3}|2147483[0-5]\\d{2}|21474836[0-3]\\d|214748364[0-7])$';
export const CAMEO_ID_PATTERN = '^cameo_[A-Za-z0-9]{1,64}$';
/** A base64 data URL whose first bytes are a PNG's or a JPEG's signature: the image_url form taken. */
export const IMAGE_DATA_URL_PATTERN = '^data:image/(?:png;base64,iVBORw0KGg[o-r]|jpeg;base64,/9j/)[A-Za-z0-9+/]*={0,2}$';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** Sizes the reference pack renders: the OpenAI API's four, plus smaller ones for quick drafts. */
export const VIDEO_SIZES = ['720x1280', '1280x720', '1024x1792', '1792x1024', '256x256', '512x512', '480x854', '854x480'] as const;
export const VIDEO_STYLES = ['cinematic', 'anime', 'noir'] as const;
export const CAMERA_MOVES = ['static', 'pan', 'zoom'] as const;
export const VIDEO_STATUSES = ['queued', 'in_progress', 'completed', 'failed', 'cancelled'] as const;
export const VIDEO_STAGES = ['queued', 'moderating', 'rendering', 'muxing', 'reviewing', 'in_review', 'completed', 'failed', 'cancelled', 'blocked'] as const;
export const VISIBILITIES = ['private', 'published', 'taken_down'] as const;
export const CONTENT_VARIANTS = ['video', 'thumbnail', 'spritesheet'] as const;

export { PROMPT_MAX_CHARS };
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
    ended_at: Nullable(
      Type.String({ format: 'date-time', description: 'ISO 8601 (UTC, milliseconds): when the next stage started; null while in this stage' }),
    ),
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
    expires_at: Nullable(
      Type.Integer({
        description:
          'Unix seconds: when its content (the MP4, thumbnail, spritesheet) is deleted (VIDEO_RETENTION_SECONDS after completion), or was; null: the content does not expire (no retention, or published)',
      }),
    ),
    error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
    remixed_from_video_id: Nullable(Type.String()),
    stage: StringEnum(VIDEO_STAGES, {
      description:
        'Where the job is; `in_review` while a moderator looks at its prompt or output (or at its appeal); `blocked` when moderation or consent stopped it',
    }),
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
    queue_position: Nullable(
      Type.Integer({
        minimum: 1,
        description: 'reelforge: while it waits for a GPU, its place among all videos waiting (1 = next), by when they started waiting; null otherwise',
      }),
    ),
    estimated_start_at: Nullable(
      Type.Integer({
        description: 'reelforge, Unix seconds: when it is expected to start rendering (from recent render rates; null without any), or when it did',
      }),
    ),
    estimated_completion_at: Nullable(
      Type.Integer({
        description: 'reelforge, Unix seconds: when it is expected to complete (null without recent renders), or its completed_at once completed',
      }),
    ),
    preview_url: Nullable(
      Type.String({
        description:
          "reelforge: the live preview, an HLS playlist of the segments rendered and checked so far (owner only), relative to the API's base URL; null once the video failed or was cancelled",
      }),
    ),
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

/** A video id as the API makes them. */
export const VIDEO_ID_PATTERN = '^video_[0-9a-f]{32}$';
/** A well-formed video id; anything else is answered as a video that does not exist. */
export const VIDEO_ID = new RegExp(VIDEO_ID_PATTERN);

export const ListVideosQuery = Type.Object({
  after: Type.Optional(Type.String({ pattern: VIDEO_ID_PATTERN, description: 'The last id of the previous page' })),
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

export const DeletedVideo = Type.Object({ id: Type.String(), object: Type.Literal('video.deleted'), deleted: Type.Literal(true) }, { title: 'DeletedVideo' });
export type DeletedVideo = Static<typeof DeletedVideo>;

/**
 * One event of GET /v1/videos/{id}/stream (server-sent events, each read as {event, data}): `progress` and `done`
 * carry the Video as JSON, `error` the reason the stream ended early.
 */
export const VideoStreamEvent = Type.Unsafe({
  title: 'VideoStreamEvent',
  oneOf: [
    {
      type: 'object',
      required: ['event', 'data'],
      properties: {
        event: { enum: ['progress', 'done'] },
        data: { type: 'string', contentMediaType: 'application/json', contentSchema: VideoObject, description: 'The Video, as JSON' },
      },
    },
    {
      type: 'object',
      required: ['event', 'data'],
      properties: {
        event: { const: 'error' },
        data: {
          type: 'string',
          contentMediaType: 'application/json',
          contentSchema: {
            type: 'object',
            required: ['error'],
            properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
          },
          description: 'Why the stream ended before the video finished (it was deleted, or is no longer visible), as JSON',
        },
      },
    },
  ],
});

export const VideoEventObject = Type.Object(
  {
    revision: Type.Integer({ description: "The event's revision in the `video-<id>` stream, from 0" }),
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

/** A prompt as the engine renders it (domain/text.ts); ajv checks the pattern, and a refusal names the rule broken. */
export const PromptText = (description: string) =>
  Type.String({
    minLength: 1,
    maxLength: PROMPT_MAX_CHARS,
    pattern: VISIBLE_TEXT_PATTERN,
    description: `${description}: not blank, no control characters but newline, carriage return and tab`,
  });
const Prompt = PromptText('What to render');
const Model = (modelName: string) =>
  Type.Union([Type.Literal(modelName), Type.String({ pattern: MODEL_ALIAS_PATTERN })], {
    description: `"${modelName}" (the configured model pack, the default); \`sora-2\` and \`sora-2-pro\` are aliases of it`,
  });
const CameoIds = (name: string) =>
  Type.Array(Type.String({ pattern: CAMEO_ID_PATTERN }), {
    maxItems: 4,
    uniqueItems: true,
    description: `Cameos to put into the video (each needs its owner's consent, reserved before rendering)${name}`,
  });

/**
 * POST /v1/videos as JSON and as multipart/form-data (what the OpenAI SDKs send: every field a string, the image a
 * file part), for the configured model pack. Documentation only: the handler checks both with one validator
 * (params.ts), which reads the same patterns.
 */
export const DEADLINE_DOC =
  'Unix seconds, 1 s to 24 h ahead: a job not done by then is cancelled (`error.code` `deadline_exceeded`), and one still waiting never reaches a GPU. With `Cancel-After` too, the sooner applies';

export function createVideoBodies(modelName: string) {
  const json = Type.Object(
    {
      prompt: Prompt,
      model: Type.Optional(Model(modelName)),
      seconds: Type.Optional(
        Type.Union([Type.String({ pattern: SECONDS_TEXT_PATTERN }), Type.Integer({ minimum: SECONDS_MIN, maximum: SECONDS_MAX })], { description: secondsDoc }),
      ),
      size: Type.Optional(StringEnum(VIDEO_SIZES, { default: '720x1280' })),
      style: Type.Optional(StringEnum(VIDEO_STYLES, { default: 'cinematic' })),
      camera: Type.Optional(StringEnum(CAMERA_MOVES, { default: 'static' })),
      seed: Type.Optional(Type.Integer({ minimum: 0, maximum: SEED_MAX, description: 'Random when absent; the one used is recorded and answered' })),
      cameo_ids: Type.Optional(CameoIds('')),
      publish: Type.Optional(Type.Boolean({ default: false, description: 'Publish to the feed once completed' })),
      deadline: Type.Optional(Type.Integer({ description: DEADLINE_DOC })),
      input_reference: Type.Optional(
        Type.Object(
          {
            image_url: Type.String({
              pattern: IMAGE_DATA_URL_PATTERN,
              description: 'A `data:image/png;base64,...` or `data:image/jpeg;base64,...` URL of a PNG or JPEG image',
            }),
          },
          { additionalProperties: false, description: "The scene's backdrop, as a data URL (or send it as a multipart file)" },
        ),
      ),
    },
    { title: 'CreateVideo', additionalProperties: false },
  );
  const form = Type.Object(
    {
      prompt: Prompt,
      model: Type.Optional(Model(modelName)),
      seconds: Type.Optional(Type.String({ pattern: SECONDS_TEXT_PATTERN, description: secondsDoc })),
      size: Type.Optional(StringEnum(VIDEO_SIZES)),
      style: Type.Optional(StringEnum(VIDEO_STYLES)),
      camera: Type.Optional(StringEnum(CAMERA_MOVES)),
      seed: Type.Optional(Type.String({ pattern: SEED_TEXT_PATTERN })),
      'cameo_ids[]': Type.Optional(CameoIds(' (the field repeated)')),
      publish: Type.Optional(StringEnum(['true', 'false'] as const)),
      deadline: Type.Optional(Type.String({ pattern: '^[0-9]{1,12}$', description: DEADLINE_DOC })),
      input_reference: Type.Optional(Type.String({ format: 'binary', description: 'A PNG or JPEG image (checked by its content, not its name)' })),
    },
    { title: 'CreateVideoForm', additionalProperties: false },
  );
  return { json, form };
}

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      pattern: '^[\\x21-\\x7e]{1,255}$',
      description: 'The same key with the same body answers the same video (for 24 hours); with another body, 409. 1 to 255 printable ASCII characters',
    }),
  ),
});
