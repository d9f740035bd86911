// Reads of the feed read model for GET /v1/feed: published, not taken-down videos ranked by
//
//   score = (1 + likes + 2 * remixes) / (hours since published + 2) ^ 1.5
//
// in cursor pages that are stable while the feed changes. The first page fixes a walk: its ranking time (now, in
// Unix seconds) and its snapshot (the feed read model's checkpoint, an $all position). Every page of the walk ranks
// only videos published at or before the snapshot, on their likes and remixes as of the snapshot (engagement logged
// after it is subtracted), at the walk's ranking time; so every video's score is frozen for the whole walk and the
// (score, id) keyset carried in the cursor returns each one exactly once. Videos published after the snapshot wait
// for the next walk; a video taken down or deleted leaves at the next page (rows removed never shift the others). A
// walk's cursors live FEED_CURSOR_TTL_SECONDS (an hour) from its first page; after that the engagement log it needs
// may be trimmed (feedTrim.ts), so an older cursor is refused (cursor_expired) rather than answered out of order.
// Once the projector has ranked the feed (feedRanking.ts), a walk takes the newest ranking: its ranking time is the
// ranking's, its pages read the ranking's table by keyset and score only the videos published after the ranking's
// snapshot (and up to the walk's), so a page costs an index range and a few minutes' worth of new videos, not the feed.
import { comparePositions, positionFromString, positionToString, START, type Position } from '../infra/eventstore/port';
import { FEED_READ_MODEL } from './feed';
import { newestRanking, rankTable, SCORED_FEED } from './feedRanking';
import { DEFAULT_READMODELS_SCHEMA, quoteSchema, readCheckpoint, type SqlClient } from './store';
import { VIDEO_COLUMNS, type VideoRow } from './videos';
import { toApiVideo, type ApiVideo } from './videosQuery';

export const FEED_SCORE_FORMULA = '(1 + likes + 2 * remixes) / (hours since published + 2) ^ 1.5';

/** The documented score, for tests and clients that want to check an order. */
export function feedScore(inputs: { likes: number; remixes: number; publishedAt: number }, rankedAtS: number): number {
  return (1 + inputs.likes + 2 * inputs.remixes) / Math.pow(Math.max(rankedAtS - inputs.publishedAt, 0) / 3600 + 2, 1.5);
}

/** How long a walk's cursors live from its first page, unless FEED_CURSOR_TTL_SECONDS says otherwise. */
export const DEFAULT_FEED_CURSOR_TTL_SECONDS = 3600;

/** `after` is a cursor of a walk that began longer ago than cursors live: a 410 suggesting a fresh walk. */
export class FeedCursorExpired extends Error {
  constructor(
    readonly walkStartedAt: number,
    readonly ttlSeconds: number,
  ) {
    super(`the feed walk this cursor belongs to began at ${new Date(walkStartedAt * 1000).toISOString()}, more than ${ttlSeconds} s ago`);
    this.name = 'FeedCursorExpired';
  }
}

/** `after` is not a cursor this API issued: a 400 naming `after`. */
export class InvalidFeedCursor extends Error {
  constructor(readonly after: string) {
    super(`after is not a feed cursor`);
    this.name = 'InvalidFeedCursor';
  }
}

interface Cursor {
  /** Ranking time, Unix seconds. */
  t: number;
  /** When the walk began (its first page), Unix seconds; absent in cursors from before rankings (then `t`). */
  w?: number;
  /** The precomputed ranking the walk reads (feedRanking.ts); absent: none, every video is scored per page. */
  r?: number;
  /** Snapshot position, "commit/prepare". */
  p: string;
  /** Score and id of the last video of the previous page. */
  s: number;
  i: string;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(after: string): { at: number; startedAt: number; ranking: number | undefined; snapshot: Position; score: number; id: string } {
  try {
    if (!/^[A-Za-z0-9_-]{1,600}$/.test(after)) throw new Error('not base64url');
    const c = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as Partial<Cursor>;
    if (!Number.isInteger(c.t) || typeof c.p !== 'string' || typeof c.s !== 'number' || !Number.isFinite(c.s) || typeof c.i !== 'string')
      throw new Error('fields');
    if ((c.w !== undefined && !Number.isInteger(c.w)) || (c.r !== undefined && !(Number.isInteger(c.r) && c.r! > 0))) throw new Error('fields');
    return { at: c.t!, startedAt: c.w ?? c.t!, ranking: c.r, snapshot: positionFromString(c.p), score: c.s, id: c.i };
  } catch {
    throw new InvalidFeedCursor(after);
  }
}

export interface FeedPageOptions {
  /** 1..100. */
  limit: number;
  /** The `last_id` of the previous page (an opaque cursor). */
  after?: string;
  /** Only these owners' videos (following=true); absent: everyone's. */
  owners?: readonly string[];
  /** The ranking time of a new walk, Unix seconds (injected by tests; the API passes the clock). */
  nowS: number;
}

export interface FeedPage {
  object: 'list';
  data: ApiVideo[];
  last_id: string | null;
  has_more: boolean;
}

export interface FeedQuery {
  page(options: FeedPageOptions): Promise<FeedPage>;
}

/** `cursorTtlSeconds`: how long a walk's cursors live from its first page (FEED_CURSOR_TTL_SECONDS); the engagement log is trimmed to it. */
export function createFeedQuery(db: SqlClient, options: { schema?: string; cursorTtlSeconds?: number } = {}): FeedQuery {
  const schema = options.schema ?? DEFAULT_READMODELS_SCHEMA;
  const ttl = options.cursorTtlSeconds ?? DEFAULT_FEED_CURSOR_TTL_SECONDS;
  const s = quoteSchema(schema);
  return {
    async page({ limit, after, owners, nowS }) {
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new RangeError(`limit must be an integer from 1 to 100, got ${limit}`);
      let at = nowS;
      let startedAt = nowS;
      let snapshot: Position;
      let ranking: { id: number; snapshot: Position } | undefined;
      let keyset: { score: number; id: string } | undefined;
      if (after !== undefined) {
        const c = decodeCursor(after);
        // The engagement this walk subtracts may have been trimmed (feedTrim.ts): its order would no longer hold.
        if (nowS - c.startedAt > ttl) throw new FeedCursorExpired(c.startedAt, ttl);
        at = c.at;
        startedAt = c.startedAt;
        snapshot = c.snapshot;
        keyset = { score: c.score, id: c.id };
        if (c.ranking !== undefined) {
          const found = await db.query<{ snap_commit: string; snap_prepare: string }>(
            `SELECT snap_commit, snap_prepare FROM ${s}.feed_rankings WHERE id = $1`,
            [c.ranking],
          );
          // Pruned: made longer ago than any walk's cursors live.
          if (!found.rows[0]) throw new FeedCursorExpired(c.startedAt, ttl);
          ranking = { id: c.ranking, snapshot: positionFromString(`${found.rows[0].snap_commit}/${found.rows[0].snap_prepare}`) };
        }
      } else {
        const stored = await readCheckpoint(db, schema, FEED_READ_MODEL);
        snapshot = stored ? positionFromString(stored.position) : START;
        const newest = await newestRanking(db, schema);
        // A ranking past the walk's snapshot (the projector ranked after this read) waits for the next walk.
        if (newest && comparePositions(newest.snapshot, snapshot) <= 0) {
          ranking = { id: newest.id, snapshot: newest.snapshot };
          at = newest.rankedAt;
        }
      }
      const params: unknown[] = [snapshot.commit.toString(), snapshot.prepare.toString(), at];
      const param = (value: unknown) => `$${params.push(value)}`;
      const ownerParam = owners ? param([...owners]) : undefined;
      const ownerFilter = (column: string) => (ownerParam ? `AND ${column} = ANY(${ownerParam}::text[])` : '');
      const keysetFilter = keyset
        ? `AND (score < ${param(keyset.score)}::float8 OR (score = $${params.length}::float8 AND video_id > ${param(keyset.id)}::text))`
        : '';
      // The ranking's videos (published at or before its snapshot), then those scored here: published after it and up to the walk's snapshot.
      const from = ranking ? ranking.snapshot : undefined;
      const tailFrom = from ? `AND (pub_commit, pub_prepare) > (${param(from.commit.toString())}::numeric, ${param(from.prepare.toString())}::bigint)` : '';
      const limitParam = param(limit + 1);
      const tail = `SELECT video_id, score FROM scored
         WHERE (pub_commit, pub_prepare) <= ($1::numeric, $2::bigint) ${tailFrom} ${ownerFilter('owner_id')} ${keysetFilter}
         ORDER BY score DESC, video_id ASC LIMIT ${limitParam}`;
      const ranked = await db.query<{ video_id: string; score: number }>(
        ranking
          ? `WITH ${SCORED_FEED(s)}
             SELECT video_id, score FROM (
               (SELECT video_id, score FROM ${rankTable(s, ranking.id)} WHERE true ${ownerFilter('owner_id')} ${keysetFilter}
                ORDER BY score DESC, video_id ASC LIMIT ${limitParam})
               UNION ALL (${tail})
             ) page ORDER BY score DESC, video_id ASC LIMIT ${limitParam}`
          : `WITH ${SCORED_FEED(s)} ${tail}`,
        params,
      );
      const page = ranked.rows.slice(0, limit);
      const rows = page.length
        ? (await db.query<VideoRow>(`SELECT ${VIDEO_COLUMNS} FROM ${s}.videos WHERE id = ANY($1::text[]) AND NOT deleted`, [page.map((r) => r.video_id)])).rows
        : [];
      const byId = new Map(rows.map((r) => [r.id, r]));
      // The videos read model has its own checkpoint: one that already saw a takedown the feed has not is believed.
      const data = page.flatMap((r) => {
        const row = byId.get(r.video_id);
        return row && row.visibility === 'published' ? [toApiVideo(row)] : [];
      });
      const last = page[page.length - 1];
      return {
        object: 'list',
        data,
        last_id: last
          ? encodeCursor({ t: at, w: startedAt, ...(ranking ? { r: ranking.id } : {}), p: positionToString(snapshot), s: Number(last.score), i: last.video_id })
          : null,
        has_more: ranked.rows.length > limit,
      };
    },
  };
}
