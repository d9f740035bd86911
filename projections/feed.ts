// The feed read model: one row per published, not taken-down, not deleted video with what its score is computed from
// (published_at, likes, remixes; views for the record). feedQuery.ts ranks and pages it.
//
// Engagement counts move while a client walks the feed, so each like, unlike and remix is also logged with its $all
// position (feed_engagement): a walk subtracts what came after its snapshot position and ranks every page on the
// values as they were at the snapshot; the log is trimmed to what open walks can need (feedTrim.ts). Counters of videos not yet published (liked by their owner, remixed while
// private) live in feed_counters and come along when the video is published.
import type { RecordedEvent } from '../infra/eventstore/port';
import { foldingBatches, type ReadModel } from './projection';
import { quoteSchema, type SqlClient } from './store';
import { field, MalformedEvent, VIDEO_STREAM_PREFIX, videoIdOf } from './engagement';

export const FEED_READ_MODEL = 'feed';
const TYPES = new Set(['VideoRequested', 'VideoPublished', 'VideoTakenDown', 'VideoDeleted', 'VideoLiked', 'VideoUnliked', 'VideoRemixed', 'VideoViewed']);

function migrate(s: string): string {
  return `
    CREATE TABLE IF NOT EXISTS ${s}.feed_counters (
      video_id text COLLATE "C" PRIMARY KEY,
      owner_id text NOT NULL,
      created_at bigint NOT NULL,
      likes int NOT NULL DEFAULT 0,
      remixes int NOT NULL DEFAULT 0,
      views bigint NOT NULL DEFAULT 0,
      removed boolean NOT NULL DEFAULT false,
      -- The stream revision of the last event folded in: a redelivered event (revision <= this) changes nothing.
      last_revision bigint NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ${s}.feed (
      video_id text COLLATE "C" PRIMARY KEY,
      owner_id text COLLATE "C" NOT NULL,
      created_at bigint NOT NULL,
      -- data.at of VideoPublished (Unix seconds), and its $all position: a walk's snapshot boundary.
      published_at bigint NOT NULL,
      pub_commit numeric NOT NULL,
      pub_prepare bigint NOT NULL,
      likes int NOT NULL,
      remixes int NOT NULL,
      views bigint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS feed_owner ON ${s}.feed (owner_id);
    -- A walk on a precomputed ranking scores only the videos published after the ranking's snapshot (feedRanking.ts).
    CREATE INDEX IF NOT EXISTS feed_pub ON ${s}.feed (pub_commit, pub_prepare);
    CREATE TABLE IF NOT EXISTS ${s}.feed_engagement (
      commit_pos numeric NOT NULL,
      prepare_pos bigint NOT NULL,
      video_id text COLLATE "C" NOT NULL,
      likes_delta int NOT NULL,
      remixes_delta int NOT NULL,
      PRIMARY KEY (commit_pos, prepare_pos)
    );
    -- Where the feed's checkpoint stood at each trim (feedTrim.ts): once a mark is older than a cursor lives, no open
    -- walk has a snapshot before its position, so the engagement logged up to it is needed no more.
    CREATE TABLE IF NOT EXISTS ${s}.feed_walk_marks (
      at bigint NOT NULL,
      commit_pos numeric NOT NULL,
      prepare_pos bigint NOT NULL
    );`;
}

export function createFeedReadModel(): ReadModel {
  return {
    name: FEED_READ_MODEL,
    // 2: feed_walk_marks, for trimming feed_engagement. A table of an older version is rebuilt from position zero.
    version: 2,
    tables: ['feed', 'feed_counters', 'feed_engagement', 'feed_walk_marks'],
    async migrate(client: SqlClient, schema: string) {
      await client.query(migrate(quoteSchema(schema)));
    },
    handles: (type, stream) => stream.startsWith(VIDEO_STREAM_PREFIX) && TYPES.has(type),
    // A batch at once: the batch's counters read in one locked statement, its events folded in memory, then every
    // write (counters, feed rows out, in and changed, the engagement log) in one statement.
    ...foldingBatches((client, events, schema) => foldFeedBatch(client, events, quoteSchema(schema))),
  };
}

interface Counters {
  owner_id: string;
  created_at: number;
  likes: number;
  remixes: number;
  views: number;
  removed: boolean;
  last_revision: bigint;
  changed: boolean;
}

async function foldFeedBatch(client: SqlClient, events: readonly RecordedEvent[], s: string): Promise<void> {
  const ids = [...new Set(events.map(videoIdOf))].sort();
  // The counters locked in one order (concurrent writers of one video queue up rather than deadlock), with whether each
  // video is on the feed now, in one statement.
  const found = await client.query<{
    video_id: string;
    owner_id: string;
    created_at: string;
    likes: number;
    remixes: number;
    views: string;
    removed: boolean;
    last_revision: string;
    on_feed: boolean;
  }>(
    `SELECT c.video_id, c.owner_id, c.created_at, c.likes, c.remixes, c.views, c.removed, c.last_revision, f.video_id IS NOT NULL AS on_feed
     FROM ${s}.feed_counters c LEFT JOIN ${s}.feed f ON f.video_id = c.video_id
     WHERE c.video_id = ANY($1::text[]) ORDER BY c.video_id FOR UPDATE OF c`,
    [ids],
  );
  const counters = new Map<string, Counters>(
    found.rows.map((r) => [
      r.video_id,
      {
        owner_id: r.owner_id,
        created_at: Number(r.created_at),
        likes: r.likes,
        remixes: r.remixes,
        views: Number(r.views),
        removed: r.removed,
        last_revision: BigInt(r.last_revision),
        changed: false,
      },
    ]),
  );
  // A feed row is only ever made from its counters' row, so a video without counters is not on the feed.
  const onFeed = new Set(found.rows.filter((r) => r.on_feed).map((r) => r.video_id));
  const inserts = new Map<string, unknown[]>();
  const deletes = new Set<string>();
  const deltas = new Map<string, { likes: number; remixes: number; views: number }>();
  const engagement: unknown[][] = [];
  const delta = (id: string, change: { likes?: number; remixes?: number; views?: number }) => {
    if (!onFeed.has(id)) return;
    const inserted = inserts.get(id);
    if (inserted) {
      // On the feed since this batch: its row is still to be inserted, with the counts as they are then.
      inserted[6] = (inserted[6] as number) + (change.likes ?? 0);
      inserted[7] = (inserted[7] as number) + (change.remixes ?? 0);
      inserted[8] = (inserted[8] as number) + (change.views ?? 0);
      return;
    }
    const d = deltas.get(id) ?? { likes: 0, remixes: 0, views: 0 };
    deltas.set(id, { likes: d.likes + (change.likes ?? 0), remixes: d.remixes + (change.remixes ?? 0), views: d.views + (change.views ?? 0) });
  };
  for (const event of events) {
    const id = videoIdOf(event);
    const at = field(FEED_READ_MODEL, event, 'at', 'number');
    if (event.type === 'VideoRequested') {
      const owner = field(FEED_READ_MODEL, event, 'owner_id', 'string');
      if (!counters.has(id))
        counters.set(id, { owner_id: owner, created_at: at, likes: 0, remixes: 0, views: 0, removed: false, last_revision: event.revision, changed: true });
      continue;
    }
    const row = counters.get(id);
    if (!row) throw new MalformedEvent(FEED_READ_MODEL, event, `video ${id} was never requested`);
    if (row.last_revision >= event.revision) continue;
    switch (event.type) {
      case 'VideoPublished':
        if (!row.removed && !onFeed.has(id)) {
          onFeed.add(id);
          inserts.set(id, [
            id,
            row.owner_id,
            row.created_at,
            at,
            event.position.commit.toString(),
            event.position.prepare.toString(),
            row.likes,
            row.remixes,
            row.views,
          ]);
        }
        break;
      case 'VideoTakenDown':
      case 'VideoDeleted':
        row.removed = true;
        if (onFeed.delete(id) && !inserts.delete(id)) deletes.add(id);
        deltas.delete(id);
        break;
      case 'VideoViewed': {
        const count = field(FEED_READ_MODEL, event, 'count', 'number');
        row.views += count;
        delta(id, { views: count });
        break;
      }
      default: {
        field(FEED_READ_MODEL, event, event.type === 'VideoRemixed' ? 'child_video_id' : 'user_id', 'string');
        const likes = event.type === 'VideoLiked' ? 1 : event.type === 'VideoUnliked' ? -1 : 0;
        const remixes = event.type === 'VideoRemixed' ? 1 : 0;
        row.likes += likes;
        row.remixes += remixes;
        delta(id, { likes, remixes });
        engagement.push([event.position.commit.toString(), event.position.prepare.toString(), id, likes, remixes]);
      }
    }
    row.last_revision = event.revision;
    row.changed = true;
  }
  // Every write of the batch in one statement (one round trip while the transaction holds its locks). Its parts touch
  // disjoint feed rows: a row inserted here takes its counts with it, and a removed one is neither inserted nor changed.
  const writes: string[] = [];
  const params: unknown[] = [];
  const part = (name: string, sql: (p: (value: unknown) => string) => string) => {
    writes.push(`${name} AS (${sql((value) => `$${params.push(value)}`)})`);
  };
  const changed = [...counters].filter(([, c]) => c.changed);
  if (changed.length > 0) {
    const column = <T>(f: (id: string, c: Counters) => T) => changed.map(([id, c]) => f(id, c));
    part(
      'counters',
      (p) => `INSERT INTO ${s}.feed_counters (video_id, owner_id, created_at, likes, remixes, views, removed, last_revision)
       SELECT * FROM unnest(${p(column((id) => id))}::text[], ${p(column((_, c) => c.owner_id))}::text[], ${p(column((_, c) => c.created_at))}::bigint[],
         ${p(column((_, c) => c.likes))}::int[], ${p(column((_, c) => c.remixes))}::int[], ${p(column((_, c) => c.views))}::bigint[],
         ${p(column((_, c) => c.removed))}::boolean[], ${p(column((_, c) => c.last_revision.toString()))}::bigint[])
       ON CONFLICT (video_id) DO UPDATE SET likes = EXCLUDED.likes, remixes = EXCLUDED.remixes, views = EXCLUDED.views,
         removed = EXCLUDED.removed, last_revision = EXCLUDED.last_revision`,
    );
  }
  if (deletes.size > 0) part('removed', (p) => `DELETE FROM ${s}.feed WHERE video_id = ANY(${p([...deletes])}::text[])`);
  if (inserts.size > 0) {
    const rows = [...inserts.values()];
    const types = ['text', 'text', 'bigint', 'bigint', 'numeric', 'bigint', 'int', 'int', 'bigint'];
    part(
      'published',
      (p) => `INSERT INTO ${s}.feed (video_id, owner_id, created_at, published_at, pub_commit, pub_prepare, likes, remixes, views)
       SELECT * FROM unnest(${types.map((t, i) => `${p(rows.map((r) => r[i]))}::${t}[]`).join(', ')})
       ON CONFLICT (video_id) DO NOTHING`,
    );
  }
  const changes = [...deltas].filter(([, d]) => d.likes !== 0 || d.remixes !== 0 || d.views !== 0);
  if (changes.length > 0) {
    part(
      'counted',
      (p) => `UPDATE ${s}.feed f SET likes = f.likes + d.likes, remixes = f.remixes + d.remixes, views = f.views + d.views
       FROM unnest(${p(changes.map(([id]) => id))}::text[], ${p(changes.map(([, d]) => d.likes))}::int[], ${p(changes.map(([, d]) => d.remixes))}::int[],
         ${p(changes.map(([, d]) => d.views))}::bigint[]) AS d(video_id, likes, remixes, views) WHERE f.video_id = d.video_id`,
    );
  }
  if (engagement.length > 0) {
    const types = ['numeric', 'bigint', 'text', 'int', 'int'];
    part(
      'logged',
      (p) => `INSERT INTO ${s}.feed_engagement (commit_pos, prepare_pos, video_id, likes_delta, remixes_delta)
       SELECT * FROM unnest(${types.map((t, i) => `${p(engagement.map((r) => r[i]))}::${t}[]`).join(', ')}) ON CONFLICT DO NOTHING`,
    );
  }
  if (writes.length > 0) await client.query(`WITH ${writes.join(',\n')} SELECT 1`, params);
}
