// Reads of the lineage read model for GET /v1/videos/:id/lineage: a video's ancestors (its parent first, the root
// last) by one recursive query over the parent edges, and its direct children (oldest first). Entries the caller may
// not see (another user's private video, a taken-down or deleted one) are left out; the walk goes on past them.
import { DEFAULT_READMODELS_SCHEMA, quoteSchema, type SqlClient } from './store';

export interface LineageEntry {
  id: string;
  owner_id: string;
  prompt: string;
  created_at: number;
}

export interface Lineage {
  /** Nearest first: the parent, its parent, ... the root last. */
  ancestors: LineageEntry[];
  /** Direct remixes and extensions, oldest first. */
  children: LineageEntry[];
}

export interface LineageViewer {
  userId: string;
  /** Admins and auditors see every video. */
  seesAll: boolean;
}

/** Longer chains than this are cut (a guard against a cycle in corrupt data, not a limit anyone meets). */
const MAX_DEPTH = 100_000;

export function createLineageQuery(db: SqlClient, options: { schema?: string } = {}) {
  const s = quoteSchema(options.schema ?? DEFAULT_READMODELS_SCHEMA);
  const visible = `v.id IS NOT NULL AND NOT v.deleted AND ($2::boolean OR v.visibility = 'published' OR v.owner_id = $3)`;
  type Row = { video_id: string; owner_id: string; prompt: string; created_at: string };
  const entry = (r: Row): LineageEntry => ({ id: r.video_id, owner_id: r.owner_id, prompt: r.prompt, created_at: Number(r.created_at) });
  return {
    async lineage(videoId: string, viewer: LineageViewer): Promise<Lineage> {
      const params = [videoId, viewer.seesAll, viewer.userId];
      const ancestors = await db.query<Row>(
        `WITH RECURSIVE up AS (
           SELECT l.video_id, l.parent_id, l.owner_id, l.prompt, l.created_at, 1 AS n
           FROM ${s}.lineage l WHERE l.video_id = (SELECT parent_id FROM ${s}.lineage WHERE video_id = $1)
           UNION ALL
           SELECT l.video_id, l.parent_id, l.owner_id, l.prompt, l.created_at, up.n + 1
           FROM ${s}.lineage l JOIN up ON l.video_id = up.parent_id
           WHERE up.n < ${MAX_DEPTH}
         )
         SELECT up.video_id, up.owner_id, up.prompt, up.created_at FROM up LEFT JOIN ${s}.videos v ON v.id = up.video_id
         WHERE ${visible} ORDER BY up.n`,
        params,
      );
      const children = await db.query<Row>(
        `SELECT l.video_id, l.owner_id, l.prompt, l.created_at FROM ${s}.lineage l LEFT JOIN ${s}.videos v ON v.id = l.video_id
         WHERE l.parent_id = $1 AND ${visible} ORDER BY l.created_at, l.video_id`,
        params,
      );
      return { ancestors: ancestors.rows.map(entry), children: children.rows.map(entry) };
    },
  };
}

export type LineageQuery = ReturnType<typeof createLineageQuery>;
