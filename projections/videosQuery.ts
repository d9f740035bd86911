// Reads of the videos read model for the API: one video, and a caller's videos in keyset pages on (created_at, id),
// shaped as the OpenAI Videos API's Video object plus reelforge's fields.
import { DEFAULT_READMODELS_SCHEMA, quoteSchema, type SqlClient } from './store';
import type { TimelineEntry } from '../domain/video/timeline';
import { estimateWait, expectedFinish, renderRates, type RenderingVideo, type RenderSample } from './gpuQueue';
import { VIDEO_COLUMNS, type VideoRow } from './videos';

/** How many of the latest completed renders the estimates are measured on. */
export const RECENT_RENDERS = 20;

/** The Video object of API.md. */
export interface ApiVideo {
  id: string;
  object: 'video';
  status: VideoRow['status'];
  progress: number;
  model: string;
  prompt: string;
  /** A string, as the OpenAI Videos API answers it ("4"). */
  seconds: string;
  size: string;
  created_at: number;
  completed_at: number | null;
  /** When its content is (or was) deleted by retention; null: kept. */
  expires_at: number | null;
  error: { code: string; message: string } | null;
  remixed_from_video_id: string | null;
  stage: VideoRow['stage'];
  style: string;
  camera: string;
  seed: number;
  owner_id: string;
  cameo_uses: { cameo_id: string; grant_revision: number }[];
  visibility: VideoRow['visibility'];
  extended_from_video_id: string | null;
  chunks: { total: number; video_done: number; audio_done: number };
  /** The stages the job went through, timed by its events (domain/video/timeline.ts). */
  timeline: TimelineEntry[];
  /** While it waits for a GPU (gpuQueue.ts): 1 = the next to get one, across every user; null otherwise. */
  queue_position: number | null;
  /** Unix seconds: estimated while it waits (null without recent renders to measure), its real render start after. */
  estimated_start_at: number | null;
  /** Unix seconds: estimated until it finishes (null without data), its completed_at once completed; null if it failed or was cancelled. */
  estimated_completion_at: number | null;
  preview_url: string | null;
}

export interface VideoList {
  object: 'list';
  data: ApiVideo[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

export interface ListVideosOptions {
  ownerId: string;
  /** The id of the last video of the previous page. */
  after?: string;
  /** 1..100; default 20. */
  limit?: number;
  /** By creation time; default desc (newest first), as the OpenAI API. */
  order?: 'asc' | 'desc';
}

/** `after` names no video of this owner: the API answers 400 on the `after` parameter. */
export class InvalidCursor extends Error {
  constructor(readonly after: string) {
    super(`after=${after} is not a video in this list`);
    this.name = 'InvalidCursor';
  }
}

/**
 * The video's live preview playlist (owner only), relative to the API's base URL; null once it has nothing to show
 * (failed, blocked or cancelled).
 */
export function previewUrlOf(videoId: string, status: string): string | null {
  return status === 'failed' || status === 'cancelled' ? null : `/v1/videos/${videoId}/preview.m3u8`;
}

export function toApiVideo(row: VideoRow): ApiVideo {
  return {
    id: row.id,
    object: 'video',
    status: row.status,
    progress: row.progress,
    model: row.model,
    prompt: row.prompt,
    seconds: String(row.seconds),
    size: row.size,
    created_at: Number(row.created_at),
    completed_at: row.completed_at === null ? null : Number(row.completed_at),
    // From the folded state (rows written before retention lack the field: null).
    expires_at: row.state?.expiresAt ?? null,
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
    remixed_from_video_id: row.remixed_from_video_id,
    stage: row.stage,
    style: row.style,
    camera: row.camera,
    seed: Number(row.seed),
    owner_id: row.owner_id,
    cameo_uses: row.cameo_uses,
    visibility: row.visibility,
    extended_from_video_id: row.extended_from_video_id,
    chunks: { total: row.chunks_total, video_done: row.chunks_video_done, audio_done: row.chunks_audio_done },
    timeline: row.timeline,
    // What the row alone says; a video waiting or rendering gets its position and estimates from withQueue.
    queue_position: null,
    estimated_start_at: row.render_started_at === null ? null : Number(row.render_started_at),
    estimated_completion_at: row.status === 'completed' && row.completed_at !== null ? Number(row.completed_at) : null,
    preview_url: previewUrlOf(row.id, row.status),
  };
}

const waiting = (row: VideoRow) => row.gpu_wait_since_ms !== null;
const rendering = (row: VideoRow) => row.render_started_at !== null && row.completed_at === null;

/**
 * The rows as Videos, with the queue positions and estimates of those waiting for a GPU or rendering: one statement
 * over the read model's partial indexes (the queue ahead of each waiting row, the last RECENT_RENDERS completed renders,
 * the renders running now), and only when one of the rows needs it.
 */
async function withQueue(db: SqlClient, s: string, rows: VideoRow[], now: number): Promise<ApiVideo[]> {
  const videos = rows.map(toApiVideo);
  if (!rows.some((r) => waiting(r) || rendering(r))) return videos;
  const waitingRows = rows.filter(waiting);
  const res = await db.query<{
    queue: { id: string; ahead: number; ahead_seconds: number }[];
    recent: { seconds: number; started_at: number; completed_at: number }[];
    running: { seconds: number; started_at: number }[];
  }>(
    // The waiting rows' keys come from the rows read (not read again): a row read waiting always gets a position,
    // even if the projector moved it on between the two statements. Each tier's waiting videos in the order they
    // started waiting (rn); another tier's video is ahead of one when its turn comes sooner under weighted fair
    // dispatch (rn / weight smaller; equal, the earlier waiter): the order Temporal's fairness keys serve them in.
    `WITH mine AS (SELECT * FROM unnest($1::text[], $3::bigint[], $4::text[], $5::int[], $6::int[]) AS m(id, since, tier, weight, seconds)),
     waiting AS (
       SELECT id, gpu_wait_since_ms AS since, tier, tier_weight AS weight, seconds FROM ${s}.videos
       WHERE gpu_wait_since_ms IS NOT NULL AND NOT (id = ANY($1::text[]))
       UNION ALL SELECT id, since, tier, weight, seconds FROM mine),
     ranked AS (
       SELECT id, since, tier, weight, seconds, row_number() OVER w AS rn, sum(seconds) OVER w AS cum FROM waiting
       WINDOW w AS (PARTITION BY tier ORDER BY since, id)),
     tiers AS (SELECT tier, max(weight) AS weight, count(*) AS n FROM ranked GROUP BY tier),
     -- For each waiting row of the page and each tier: how many of that tier's waiting videos come first (k: its own
     -- tier's rank - 1; another's, the j with j * w < r * w', at most its length) and the one that ties, if any.
     pairs AS (
       SELECT me.id, me.since, t.tier,
         CASE WHEN t.tier = me.tier THEN me.rn - 1 ELSE LEAST(t.n, (me.rn * t.weight - 1) / me.weight) END AS k,
         CASE WHEN t.tier <> me.tier AND (me.rn * t.weight) % me.weight = 0 AND (me.rn * t.weight) / me.weight <= t.n
           THEN (me.rn * t.weight) / me.weight END AS tie_rn
       FROM ranked me CROSS JOIN tiers t WHERE me.id = ANY($1::text[])),
     counted AS (
       SELECT p.id,
         p.k + CASE WHEN tie.id IS NOT NULL AND (tie.since, tie.id) < (p.since, p.id) THEN 1 ELSE 0 END AS n,
         coalesce(upto.cum, 0) + CASE WHEN tie.id IS NOT NULL AND (tie.since, tie.id) < (p.since, p.id) THEN tie.seconds ELSE 0 END AS secs
       FROM pairs p
       LEFT JOIN ranked upto ON upto.tier = p.tier AND upto.rn = p.k
       LEFT JOIN ranked tie ON tie.tier = p.tier AND tie.rn = p.tie_rn)
     SELECT
       (SELECT coalesce(json_agg(json_build_object('id', a.id, 'ahead', a.n, 'ahead_seconds', a.secs)), '[]') FROM (
          SELECT id, sum(n) AS n, sum(secs) AS secs FROM counted GROUP BY id) a) AS queue,
       (SELECT coalesce(json_agg(json_build_object('seconds', r.seconds, 'started_at', r.render_started_at, 'completed_at', r.completed_at)), '[]') FROM (
          SELECT seconds, render_started_at, completed_at FROM ${s}.videos WHERE status = 'completed' AND render_started_at IS NOT NULL
          ORDER BY completed_at DESC LIMIT $2) r) AS recent,
       (SELECT coalesce(json_agg(json_build_object('seconds', g.seconds, 'started_at', g.render_started_at)), '[]') FROM ${s}.videos g
          WHERE g.render_started_at IS NOT NULL AND g.completed_at IS NULL) AS running`,
    [
      waitingRows.map((r) => r.id),
      RECENT_RENDERS,
      waitingRows.map((r) => r.gpu_wait_since_ms),
      waitingRows.map((r) => r.tier),
      waitingRows.map((r) => r.tier_weight),
      waitingRows.map((r) => r.seconds),
    ],
  );
  const { queue, recent, running } = res.rows[0]!;
  const renders: RenderingVideo[] = running.map((g) => ({ seconds: Number(g.seconds), startedAt: Number(g.started_at) }));
  const samples: RenderSample[] = recent.map((r) => ({ seconds: Number(r.seconds), startedAt: Number(r.started_at), completedAt: Number(r.completed_at) }));
  const rates = renderRates(samples, renders);
  const ahead = new Map(queue.map((q) => [q.id, q]));
  return videos.map((video, i) => {
    const row = rows[i]!;
    const place = ahead.get(row.id);
    if (place) {
      const estimate = rates && estimateWait(rates, { now, rendering: renders, aheadSeconds: Number(place.ahead_seconds), seconds: row.seconds });
      return {
        ...video,
        queue_position: Number(place.ahead) + 1,
        estimated_start_at: estimate ? estimate.startAt : null,
        estimated_completion_at: estimate ? estimate.completionAt : null,
      };
    }
    if (rendering(row) && rates) {
      const finish = expectedFinish(rates, { seconds: row.seconds, startedAt: Number(row.render_started_at) }, now);
      return { ...video, estimated_completion_at: Math.ceil(finish) };
    }
    return video;
  });
}

export interface VideosQuery {
  /** The video, or undefined when there is none or it was deleted; whether the caller may see it is the API's call. */
  getVideo(id: string): Promise<ApiVideo | undefined>;
  listVideos(options: ListVideosOptions): Promise<VideoList>;
  /**
   * The completed, not deleted video whose MP4 has this SHA-256 and that `viewer` may build on (their own, or a
   * published one; any, for `anyOwner`), their own first, then the newest; undefined when none. Identical renders
   * (the same prompt, seed and size) share a hash, hence the preference.
   */
  findVideoByContent(sha256: string, viewer: { ownerId: string; anyOwner?: boolean }): Promise<string | undefined>;
  /** How many of the owner's videos are not done yet (queued or in progress, not deleted). */
  countActiveVideos(ownerId: string): Promise<number>;
  /** Seconds of video the owner asked for since `since` (Unix seconds), failed videos left out (they delivered nothing). */
  secondsRequestedSince(ownerId: string, since: number): Promise<number>;
}

/** `now`: the clock the estimates start from (Unix seconds; tests). */
export function createVideosQuery(db: SqlClient, options: { schema?: string; now?: () => number } = {}): VideosQuery {
  const s = quoteSchema(options.schema ?? DEFAULT_READMODELS_SCHEMA);
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  return {
    async getVideo(id) {
      const res = await db.query<VideoRow>(`SELECT ${VIDEO_COLUMNS} FROM ${s}.videos WHERE id = $1 AND NOT deleted`, [id]);
      return res.rows[0] ? (await withQueue(db, s, res.rows, now()))[0] : undefined;
    },

    async listVideos({ ownerId, after, limit = 20, order = 'desc' }) {
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new RangeError(`limit must be an integer from 1 to 100, got ${limit}`);
      if (order !== 'asc' && order !== 'desc') throw new RangeError(`order must be asc or desc, got ${String(order)}`);
      const params: unknown[] = [ownerId];
      let keyset = '';
      if (after !== undefined) {
        // The cursor row is found even if it was deleted since, so a page boundary never disappears under a client.
        const cursor = await db.query<{ created_at: string; id: string }>(`SELECT created_at, id FROM ${s}.videos WHERE id = $1 AND owner_id = $2`, [
          after,
          ownerId,
        ]);
        const at = cursor.rows[0];
        if (!at) throw new InvalidCursor(after);
        params.push(at.created_at, at.id);
        keyset = `AND (created_at, id) ${order === 'asc' ? '>' : '<'} ($2::bigint, $3::text)`;
      }
      const direction = order === 'asc' ? 'ASC' : 'DESC';
      params.push(limit + 1);
      // One row more than the page tells whether there is a next page without counting.
      const res = await db.query<VideoRow>(
        `SELECT ${VIDEO_COLUMNS} FROM ${s}.videos
         WHERE owner_id = $1 AND NOT deleted ${keyset}
         ORDER BY created_at ${direction}, id ${direction}
         LIMIT $${params.length}`,
        params,
      );
      const data = await withQueue(db, s, res.rows.slice(0, limit), now());
      return {
        object: 'list',
        data,
        first_id: data[0]?.id ?? null,
        last_id: data[data.length - 1]?.id ?? null,
        has_more: res.rows.length > limit,
      };
    },

    async countActiveVideos(ownerId) {
      const res = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${s}.videos WHERE owner_id = $1 AND NOT deleted AND status IN ('queued', 'in_progress')`,
        [ownerId],
      );
      return Number(res.rows[0]?.n ?? 0);
    },
    async secondsRequestedSince(ownerId, since) {
      // Deleted videos count too: deleting one does not give back what it cost.
      const res = await db.query<{ n: string }>(
        `SELECT coalesce(sum(seconds), 0) AS n FROM ${s}.videos WHERE owner_id = $1 AND created_at >= $2 AND status <> 'failed'`,
        [ownerId, since],
      );
      return Number(res.rows[0]?.n ?? 0);
    },
    async findVideoByContent(sha256, { ownerId, anyOwner = false }) {
      const res = await db.query<{ id: string }>(
        `SELECT id FROM ${s}.videos
         WHERE content_sha256 = $1 AND NOT deleted AND status = 'completed' AND (owner_id = $2 OR visibility = 'published' OR $3)
         ORDER BY (owner_id = $2) DESC, created_at DESC, id DESC
         LIMIT 1`,
        [sha256, ownerId, anyOwner],
      );
      return res.rows[0]?.id;
    },
  };
}
