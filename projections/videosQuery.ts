// Reads of the videos read model for the API: one video, and a caller's videos in keyset pages on (created_at, id),
// shaped as the OpenAI Videos API's Video object plus reelforge's fields.
import { DEFAULT_READMODELS_SCHEMA, quoteSchema, type SqlClient } from './store';
import type { TimelineEntry } from '../domain/video/timeline';
import { VIDEO_COLUMNS, type VideoRow } from './videos';

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
  };
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
}

export function createVideosQuery(db: SqlClient, options: { schema?: string } = {}): VideosQuery {
  const s = quoteSchema(options.schema ?? DEFAULT_READMODELS_SCHEMA);
  return {
    async getVideo(id) {
      const res = await db.query<VideoRow>(`SELECT ${VIDEO_COLUMNS} FROM ${s}.videos WHERE id = $1 AND NOT deleted`, [id]);
      return res.rows[0] ? toApiVideo(res.rows[0]) : undefined;
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
      const data = res.rows.slice(0, limit).map(toApiVideo);
      return {
        object: 'list',
        data,
        first_id: data[0]?.id ?? null,
        last_id: data[data.length - 1]?.id ?? null,
        has_more: res.rows.length > limit,
      };
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
