// Reads of the moderation queue (moderationCases.ts): cases by status and kind, oldest first, in keyset pages.
import { DEFAULT_READMODELS_SCHEMA, quoteSchema, type SqlClient } from './store';

export interface CaseRow {
  case_id: string;
  video_id: string;
  owner_id: string | null;
  kind: 'prompt' | 'output';
  status: 'open' | 'awaiting_review' | 'escalated' | 'closed';
  verdict: string | null;
  categories: string[];
  decided_by: string | null;
  escalated: boolean;
  appealed: boolean;
  opened_at: number;
  updated_at: number;
}

export interface CaseListOptions {
  status?: CaseRow['status'];
  kind?: CaseRow['kind'];
  /** The last case id of the previous page. */
  after?: string;
  limit: number;
}

export interface ModerationCasesQuery {
  /** Cases oldest first (by when they were opened, then id); `has_more` when another page follows. */
  list(options: CaseListOptions): Promise<{ rows: CaseRow[]; hasMore: boolean }>;
}

export function createModerationCasesQuery(db: SqlClient, options: { schema?: string } = {}): ModerationCasesQuery {
  const s = quoteSchema(options.schema ?? DEFAULT_READMODELS_SCHEMA);
  return {
    async list({ status, kind, after, limit }) {
      const params: unknown[] = [];
      const where: string[] = [];
      if (status) where.push(`status = $${params.push(status)}`);
      if (kind) where.push(`kind = $${params.push(kind)}`);
      if (after) {
        const p = params.push(after);
        where.push(`(opened_at, case_id) > (SELECT opened_at, case_id FROM ${s}.moderation_cases WHERE case_id = $${p})`);
      }
      const res = await db.query<CaseRow & { opened_at: string; updated_at: string }>(
        `SELECT case_id, video_id, owner_id, kind, status, verdict, categories, decided_by, escalated, appealed, opened_at, updated_at
         FROM ${s}.moderation_cases ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY opened_at, case_id LIMIT $${params.push(limit + 1)}`,
        params,
      );
      const rows = res.rows.slice(0, limit).map((r) => ({ ...r, opened_at: Number(r.opened_at), updated_at: Number(r.updated_at) }));
      return { rows, hasMore: res.rows.length > limit };
    },
  };
}
