// Trimming the feed's engagement log (issue 22). A walk of the feed subtracts the likes and remixes logged after its
// snapshot (feed_engagement), so the log must keep every row after the snapshot of any walk still open; a walk's
// cursor lives FEED_CURSOR_TTL_SECONDS from its first page (feedQuery.ts answers an older one `cursor_expired`).
// Each trim records where the feed's checkpoint stands now (a mark); a walk opened after a mark's time has a snapshot
// at or past the mark's position, as the checkpoint only moves forward. So once a mark is older than a cursor lives,
// every open walk began after it, and the rows at or before its position can go, with the marks before it.
import { positionFromString } from '../infra/eventstore/port';
import { FEED_READ_MODEL } from './feed';
import { quoteSchema, readCheckpoint, type SqlClient } from './store';

export interface FeedTrimResult {
  /** Engagement rows deleted. */
  deleted: number;
  /** The position they were deleted up to ("commit/prepare"), or null when no mark was old enough yet. */
  upTo: string | null;
}

export async function trimFeedEngagement(db: SqlClient, options: { schema: string; nowS: number; cursorTtlSeconds: number }): Promise<FeedTrimResult> {
  const s = quoteSchema(options.schema);
  const checkpoint = await readCheckpoint(db, options.schema, FEED_READ_MODEL);
  if (checkpoint) {
    const at = positionFromString(checkpoint.position);
    await db.query(`INSERT INTO ${s}.feed_walk_marks (at, commit_pos, prepare_pos) VALUES ($1, $2, $3)`, [
      options.nowS,
      at.commit.toString(),
      at.prepare.toString(),
    ]);
  }
  // The newest mark no open walk began before: older than a cursor lives.
  const old = await db.query<{ at: string; commit_pos: string; prepare_pos: string }>(
    `SELECT at, commit_pos, prepare_pos FROM ${s}.feed_walk_marks WHERE at < $1 ORDER BY at DESC, commit_pos DESC, prepare_pos DESC LIMIT 1`,
    [options.nowS - options.cursorTtlSeconds],
  );
  const mark = old.rows[0];
  if (!mark) return { deleted: 0, upTo: null };
  const deleted = await db.query(`DELETE FROM ${s}.feed_engagement WHERE (commit_pos, prepare_pos) <= ($1::numeric, $2::bigint)`, [
    mark.commit_pos,
    mark.prepare_pos,
  ]);
  await db.query(`DELETE FROM ${s}.feed_walk_marks WHERE at < $1`, [mark.at]);
  return { deleted: deleted.rowCount ?? 0, upTo: `${mark.commit_pos}/${mark.prepare_pos}` };
}

/**
 * The projector's trimmer: a trim every quarter of the cursor lifetime (at most every 5 minutes, at least every 15 s),
 * each one's failure logged and tried again at the next. `stop()` waits for a trim in flight.
 */
export function startFeedTrimmer(options: {
  db: SqlClient;
  schema: string;
  cursorTtlSeconds: number;
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  nowS?: () => number;
}): { stop(): Promise<void> } {
  const nowS = options.nowS ?? (() => Math.floor(Date.now() / 1000));
  const everyMs = Math.min(300, Math.max(15, Math.floor(options.cursorTtlSeconds / 4))) * 1000;
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(async () => {
      try {
        const result = await trimFeedEngagement(options.db, { schema: options.schema, nowS: nowS(), cursorTtlSeconds: options.cursorTtlSeconds });
        if (result.deleted > 0) options.logger.info({ deleted: result.deleted, upTo: result.upTo }, 'feed engagement log trimmed');
      } catch (err) {
        options.logger.warn({ err }, 'feed engagement log not trimmed; trying again later');
      }
    });
  }, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
