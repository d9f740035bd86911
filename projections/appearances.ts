// The cameo appearances read model: one row per (cameo, video) use, from the cameo streams' CameoUsed,
// CameoUseBlocked and CameoUsePublished events: which videos (drafts, published ones, jobs in flight) use a cameo, on
// what consent, and whether the use stands. The appearances endpoint folds the cameo stream itself (read-your-writes
// after an Update); this table is for listing across cameos and for services that read models, not streams.
import type { RecordedEvent } from '../infra/eventstore/port';
import { field } from './engagement';
import type { ReadModel } from './projection';
import { quoteSchema, type SqlClient } from './store';

export const APPEARANCES_READ_MODEL = 'cameo_appearances';
const CAMEO_STREAM_PREFIX = 'cameo-';
const TYPES = new Set(['CameoRegistered', 'CameoUsed', 'CameoUseBlocked', 'CameoUsePublished']);

export function createAppearancesReadModel(): ReadModel {
  return {
    name: APPEARANCES_READ_MODEL,
    // 2: cameo_owners, so the uses resting on a mutual follow between two users are found (followsQuery.ts).
    version: 2,
    tables: ['cameo_appearances', 'cameo_owners'],
    async migrate(client: SqlClient, schema: string) {
      const s = quoteSchema(schema);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${s}.cameo_appearances (
          cameo_id text COLLATE "C" NOT NULL,
          video_id text COLLATE "C" NOT NULL,
          user_id text COLLATE "C" NOT NULL,
          basis text NOT NULL,
          grant_revision bigint NOT NULL,
          reserved_at bigint NOT NULL,
          -- active (reserved, not yet published), blocked (consent withdrawn before publication), published
          use_status text NOT NULL,
          blocked_code text,
          changed_at bigint NOT NULL,
          PRIMARY KEY (cameo_id, video_id)
        );
        CREATE INDEX IF NOT EXISTS cameo_appearances_video ON ${s}.cameo_appearances (video_id);
        -- The uses by a user resting on a mutual follow, not yet published: what an unfollow may block.
        CREATE INDEX IF NOT EXISTS cameo_appearances_mutual_active ON ${s}.cameo_appearances (user_id) WHERE basis = 'mutuals' AND use_status = 'active';
        CREATE TABLE IF NOT EXISTS ${s}.cameo_owners (
          cameo_id text COLLATE "C" PRIMARY KEY,
          owner_id text COLLATE "C" NOT NULL
        );`);
    },
    handles: (type, stream) => stream.startsWith(CAMEO_STREAM_PREFIX) && TYPES.has(type),
    async apply(client: SqlClient, event: RecordedEvent, schema: string) {
      const s = quoteSchema(schema);
      const cameoId = event.streamName.slice(CAMEO_STREAM_PREFIX.length);
      if (event.type === 'CameoRegistered') {
        const owner = field(APPEARANCES_READ_MODEL, event, 'owner_id', 'string');
        await client.query(`INSERT INTO ${s}.cameo_owners (cameo_id, owner_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [cameoId, owner]);
        return;
      }
      const video = field(APPEARANCES_READ_MODEL, event, 'video_id', 'string');
      const at = field(APPEARANCES_READ_MODEL, event, 'at', 'number');
      if (event.type === 'CameoUsed') {
        const user = field(APPEARANCES_READ_MODEL, event, 'user_id', 'string');
        const basis = field(APPEARANCES_READ_MODEL, event, 'basis', 'string');
        const grantRevision = field(APPEARANCES_READ_MODEL, event, 'grant_revision', 'number');
        // The decider records one use per video: a second CameoUsed for it (a replay) changes nothing.
        await client.query(
          `INSERT INTO ${s}.cameo_appearances (cameo_id, video_id, user_id, basis, grant_revision, reserved_at, use_status, blocked_code, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, 'active', NULL, $6) ON CONFLICT DO NOTHING`,
          [cameoId, video, user, basis, grantRevision, at],
        );
      } else if (event.type === 'CameoUseBlocked') {
        const code = field(APPEARANCES_READ_MODEL, event, 'code', 'string');
        await client.query(
          `UPDATE ${s}.cameo_appearances SET use_status = 'blocked', blocked_code = $3, changed_at = $4 WHERE cameo_id = $1 AND video_id = $2`,
          [cameoId, video, code, at],
        );
      } else {
        await client.query(`UPDATE ${s}.cameo_appearances SET use_status = 'published', changed_at = $3 WHERE cameo_id = $1 AND video_id = $2`, [
          cameoId,
          video,
          at,
        ]);
      }
    },
  };
}
