// The likes read model: one row per (video, user) who likes it now, from VideoLiked / VideoUnliked on `video-<id>`.
import type { RecordedEvent } from '../infra/eventstore/port';
import { foldingBatches, type ReadModel } from './projection';
import { quoteSchema, type SqlClient } from './store';
import { field, VIDEO_STREAM_PREFIX, videoIdOf } from './engagement';

export const LIKES_READ_MODEL = 'likes';
const TYPES = new Set(['VideoLiked', 'VideoUnliked']);

export function createLikesReadModel(): ReadModel {
  return {
    name: LIKES_READ_MODEL,
    version: 1,
    tables: ['likes'],
    async migrate(client: SqlClient, schema: string) {
      const s = quoteSchema(schema);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${s}.likes (
          video_id text COLLATE "C" NOT NULL,
          user_id text COLLATE "C" NOT NULL,
          -- data.at of the VideoLiked, not the wall clock: a rebuild produces the same rows.
          liked_at bigint NOT NULL,
          PRIMARY KEY (video_id, user_id)
        );
        CREATE INDEX IF NOT EXISTS likes_user ON ${s}.likes (user_id, video_id);`);
    },
    handles: (type, stream) => stream.startsWith(VIDEO_STREAM_PREFIX) && TYPES.has(type),
    // A batch at once: its likes and unlikes folded per (video, user) in memory, then at most three statements.
    ...foldingBatches((client, events, schema) => foldLikes(client, events, quoteSchema(schema))),
  };
}

/** Where a batch leaves one (video, user): liked or not, and whether an unlike came first (a row then starts anew). */
interface Net {
  video: string;
  user: string;
  liked: boolean;
  /** data.at of the first like since the batch's last unlike (a repeated like keeps the first, as the table does). */
  at: number | null;
  unlikedInBatch: boolean;
}

/**
 * The rows one event at a time would leave: a like inserts unless the row is there (keeping its liked_at), an unlike
 * deletes. Per (video, user) only the batch's net effect is written: gone, inserted if missing, or (an unlike, then a
 * like) replaced with the new liked_at.
 */
async function foldLikes(client: SqlClient, events: readonly RecordedEvent[], s: string): Promise<void> {
  const nets = new Map<string, Net>();
  for (const event of events) {
    const video = videoIdOf(event);
    const user = field(LIKES_READ_MODEL, event, 'user_id', 'string');
    const at = field(LIKES_READ_MODEL, event, 'at', 'number');
    const key = `${video} ${user}`;
    const net = nets.get(key) ?? { video, user, liked: false, at: null, unlikedInBatch: false };
    if (event.type === 'VideoLiked') {
      if (!net.liked) net.at = at;
      net.liked = true;
    } else {
      net.liked = false;
      net.at = null;
      net.unlikedInBatch = true;
    }
    nets.set(key, net);
  }
  const all = [...nets.values()];
  const gone = all.filter((n) => !n.liked);
  const added = all.filter((n) => n.liked && !n.unlikedInBatch);
  const renewed = all.filter((n) => n.liked && n.unlikedInBatch);
  const columns = (rows: Net[]) => [rows.map((n) => n.video), rows.map((n) => n.user), rows.map((n) => n.at)];
  if (gone.length > 0) {
    await client.query(
      `DELETE FROM ${s}.likes l USING unnest($1::text[], $2::text[]) AS g(video_id, user_id) WHERE l.video_id = g.video_id AND l.user_id = g.user_id`,
      [gone.map((n) => n.video), gone.map((n) => n.user)],
    );
  }
  if (added.length > 0) {
    await client.query(
      `INSERT INTO ${s}.likes (video_id, user_id, liked_at) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING`,
      columns(added),
    );
  }
  if (renewed.length > 0) {
    await client.query(
      `INSERT INTO ${s}.likes (video_id, user_id, liked_at) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
       ON CONFLICT (video_id, user_id) DO UPDATE SET liked_at = EXCLUDED.liked_at`,
      columns(renewed),
    );
  }
}
