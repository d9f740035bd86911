// Precomputed feed rankings (issue 22): so that a page of GET /v1/feed does not score every published video, the
// projector ranks them all every FEED_RANKING_INTERVAL_SECONDS into a table of their own, `feed_rank_<id>`: each
// video's score at the ranking's time on its likes and remixes as of the ranking's snapshot (the feed's checkpoint
// then, engagement logged after it subtracted, as a walk does), with an index on (score DESC, video_id) and one per
// owner. A walk's first page takes the newest ranking; its pages read it by keyset (an index range, whatever the
// number of videos) and score only the videos published after the ranking's snapshot and up to the walk's own (a
// few minutes' worth, found by the feed's index on its publication position), at the ranking's time. Every video of
// the walk still has one score for the whole walk, so each is returned exactly once (feedQuery.ts). A ranking is kept
// while cursors of a walk on it may live (FEED_CURSOR_TTL_SECONDS) and then dropped with its table.
import type { PoolClient } from 'pg';
import { positionFromString, positionToString, START, type Position } from '../infra/eventstore/port';
import { FEED_READ_MODEL } from './feed';
import { quoteSchema, readCheckpoint, type SqlClient } from './store';

export interface FeedRanking {
  id: number;
  /** The time the scores are taken at, Unix seconds. */
  rankedAt: number;
  /** The feed's checkpoint the ranking was made at: it ranks the videos published at or before it. */
  snapshot: Position;
  videos: number;
}

/** The catalog of rankings; each ranking's rows live in `feed_rank_<id>`. */
export function rankingCatalogDdl(s: string): string {
  return `CREATE TABLE IF NOT EXISTS ${s}.feed_rankings (
      id bigint PRIMARY KEY,
      ranked_at bigint NOT NULL,
      snap_commit numeric NOT NULL,
      snap_prepare bigint NOT NULL,
      videos bigint NOT NULL
    )`;
}

export const rankTable = (s: string, id: number) => `${s}.feed_rank_${id}`;

/**
 * The score expression of a walk (feedQuery.ts) over `feed f` joined to `later` (engagement after the snapshot):
 * $1/$2 the snapshot position, $3 the ranking time.
 */
export const SCORED_FEED = (s: string) => `later AS (
    SELECT video_id, sum(likes_delta) AS l, sum(remixes_delta) AS r FROM ${s}.feed_engagement
    WHERE (commit_pos, prepare_pos) > ($1::numeric, $2::bigint) GROUP BY video_id
  ), scored AS (
    SELECT f.video_id, f.owner_id, f.pub_commit, f.pub_prepare,
           (1 + (f.likes - coalesce(later.l, 0)) + 2 * (f.remixes - coalesce(later.r, 0)))::float8
             / power(greatest($3::float8 - f.published_at, 0) / 3600.0 + 2, 1.5) AS score
    FROM ${s}.feed f LEFT JOIN later USING (video_id)
  )`;

/** The newest ranking, or undefined when none has been made. */
export async function newestRanking(db: SqlClient, schema: string): Promise<FeedRanking | undefined> {
  const s = quoteSchema(schema);
  const res = await db
    .query<{ id: string; ranked_at: string; snap_commit: string; snap_prepare: string; videos: string }>(
      `SELECT id, ranked_at, snap_commit, snap_prepare, videos FROM ${s}.feed_rankings ORDER BY id DESC LIMIT 1`,
    )
    .catch((err: { code?: string }) => {
      // No catalog yet: the projector has not ranked in this schema.
      if (err.code === '42P01') return { rows: [] };
      throw err;
    });
  const row = res.rows[0];
  return row ? toRanking(row) : undefined;
}

function toRanking(row: { id: string; ranked_at: string; snap_commit: string; snap_prepare: string; videos: string }): FeedRanking {
  return {
    id: Number(row.id),
    rankedAt: Number(row.ranked_at),
    snapshot: positionFromString(`${row.snap_commit}/${row.snap_prepare}`),
    videos: Number(row.videos),
  };
}

/**
 * Ranks every video on the feed now, in one transaction: the table, its indexes, then its catalog row, so a walk
 * never finds a ranking half made. Returns it.
 */
export async function refreshFeedRanking(pool: { connect(): Promise<PoolClient> }, options: { schema: string; nowS: number }): Promise<FeedRanking> {
  const s = quoteSchema(options.schema);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(rankingCatalogDdl(s));
    const checkpoint = await readCheckpoint(client, options.schema, FEED_READ_MODEL);
    const snapshot = checkpoint ? positionFromString(checkpoint.position) : START;
    const last = await client.query<{ id: string | null }>(`SELECT max(id) AS id FROM ${s}.feed_rankings`);
    const id = Number(last.rows[0]?.id ?? 0) + 1;
    const table = rankTable(s, id);
    const made = await client.query(
      `CREATE TABLE ${table} AS
       WITH ${SCORED_FEED(s)}
       SELECT video_id, owner_id, score FROM scored WHERE (pub_commit, pub_prepare) <= ($1::numeric, $2::bigint)`,
      [snapshot.commit.toString(), snapshot.prepare.toString(), options.nowS],
    );
    await client.query(`CREATE INDEX ON ${table} (score DESC, video_id)`);
    await client.query(`CREATE INDEX ON ${table} (owner_id, score DESC, video_id)`);
    await client.query(`ANALYZE ${table}`);
    const videos = made.rowCount ?? 0;
    await client.query(`INSERT INTO ${s}.feed_rankings (id, ranked_at, snap_commit, snap_prepare, videos) VALUES ($1, $2, $3, $4, $5)`, [
      id,
      options.nowS,
      snapshot.commit.toString(),
      snapshot.prepare.toString(),
      videos,
    ]);
    await client.query('COMMIT');
    return { id, rankedAt: options.nowS, snapshot, videos };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Drops the rankings no open walk can be on: made longer ago than a cursor lives (plus the interval, as a walk may
 * start on a ranking that old), always keeping the newest. Returns how many went.
 */
export async function pruneFeedRankings(db: SqlClient, options: { schema: string; nowS: number; keepSeconds: number }): Promise<number> {
  const s = quoteSchema(options.schema);
  const newest = await newestRanking(db, options.schema);
  if (!newest) return 0;
  const old = await db.query<{ id: string }>(`SELECT id FROM ${s}.feed_rankings WHERE ranked_at < $1 AND id < $2`, [
    options.nowS - options.keepSeconds,
    newest.id,
  ]);
  for (const { id } of old.rows) {
    await db.query(`DELETE FROM ${s}.feed_rankings WHERE id = $1`, [id]);
    await db.query(`DROP TABLE IF EXISTS ${rankTable(s, Number(id))}`);
  }
  return old.rows.length;
}

/**
 * The projector's ranker: a ranking every `intervalSeconds` (the first one interval after start, once the read models
 * are migrated), then the old ones pruned; a failure is
 * logged and tried again at the next. `stop()` waits for a ranking in flight.
 */
export function startFeedRanker(options: {
  pool: { connect(): Promise<PoolClient> } & SqlClient;
  schema: string;
  intervalSeconds: number;
  cursorTtlSeconds: number;
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  nowS?: () => number;
}): { stop(): Promise<void> } {
  const nowS = options.nowS ?? (() => Math.floor(Date.now() / 1000));
  let running: Promise<void> = Promise.resolve();
  const rank = () => {
    running = running.then(async () => {
      try {
        const started = Date.now();
        const ranking = await refreshFeedRanking(options.pool, { schema: options.schema, nowS: nowS() });
        const pruned = await pruneFeedRankings(options.pool, {
          schema: options.schema,
          nowS: nowS(),
          keepSeconds: options.cursorTtlSeconds + options.intervalSeconds,
        });
        options.logger.info(
          { ranking: ranking.id, videos: ranking.videos, snapshot: positionToString(ranking.snapshot), ms: Date.now() - started, pruned },
          'feed ranked',
        );
      } catch (err) {
        options.logger.warn({ err }, 'feed not ranked; trying again at the next interval');
      }
    });
  };
  const timer = setInterval(rank, options.intervalSeconds * 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
