// The likes read model: one row per (video, user) who likes it now, from VideoLiked / VideoUnliked on `video-<id>`.
import type { RecordedEvent } from '../infra/eventstore/port';
import type { ReadModel } from './projection';
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
    async apply(client: SqlClient, event: RecordedEvent, schema: string) {
      const s = quoteSchema(schema);
      const user = field(LIKES_READ_MODEL, event, 'user_id', 'string');
      const at = field(LIKES_READ_MODEL, event, 'at', 'number');
      if (event.type === 'VideoLiked') {
        await client.query(`INSERT INTO ${s}.likes (video_id, user_id, liked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [videoIdOf(event), user, at]);
      } else {
        await client.query(`DELETE FROM ${s}.likes WHERE video_id = $1 AND user_id = $2`, [videoIdOf(event), user]);
      }
    },
  };
}
