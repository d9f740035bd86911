// The lineage read model: one row per video with its parent edge (remixed_from_video_id, else extended_from_video_id
// of its VideoRequested), its owner, prompt and creation time. A chain of any length is walked by one recursive query
// in PostgreSQL (lineageQuery.ts), not by the API; no root or depth is stored, since a parent's row need not exist yet.
import type { RecordedEvent } from '../infra/eventstore/port';
import type { ReadModel } from './projection';
import { quoteSchema, type SqlClient } from './store';
import { field, MalformedEvent, optionalString, VIDEO_STREAM_PREFIX, videoIdOf } from './engagement';

export const LINEAGE_READ_MODEL = 'lineage';

export function createLineageReadModel(): ReadModel {
  return {
    name: LINEAGE_READ_MODEL,
    version: 1,
    tables: ['lineage'],
    async migrate(client: SqlClient, schema: string) {
      const s = quoteSchema(schema);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${s}.lineage (
          video_id text COLLATE "C" PRIMARY KEY,
          parent_id text COLLATE "C",
          -- remix | extension; null for a video made from a prompt alone.
          relation text,
          owner_id text NOT NULL,
          prompt text NOT NULL,
          created_at bigint NOT NULL
        );
        CREATE INDEX IF NOT EXISTS lineage_parent ON ${s}.lineage (parent_id, created_at, video_id);`);
    },
    handles: (type, stream) => type === 'VideoRequested' && stream.startsWith(VIDEO_STREAM_PREFIX),
    async apply(client: SqlClient, event: RecordedEvent, schema: string) {
      const s = quoteSchema(schema);
      const id = videoIdOf(event);
      if (field(LINEAGE_READ_MODEL, event, 'video_id', 'string') !== id)
        throw new MalformedEvent(LINEAGE_READ_MODEL, event, 'video_id does not match the stream');
      const owner = field(LINEAGE_READ_MODEL, event, 'owner_id', 'string');
      const prompt = (event.data as { prompt?: unknown }).prompt;
      if (typeof prompt !== 'string') throw new MalformedEvent(LINEAGE_READ_MODEL, event, 'data.prompt must be a string');
      const at = field(LINEAGE_READ_MODEL, event, 'at', 'number');
      const remixedFrom = optionalString(LINEAGE_READ_MODEL, event, 'remixed_from_video_id');
      const extendedFrom = optionalString(LINEAGE_READ_MODEL, event, 'extended_from_video_id');
      const parent = remixedFrom ?? extendedFrom;
      if (parent === id) throw new MalformedEvent(LINEAGE_READ_MODEL, event, 'a video cannot be its own parent');
      const relation = remixedFrom ? 'remix' : extendedFrom ? 'extension' : null;
      // A VideoRequested comes once per stream; DO NOTHING keeps a redelivered one from changing the row.
      await client.query(
        `INSERT INTO ${s}.lineage (video_id, parent_id, relation, owner_id, prompt, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (video_id) DO NOTHING`,
        [id, parent, relation, owner, prompt, at],
      );
    },
  };
}
