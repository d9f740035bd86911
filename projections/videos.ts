// The videos read model: one row per video (status, stage, progress, chunk counts, visibility, the job's timeline),
// folded from the `video-<id>` streams with the domain's own evolve; GET /v1/videos reads it through videosQuery.ts.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { evolve, initialVideoState, type VideoEvent, type VideoEventType, type VideoState } from '../domain/video';
import { advanceTimeline, type TimelineEntry } from '../domain/video/timeline';
import type { RecordedEvent } from '../infra/eventstore/port';
import { DEFAULT_TIER } from '../infra/tiers';
import { gpuQueueColumns, type GpuQueueColumns } from './gpuQueue';
import { foldingBatches, type ReadModel } from './projection';
import { quoteSchema, type SqlClient } from './store';

export const VIDEOS_READ_MODEL = 'videos';
const STREAM_PREFIX = 'video-';
/**
 * Engagement on a video's stream, which this read model leaves alone: the counters live in the feed read model, the
 * likers in likes, the remixes in lineage. Folding them here would rewrite a video's whole row (its folded state
 * holding every liker) on each like: the hot path of a popular video, and most of the events of a store at scale.
 */
const ENGAGEMENT = new Set<string>(['VideoLiked', 'VideoUnliked', 'VideoViewed', 'VideoRemixed']);

type DataOf<K extends VideoEventType> = Extract<VideoEvent, { type: K }>['data'];

/**
 * The shape each event must have before it is folded: evolve trusts its input, and a malformed event (a chunk
 * without an index) would otherwise fold into a wrong row silently instead of being parked. The type parameter
 * makes the compiler prove that every event the domain's types allow passes its schema, so no valid event is parked.
 */
function eventSchemas<S extends { [K in VideoEventType]: TSchema }>(
  schemas: S & { [K in VideoEventType]: [DataOf<K>] extends [Static<S[K]>] ? unknown : 'rejects events that the domain type allows' },
): S {
  return schemas;
}

const At = Type.Integer({ minimum: 0, description: 'Unix seconds' });
const Id = Type.String({ minLength: 1 });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Moderated = Type.Object({
  case_id: Type.String(),
  verdict: Type.Union([Type.Literal('allow'), Type.Literal('block'), Type.Literal('review')]),
  categories: Type.Array(Type.String()),
  reasons: Type.Array(Type.String()),
  at: At,
});
const Decision = Type.Union([Type.Literal('allow'), Type.Literal('block')]);
const CaseStage = Type.Union([Type.Literal('prompt'), Type.Literal('output')]);
const ChunkIndex = Type.Integer({ minimum: 0 });

const dataSchemas = eventSchemas({
  VideoRequested: Type.Object({
    video_id: Id,
    owner_id: Id,
    prompt: Type.String(),
    model: Type.String(),
    seconds: Type.Integer({ minimum: 1 }),
    size: Type.String(),
    style: Type.String(),
    camera: Type.String(),
    seed: Type.Integer(),
    cameo_ids: Type.Array(Type.String()),
    publish: Type.Boolean(),
    remixed_from_video_id: Nullable(Type.String()),
    extended_from_video_id: Nullable(Type.String()),
    has_input_reference: Type.Boolean(),
    priority: Type.Optional(Type.Object({ tier: Type.String(), weight: Type.Number({ minimum: 0 }) })),
    at: At,
  }),
  PromptModerated: Moderated,
  ChunksPlanned: Type.Object({
    total: Type.Integer({ minimum: 0 }),
    fps: Type.Number(),
    frames: Type.Integer({ minimum: 0 }),
    chunks: Type.Array(Type.Object({ index: ChunkIndex, start_frame: Type.Integer(), num_frames: Type.Integer() })),
    from_frame: Type.Optional(Type.Integer({ minimum: 0 })),
    at: At,
  }),
  // Collisions feed the audio, not this read model: their shape is the renderer's business.
  VideoChunkRendered: Type.Object({ index: ChunkIndex, blob_key: Type.String(), frames: Type.Integer(), collisions: Type.Array(Type.Unknown()), at: At }),
  AudioChunkRendered: Type.Object({ index: ChunkIndex, blob_key: Type.String(), samples: Type.Integer(), at: At }),
  PreviewSegmentPassed: Type.Object({ index: ChunkIndex, at: At }),
  Muxed: Type.Object({
    content_key: Type.String(),
    thumbnail_key: Type.String(),
    spritesheet_key: Type.String(),
    duration_s: Type.Number(),
    bytes: Type.Integer(),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
    media_sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
    at: At,
  }),
  OutputModerated: Moderated,
  VideoCompleted: Type.Object({ at: At, expires_at: Type.Optional(Nullable(At)) }),
  // Codes as plain strings: a code the domain adds later must not park the events that carry it.
  VideoBlocked: Type.Object({ code: Type.String(), message: Type.String(), case_id: Type.Optional(Type.String()), at: At }),
  ModerationReviewed: Type.Object({
    case_id: Type.String(),
    stage: CaseStage,
    decision: Decision,
    by: Nullable(Type.String()),
    reason: Type.String(),
    appeal: Type.Optional(Type.Boolean()),
    at: At,
  }),
  VideoAppealed: Type.Object({ case_id: Type.String(), stage: CaseStage, by: Type.String(), at: At }),
  VideoFailed: Type.Object({ code: Type.String(), message: Type.String(), at: At }),
  VideoCancelled: Type.Object({ by: Type.String(), at: At, code: Type.Optional(Type.Literal('deadline_exceeded')), message: Type.Optional(Type.String()) }),
  VideoPublished: Type.Object({ by: Type.String(), cameo_uses: Type.Array(Type.Object({ cameo_id: Type.String(), grant_revision: Type.Integer() })), at: At }),
  VideoDeleted: Type.Object({ by: Type.String(), at: At }),
  CameoUseReserved: Type.Object({ cameo_id: Type.String(), basis: Type.String(), grant_revision: Type.Integer(), at: At }),
  VideoTakenDown: Type.Object({ by: Type.String(), reason: Type.String(), at: At }),
  SceneDescribed: Type.Object({
    prompt_used: Type.String(),
    seed: Type.Integer(),
    pack: Type.String(),
    width: Type.Integer(),
    height: Type.Integer(),
    bodies: Type.Array(Type.Number()),
    world: Type.Array(Type.Number()),
    ambient: Type.Array(Type.Number()),
    initial_state: Type.Array(Type.Number()),
    source: Type.Union([Type.Literal('prompt'), Type.Literal('remix'), Type.Literal('extension')]),
    at: At,
  }),
  VideoRemixed: Type.Object({ child_video_id: Type.String(), by: Type.String(), at: At }),
  VideoLiked: Type.Object({ user_id: Id, at: At }),
  VideoUnliked: Type.Object({ user_id: Id, at: At }),
  VideoViewed: Type.Object({ count: Type.Integer({ minimum: 1 }), at: At }),
  VideoContentExpired: Type.Object({ expires_at: At, at: At }),
});

const checks = new Map<string, TypeCheck<TSchema>>(Object.entries(dataSchemas).map(([type, schema]) => [type, TypeCompiler.Compile(schema as TSchema)]));

/** An event the read model refuses to fold; the runner parks it. */
export class MalformedVideoEvent extends Error {
  constructor(event: RecordedEvent, why: string) {
    super(`${event.type} at revision ${event.revision} of ${event.streamName}: ${why}`);
    this.name = 'MalformedVideoEvent';
  }
}

/** A row of the `videos` table as `pg` returns it (bigint columns come back as strings). */
export interface VideoRow {
  id: string;
  owner_id: string;
  prompt: string;
  model: string;
  seconds: number;
  size: string;
  style: string;
  camera: string;
  seed: string;
  status: VideoState['status'];
  stage: VideoState['stage'];
  progress: number;
  chunks_total: number;
  chunks_video_done: number;
  chunks_audio_done: number;
  visibility: VideoState['visibility'];
  error_code: string | null;
  error_message: string | null;
  remixed_from_video_id: string | null;
  extended_from_video_id: string | null;
  cameo_uses: { cameo_id: string; grant_revision: number }[];
  content_key: string | null;
  thumbnail_key: string | null;
  spritesheet_key: string | null;
  content_sha256: string | null;
  created_at: string;
  completed_at: string | null;
  updated_at: string;
  deleted: boolean;
  last_revision: string;
  last_position: string;
  state: VideoState;
  timeline: TimelineEntry[];
  gpu_wait_since_ms: string | null;
  render_started_at: string | null;
  tier: string;
  tier_weight: number;
}

export const VIDEO_COLUMNS = `id, owner_id, prompt, model, seconds, size, style, camera, seed, status, stage, progress, chunks_total,
  chunks_video_done, chunks_audio_done, visibility, error_code, error_message, remixed_from_video_id, extended_from_video_id,
  cameo_uses, content_key, thumbnail_key, spritesheet_key, content_sha256, created_at, completed_at, updated_at, deleted, last_revision,
  last_position, state, timeline, gpu_wait_since_ms, render_started_at, tier, tier_weight`;

function migrate(s: string): string {
  return `
    CREATE TABLE IF NOT EXISTS ${s}.videos (
      -- "C": ids are ASCII, and a byte order is the same in SQL and in JavaScript, which keyset pages rely on.
      id text COLLATE "C" PRIMARY KEY,
      owner_id text NOT NULL,
      prompt text NOT NULL,
      model text NOT NULL,
      seconds int NOT NULL,
      size text NOT NULL,
      style text NOT NULL,
      camera text NOT NULL,
      seed bigint NOT NULL,
      status text NOT NULL,
      stage text NOT NULL,
      progress int NOT NULL,
      chunks_total int NOT NULL,
      chunks_video_done int NOT NULL,
      chunks_audio_done int NOT NULL,
      visibility text NOT NULL,
      error_code text,
      error_message text,
      remixed_from_video_id text,
      extended_from_video_id text,
      cameo_uses jsonb NOT NULL,
      content_key text,
      thumbnail_key text,
      spritesheet_key text,
      -- SHA-256 (hex) of the MP4: an uploaded copy of a video's content is looked up by it (videos_content_sha256).
      content_sha256 text,
      created_at bigint NOT NULL,
      completed_at bigint,
      -- The time of the last event folded in (its data.at), not the wall clock: a rebuild must produce the same rows.
      updated_at bigint NOT NULL,
      deleted boolean NOT NULL DEFAULT false,
      -- The stream revision of the last event folded in: a redelivered event (revision <= this) changes nothing.
      last_revision bigint NOT NULL,
      last_position text NOT NULL,
      -- The folded VideoState: the next event is evolve(state, event) with the domain's evolve, as everywhere else;
      -- of the job's own events (ENGAGEMENT is not folded here), so its likes, likers, views and remixes stay empty.
      state jsonb NOT NULL,
      -- The stages the job went through, timed by the events' created times (the store's clock, so a rebuild agrees).
      timeline jsonb NOT NULL,
      -- Waiting for a GPU (gpuQueueColumns): since when (the store's time of its ChunksPlanned, ms); null otherwise.
      gpu_wait_since_ms bigint,
      -- Its first GPU output (data.at, Unix seconds): when it left the queue to render; kept once set.
      render_started_at bigint,
      -- The owner's tier when it was asked for and its GPU weight (VideoRequested's priority): its share of the queue.
      tier text NOT NULL,
      tier_weight int NOT NULL
    );
    CREATE INDEX IF NOT EXISTS videos_owner_created_id ON ${s}.videos (owner_id, created_at, id);
    CREATE INDEX IF NOT EXISTS videos_content_sha256 ON ${s}.videos (content_sha256) WHERE content_sha256 IS NOT NULL;
    -- The GPU queue in order, the recent renders and those running now: what queue positions and estimates read.
    CREATE INDEX IF NOT EXISTS videos_gpu_queue ON ${s}.videos (gpu_wait_since_ms, id) INCLUDE (seconds, tier, tier_weight) WHERE gpu_wait_since_ms IS NOT NULL;
    CREATE INDEX IF NOT EXISTS videos_recent_renders ON ${s}.videos (completed_at) WHERE status = 'completed' AND render_started_at IS NOT NULL;
    CREATE INDEX IF NOT EXISTS videos_rendering ON ${s}.videos (render_started_at) WHERE render_started_at IS NOT NULL AND completed_at IS NULL;`;
}

const UPSERT_COLUMNS = [
  'id',
  'owner_id',
  'prompt',
  'model',
  'seconds',
  'size',
  'style',
  'camera',
  'seed',
  'status',
  'stage',
  'progress',
  'chunks_total',
  'chunks_video_done',
  'chunks_audio_done',
  'visibility',
  'error_code',
  'error_message',
  'remixed_from_video_id',
  'extended_from_video_id',
  'cameo_uses',
  'content_key',
  'thumbnail_key',
  'spritesheet_key',
  'content_sha256',
  'created_at',
  'completed_at',
  'updated_at',
  'deleted',
  'last_revision',
  'last_position',
  'state',
  'timeline',
  'gpu_wait_since_ms',
  'render_started_at',
  'tier',
  'tier_weight',
] as const;

const UPSERT_ROWS = 1000;

/** An upsert of `rows` rows (each id once), their values in UPSERT_COLUMNS order one row after another. */
function upsertSql(s: string, rows = 1): string {
  const width = UPSERT_COLUMNS.length;
  const tuples = Array.from({ length: rows }, (_, r) => `(${UPSERT_COLUMNS.map((_, i) => `$${r * width + i + 1}`).join(', ')})`).join(', ');
  const updates = UPSERT_COLUMNS.filter((c) => c !== 'id')
    .map((c) => `${c} = EXCLUDED.${c}`)
    .join(', ');
  return `INSERT INTO ${s}.videos (${UPSERT_COLUMNS.join(', ')}) VALUES ${tuples} ON CONFLICT (id) DO UPDATE SET ${updates}`;
}

function rowValues(id: string, state: VideoState, timeline: readonly TimelineEntry[], queue: GpuQueueColumns, event: RecordedEvent, at: number): unknown[] {
  const request = state.request!;
  const values: Record<(typeof UPSERT_COLUMNS)[number], unknown> = {
    id,
    owner_id: request.owner_id,
    prompt: request.prompt,
    model: request.model,
    seconds: request.seconds,
    size: request.size,
    style: request.style,
    camera: request.camera,
    seed: String(request.seed),
    status: state.status,
    stage: state.stage,
    progress: state.progress,
    chunks_total: state.chunks.total,
    chunks_video_done: state.chunks.videoDone,
    chunks_audio_done: state.chunks.audioDone,
    visibility: state.visibility,
    error_code: state.error?.code ?? null,
    error_message: state.error?.message ?? null,
    remixed_from_video_id: request.remixed_from_video_id,
    extended_from_video_id: request.extended_from_video_id,
    cameo_uses: JSON.stringify(state.cameoUses),
    content_key: state.content?.contentKey ?? null,
    thumbnail_key: state.content?.thumbnailKey ?? null,
    spritesheet_key: state.content?.spritesheetKey ?? null,
    content_sha256: state.content?.sha256 ?? null,
    created_at: state.createdAt,
    completed_at: state.completedAt,
    updated_at: at,
    deleted: state.deleted,
    last_revision: event.revision.toString(),
    last_position: `${event.position.commit}/${event.position.prepare}`,
    state: JSON.stringify(state),
    timeline: JSON.stringify(timeline),
    gpu_wait_since_ms: queue.gpu_wait_since_ms,
    render_started_at: queue.render_started_at,
    // Videos asked for before tiers: the default tier, weight 1.
    tier: request.priority?.tier ?? DEFAULT_TIER,
    tier_weight: Math.max(1, Math.round(request.priority?.weight ?? 1)),
  };
  return UPSERT_COLUMNS.map((c) => values[c]);
}

/** `video-video_abc` → `video_abc`. */
export function videoIdOfStream(streamName: string): string {
  return streamName.slice(STREAM_PREFIX.length);
}

export function createVideosReadModel(): ReadModel {
  return {
    name: VIDEOS_READ_MODEL,
    // 2: the timeline column; 3: content_sha256; 4: the GPU queue columns; 5: tier and tier_weight; 6: engagement is no
    // longer folded (last_revision, updated_at and state leave likes, views and remixes out). A table of an older
    // version is rebuilt from position zero.
    version: 6,
    tables: ['videos'],

    async migrate(client: SqlClient, schema: string): Promise<void> {
      await client.query(migrate(quoteSchema(schema)));
    },

    handles(eventType: string, streamName: string): boolean {
      return streamName.startsWith(STREAM_PREFIX) && checks.has(eventType) && !ENGAGEMENT.has(eventType);
    },

    // A batch at once: every video's row read in one statement, its events folded in memory, every row written in one
    // multi-row upsert; the same rows as one event at a time (apply), in a fraction of the round trips.
    ...foldingBatches(foldInto),
  };
}

/** An event checked against its schema, as the domain's type. */
function checked(event: RecordedEvent): VideoEvent {
  const type = event.type as VideoEventType;
  const check = checks.get(type);
  if (!check) throw new MalformedVideoEvent(event, 'not an event of the video stream');
  if (!check.Check(event.data)) {
    const first = check.Errors(event.data).First();
    throw new MalformedVideoEvent(event, first ? `${first.path || 'data'}: ${first.message}` : 'data does not match the event type');
  }
  return { type, data: event.data } as VideoEvent;
}

interface Folded {
  state: VideoState;
  timeline: TimelineEntry[];
  queue: GpuQueueColumns;
  revision: bigint;
  /** The last event folded in, and its data.at. */
  last?: { event: RecordedEvent; at: number };
}

/**
 * Folds `events` (in $all order, of any videos) into their rows: the rows read with a lock (which orders concurrent
 * writers of one video, two runners during a lease hand-over), each event folded with the domain's evolve unless the
 * row already has its revision (a redelivered event changes nothing, so a chunk is never counted twice), and every
 * changed row written back in one upsert.
 */
async function foldInto(client: SqlClient, events: readonly RecordedEvent[], schema: string): Promise<void> {
  const s = quoteSchema(schema);
  const ids = [...new Set(events.map((e) => videoIdOfStream(e.streamName)))];
  const found = await client.query<{
    id: string;
    state: VideoState;
    timeline: TimelineEntry[];
    last_revision: string;
    gpu_wait_since_ms: string | null;
    render_started_at: string | null;
  }>(`SELECT id, state, timeline, last_revision, gpu_wait_since_ms, render_started_at FROM ${s}.videos WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, [
    ids,
  ]);
  const rows = new Map<string, Folded>(
    found.rows.map((r) => [
      r.id,
      {
        state: r.state,
        timeline: r.timeline,
        revision: BigInt(r.last_revision),
        queue: {
          gpu_wait_since_ms: r.gpu_wait_since_ms == null ? null : Number(r.gpu_wait_since_ms),
          render_started_at: r.render_started_at == null ? null : Number(r.render_started_at),
        },
      },
    ]),
  );
  for (const event of events) {
    const domainEvent = checked(event);
    const id = videoIdOfStream(event.streamName);
    const row = rows.get(id);
    if (row && row.revision >= event.revision) continue;
    if (!row && domainEvent.type !== 'VideoRequested') throw new MalformedVideoEvent(event, `video ${id} was never requested`);
    if (domainEvent.type === 'VideoRequested' && domainEvent.data.video_id !== id) {
      throw new MalformedVideoEvent(event, `video_id ${domainEvent.data.video_id} does not match the stream`);
    }
    const state = evolve(row ? row.state : initialVideoState, domainEvent);
    rows.set(id, {
      state,
      timeline: advanceTimeline(row ? row.timeline : [], state.stage, event.created.getTime()),
      queue: gpuQueueColumns(row?.queue ?? { gpu_wait_since_ms: null, render_started_at: null }, domainEvent, state, event.created.getTime()),
      revision: event.revision,
      last: { event, at: domainEvent.data.at },
    });
  }
  const changed = [...rows].filter(([, row]) => row.last !== undefined);
  if (changed.length === 0) return;
  // At most UPSERT_ROWS rows a statement: PostgreSQL takes up to 65,535 parameters.
  for (let from = 0; from < changed.length; from += UPSERT_ROWS) {
    const part = changed.slice(from, from + UPSERT_ROWS);
    const values = part.flatMap(([id, row]) => rowValues(id, row.state, row.timeline, row.queue, row.last!.event, row.last!.at));
    await client.query(upsertSql(s, part.length), values);
  }
}
