// The follows read model (issue 22): who follows whom, from the UserFollowed and UserUnfollowed events of the `user-<id>`
// streams, so `GET /v1/feed?following=true` and the uses an unfollow may block are found without reading user streams
// per request. Consent decisions themselves (a cameo's `mutuals` permission at reservation, check and publication)
// still read the user streams, which never lag: a follow made a moment ago counts at once there.
import type { RecordedEvent } from '../infra/eventstore/port';
import { field } from './engagement';
import type { ReadModel } from './projection';
import { quoteSchema, type SqlClient } from './store';

export const FOLLOWS_READ_MODEL = 'follows';
const USER_STREAM_PREFIX = 'user-';
const TYPES = new Set(['UserFollowed', 'UserUnfollowed']);

export function createFollowsReadModel(): ReadModel {
  return {
    name: FOLLOWS_READ_MODEL,
    version: 1,
    tables: ['follows'],
    async migrate(client: SqlClient, schema: string) {
      const s = quoteSchema(schema);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${s}.follows (
          follower_id text COLLATE "C" NOT NULL,
          followee_id text COLLATE "C" NOT NULL,
          since bigint NOT NULL,
          -- The follower stream's revision of the last event folded in for this pair: a redelivered event changes nothing.
          last_revision bigint NOT NULL,
          following boolean NOT NULL,
          PRIMARY KEY (follower_id, followee_id)
        );
        CREATE INDEX IF NOT EXISTS follows_followee ON ${s}.follows (followee_id, follower_id) WHERE following;`);
    },
    handles: (type, stream) => stream.startsWith(USER_STREAM_PREFIX) && TYPES.has(type),
    async apply(client: SqlClient, event: RecordedEvent, schema: string) {
      const s = quoteSchema(schema);
      const follower = event.streamName.slice(USER_STREAM_PREFIX.length);
      const followee = field(FOLLOWS_READ_MODEL, event, 'followee_id', 'string');
      const at = field(FOLLOWS_READ_MODEL, event, 'at', 'number');
      const following = event.type === 'UserFollowed';
      // An unfollow keeps the row (following = false): a redelivered, older follow must not bring the pair back.
      await client.query(
        `INSERT INTO ${s}.follows (follower_id, followee_id, since, last_revision, following) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (follower_id, followee_id) DO UPDATE SET since = EXCLUDED.since, last_revision = EXCLUDED.last_revision, following = EXCLUDED.following
         WHERE ${s}.follows.last_revision < EXCLUDED.last_revision`,
        [follower, followee, at, event.revision.toString(), following],
      );
    },
  };
}
