// The feed, lineage, likes and cameo appearances read models, run by the ProjectionRunner against the embedded PostgreSQL with events
// written straight to the event store: stable feed walks while videos are published and liked, takedowns, the
// documented score, 1,000-level lineage, poison parked per read model, and a projector killed mid-burst that ends
// identical to a rebuild from zero.
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { planChunks, type VideoEvent } from '../../domain/video';
import { comparePositions, positionFromString, type Position } from '../../infra/eventstore/port';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { createLogger } from '../../infra/logger';
import type { PgPool } from '../../infra/postgres/pool';
import { createFeedQuery, FeedCursorExpired, feedScore, InvalidFeedCursor } from '../../projections/feedQuery';
import { newestRanking, pruneFeedRankings, refreshFeedRanking } from '../../projections/feedRanking';
import { trimFeedEngagement } from '../../projections/feedTrim';
import { createLineageQuery } from '../../projections/lineageQuery';
import { createReadModels } from '../../projections/readModels';
import type { ReadModel } from '../../projections/projection';
import { rebuild } from '../../projections/rebuild';
import { ProjectionRunner } from '../../projections/runner';
import { listParked, readCheckpoint } from '../../projections/store';
import { startRole } from '../support/processes';
import { eventually, testEnv } from '../support/env';
import { useProjectionHarness } from '../support/projectionHarness';
import { videoRequest } from '../support/videos';

const silent = createLogger({ level: 'silent', name: 'feed-test' });
const suffix = randomUUID().replace(/-/g, '').slice(0, 10);
const harness = useProjectionHarness('feed', { poolMax: 12 });
const { freshSchema, gates } = harness;
let store: PgEventStore;
let esSchema: string;
let pool: PgPool;
let appName: string;
beforeEach(() => {
  ({ store, esSchema, pool, appName } = harness.current());
});

const runner = (schema: string, readModels: ReadModel[] = createReadModels()): ProjectionRunner => harness.runner({ schema, readModels });

const newVideoId = () => `video_${randomBytes(16).toString('hex')}`;
const BASE = 1_760_000_000;
let head: Position | undefined;

async function append(videoId: string, events: VideoEvent[]): Promise<Position> {
  const position = await harness.appendVideo(videoId, events, { actor: 'test' });
  if (!head || comparePositions(position, head) > 0) head = position;
  return position;
}

function requested(videoId: string, ownerId: string, at: number, parent: { remix?: string; extend?: string } = {}): VideoEvent {
  return {
    type: 'VideoRequested',
    data: {
      ...videoRequest(`balls bouncing in a ${videoId.slice(-4)} room`, {
        video_id: videoId,
        owner_id: ownerId,
        seconds: 1,
        seed: at % 1000,
        publish: true,
        remixed_from_video_id: parent.remix ?? null,
        extended_from_video_id: parent.extend ?? null,
        at,
      }),
    },
  };
}

/** A whole generation, completed (and published at `publishedAt` when given): 9 events as the workflows record them. */
function story(videoId: string, ownerId: string, at: number, publishedAt?: number): VideoEvent[] {
  const events: VideoEvent[] = [
    requested(videoId, ownerId, at),
    { type: 'PromptModerated', data: { case_id: `case_${videoId}`, verdict: 'allow', categories: [], reasons: [], at: at + 1 } },
    { type: 'ChunksPlanned', data: { total: 1, fps: 24, frames: 24, chunks: planChunks(1, 24, 24), at: at + 2 } },
    { type: 'VideoChunkRendered', data: { index: 0, blob_key: `v/${videoId}/0`, frames: 24, collisions: [], at: at + 3 } },
    { type: 'AudioChunkRendered', data: { index: 0, blob_key: `a/${videoId}/0`, samples: 16000, at: at + 3 } },
    { type: 'Muxed', data: { content_key: 'c.mp4', thumbnail_key: 't.jpg', spritesheet_key: 's.jpg', duration_s: 1, bytes: 1000, at: at + 4 } },
    { type: 'OutputModerated', data: { case_id: `case2_${videoId}`, verdict: 'allow', categories: [], reasons: [], at: at + 5 } },
    { type: 'VideoCompleted', data: { at: at + 6 } },
  ];
  if (publishedAt !== undefined) events.push({ type: 'VideoPublished', data: { by: ownerId, cameo_uses: [], at: publishedAt } });
  return events;
}

const like = (user_id: string, at: number): VideoEvent => ({ type: 'VideoLiked', data: { user_id, at } });
const unlike = (user_id: string, at: number): VideoEvent => ({ type: 'VideoUnliked', data: { user_id, at } });
const takedown = (at: number): VideoEvent => ({ type: 'VideoTakenDown', data: { by: 'user_cameo_owner', reason: 'cameo owner asked', at } });
const remixed = (child: string, by: string, at: number): VideoEvent => ({ type: 'VideoRemixed', data: { child_video_id: child, by, at } });

/** Every row of a table as sorted JSON text: equal read models give equal lists. */
async function tableRows(schema: string, table: string): Promise<string[]> {
  const res = await pool.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM "${schema}"."${table}" t`);
  return res.rows.map((r) => r.row).sort();
}

/** `count` fresh schemas, each holding the read model's empty tables. */
async function migratedSchemas(model: ReadModel, count: number): Promise<string[]> {
  const schemas = Array.from({ length: count }, () => freshSchema('rm'));
  for (const schema of schemas) {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await model.migrate(pool, schema);
  }
  return schemas;
}

describe('feed read model', () => {
  it('walks the feed from the first page to the last returning each eligible video exactly once while 300 videos are published across 10 users, likes arrive and videos are taken down', async () => {
    const schema = freshSchema('rm');
    const r = runner(schema);
    await r.start();
    const users = Array.from({ length: 10 }, (_, i) => `user_${i}_${suffix}`);
    const rankAt = BASE + 40 * 3600;
    const likes = new Map<string, number>();
    const publishedAt = new Map<string, number>();

    // Before the walk: 150 published videos (some liked), 10 of them taken down.
    const before = Array.from({ length: 150 }, (_, i) => ({ id: newVideoId(), owner: users[i % 10]!, at: BASE + i * 600 }));
    await Promise.all(
      before.map(async (v, i) => {
        const likers = users.slice(0, i % 7);
        publishedAt.set(v.id, v.at + 10);
        likes.set(v.id, likers.length);
        await append(v.id, [...story(v.id, v.owner, v.at, v.at + 10), ...likers.map((u, k) => like(u, v.at + 20 + k))]);
      }),
    );
    const takenBefore = new Set(before.filter((_, i) => i % 15 === 3).map((v) => v.id));
    for (const id of takenBefore) await append(id, [takedown(BASE + 100_000)]);
    await r.waitFor(head!, { timeoutMs: 60000 });

    // During the walk, after each page: 10 more videos published, likes on earlier ones, and a takedown.
    const during = Array.from({ length: 150 }, (_, i) => ({ id: newVideoId(), owner: users[(i * 3) % 10]!, at: BASE + 200_000 + i * 60 }));
    const stillUp = before.filter((v) => !takenBefore.has(v.id));
    const takenDuring: { id: string; afterPage: number }[] = [];
    let step = 0;
    async function writeMore(page: number): Promise<void> {
      const batch = during.slice(step * 10, step * 10 + 10);
      const target = stillUp[(step * 37) % stillUp.length]!;
      step++;
      await Promise.all(batch.map((v) => append(v.id, story(v.id, v.owner, v.at, v.at + 10))));
      // Likes that would lift low-ranked videos to the top if the walk ranked on live counts.
      for (const v of stillUp.slice(-3 - step, -step))
        await append(
          v.id,
          users
            .filter((u) => !likes.has(`${v.id} ${u}`))
            .slice(0, 1)
            .map((u) => like(`${u}_late${step}`, BASE + 300_000)),
        );
      if (!takenDuring.some((t) => t.id === target.id)) {
        await append(target.id, [takedown(BASE + 300_000 + step)]);
        takenDuring.push({ id: target.id, afterPage: page });
      }
      await r.waitFor(head!, { timeoutMs: 60000 });
    }

    const query = createFeedQuery(pool, { schema });
    const pages: string[][] = [];
    let after: string | undefined;
    for (;;) {
      // nowS moves on between pages, as the clock does: the walk keeps its own ranking time.
      const page = await query.page({ limit: 7, after, nowS: rankAt + pages.length * 60 });
      pages.push(page.data.map((v) => v.id));
      for (const v of page.data) expect(v).toMatchObject({ object: 'video', visibility: 'published', status: 'completed' });
      if (!page.has_more) break;
      after = page.last_id!;
      if (step < 15) await writeMore(pages.length - 1);
    }
    expect(step).toBe(15);
    const seen = pages.flat();
    expect(new Set(seen).size).toBe(seen.length);
    // Exactly the videos eligible at the first page, less those taken down before their page came.
    const duringIds = new Set(during.map((v) => v.id));
    for (const id of seen) {
      expect(duringIds.has(id)).toBe(false);
      expect(takenBefore.has(id)).toBe(false);
    }
    const taken = new Map(takenDuring.map((t) => [t.id, t.afterPage]));
    for (const v of stillUp) if (!taken.has(v.id)) expect(seen).toContain(v.id);
    pages.forEach((ids, p) => {
      for (const id of ids) if (taken.has(id)) expect(p).toBeLessThanOrEqual(taken.get(id)!);
    });
    // In the documented order, on the counts as of the first page.
    const expected = stillUp
      .map((v) => ({ id: v.id, score: feedScore({ likes: likes.get(v.id)!, remixes: 0, publishedAt: publishedAt.get(v.id)! }, rankAt) }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
      .map((v) => v.id);
    expect(seen).toEqual(expected.filter((id) => seen.includes(id)));

    // A new walk sees the videos published since, and none taken down.
    const fresh: string[] = [];
    after = undefined;
    for (;;) {
      const page = await query.page({ limit: 100, after, nowS: rankAt + 3600 });
      fresh.push(...page.data.map((v) => v.id));
      if (!page.has_more) break;
      after = page.last_id!;
    }
    expect(new Set(fresh)).toEqual(new Set([...stillUp.map((v) => v.id).filter((id) => !taken.has(id)), ...during.map((v) => v.id)]));

    // following: only the given owners.
    const mine = await query.page({ limit: 100, owners: [users[0]!, users[3]!], nowS: rankAt });
    expect(mine.data.length).toBeGreaterThan(0);
    for (const v of mine.data) expect([users[0], users[3]]).toContain(v.owner_id);
    expect((await query.page({ limit: 5, owners: [], nowS: rankAt })).data).toEqual([]);
    await expect(query.page({ limit: 5, after: 'not-a-cursor!', nowS: rankAt })).rejects.toBeInstanceOf(InvalidFeedCursor);
    await expect(query.page({ limit: 5, after: Buffer.from('{"t":1}').toString('base64url'), nowS: rankAt })).rejects.toBeInstanceOf(InvalidFeedCursor);
    await expect(query.page({ limit: 101, nowS: rankAt })).rejects.toBeInstanceOf(RangeError);
  });

  it('trims the engagement log to what open walks can need; a cursor older than cursors live is refused, a fresh walk ranks on the full counts', async () => {
    const schema = freshSchema('rm');
    const r = runner(schema);
    await r.start();
    const ttl = 600;
    const T = BASE + 50 * 3600;
    const owner = `user_trim_${suffix}`;
    const videos = [newVideoId(), newVideoId(), newVideoId()];
    // Published an hour before T, equally old: the order is by likes (then id).
    await Promise.all(
      videos.map((id, i) => append(id, [...story(id, owner, T - 3700, T - 3600), ...Array.from({ length: i }, (_, k) => like(`user_early_${k}`, T - 3000))])),
    );
    await r.waitFor(head!, { timeoutMs: 60000 });
    const logRows = async () => Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".feed_engagement`)).rows[0]!.n);
    expect(await logRows()).toBe(3);

    const query = createFeedQuery(pool, { schema, cursorTtlSeconds: ttl });
    const first = await query.page({ limit: 1, nowS: T });
    expect(first.data.map((v) => v.id)).toEqual([videos[2]]);
    // The first trim only marks where the checkpoint stands: no mark is older than a cursor lives yet.
    expect(await trimFeedEngagement(pool, { schema, nowS: T, cursorTtlSeconds: ttl })).toEqual({ deleted: 0, upTo: null });

    // Likes after the walk's snapshot: 5 on the last video, enough to lead a fresh walk.
    await append(
      videos[0]!,
      Array.from({ length: 5 }, (_, k) => like(`user_late_${k}`, T + 10)),
    );
    await r.waitFor(head!, { timeoutMs: 60000 });
    expect(await logRows()).toBe(8);

    // Within its life the walk goes on in its own order, on the counts at its snapshot.
    const second = await query.page({ limit: 5, after: first.last_id!, nowS: T + ttl - 1 });
    expect(second.data.map((v) => v.id)).toEqual([videos[1], videos[0]]);

    // A trim past the walk's life deletes what was logged up to the first mark, and no more.
    const trimmed = await trimFeedEngagement(pool, { schema, nowS: T + ttl + 1, cursorTtlSeconds: ttl });
    expect(trimmed.deleted).toBe(3);
    expect(await logRows()).toBe(5);
    await expect(query.page({ limit: 5, after: first.last_id!, nowS: T + ttl + 1 })).rejects.toBeInstanceOf(FeedCursorExpired);
    // A fresh walk ranks on the feed's own counts, which never depended on the log.
    const fresh = await query.page({ limit: 5, nowS: T + ttl + 1 });
    expect(fresh.data.map((v) => v.id)).toEqual([videos[0], videos[2], videos[1]]);
  });

  it('folds a batch at once (applyBatch) into exactly the tables one event at a time (apply) leaves: publishes, likes, views, remixes, takedowns, redeliveries', async () => {
    const ids = Array.from({ length: 8 }, () => newVideoId());
    const T = BASE + 70 * 3600;
    for (const [i, id] of ids.entries()) {
      const events = story(id, `user_fb${i % 3}`, T + i, i % 4 === 3 ? undefined : T + 10 + i);
      events.push(like('user_x', T + 20), like('user_y', T + 21), { type: 'VideoViewed', data: { count: 3, at: T + 22 } });
      if (i % 2 === 0) events.push(unlike('user_x', T + 23), remixed(newVideoId(), 'user_z', T + 24));
      if (i === 5) events.push(takedown(T + 30), like('user_w', T + 31));
      await append(id, events);
    }
    const recorded = (await Promise.all(ids.map((id) => store.readStream(`video-${id}`)))).flat();
    const inOrder = recorded.sort((a, b) => comparePositions(a.position, b.position));
    const model = createReadModels().find((m) => m.name === 'feed')!;
    // What the runner gives it: the events it handles, in $all order; some twice, as after a rewound checkpoint.
    const handled = inOrder.filter((e) => model.handles(e.type, e.streamName));
    const delivered = [...handled.slice(0, 30), ...handled.slice(20)];
    const [one, batch] = (await migratedSchemas(model, 2)) as [string, string];
    for (const event of delivered) await model.apply(pool, event, one);
    for (let from = 0; from < delivered.length; from += 17) await model.applyBatch!(pool, delivered.slice(from, from + 17), batch);
    for (const table of ['feed', 'feed_counters', 'feed_engagement'])
      expect({ table, rows: await tableRows(batch, table) }).toEqual({ table, rows: await tableRows(one, table) });
    expect((await tableRows(one, 'feed')).length).toBe(5);
  });

  it('folds likes a batch at once (applyBatch) into exactly the rows one event at a time (apply) leaves: relikes, unlike then like, redeliveries', async () => {
    const ids = Array.from({ length: 4 }, () => newVideoId());
    const T = BASE + 71 * 3600;
    for (const [i, id] of ids.entries()) {
      await append(id, [
        ...story(id, `user_lb${i}`, T + i, T + 10 + i),
        like('user_p', T + 20),
        like('user_q', T + 21),
        // A like repeated (the API refuses it; a redelivery or another writer might not): liked_at stays the first.
        like('user_p', T + 22),
        unlike('user_q', T + 23),
        // Liked again after an unlike: the row starts anew, with the new liked_at.
        like('user_q', T + 24 + i),
        like('user_r', T + 25),
        unlike('user_r', T + 26),
      ]);
    }
    const recorded = (await Promise.all(ids.map((id) => store.readStream(`video-${id}`)))).flat();
    const model = createReadModels().find((m) => m.name === 'likes')!;
    const handled = recorded.sort((a, b) => comparePositions(a.position, b.position)).filter((e) => model.handles(e.type, e.streamName));
    expect(handled).toHaveLength(28);
    const delivered = [...handled.slice(0, 15), ...handled.slice(9)];
    const [one, batch, all] = (await migratedSchemas(model, 3)) as [string, string, string];
    // One event at a time, then in batches of 5 and of everything, cut across the redelivery.
    for (const event of delivered) await model.apply(pool, event, one);
    for (let from = 0; from < delivered.length; from += 5) await model.applyBatch!(pool, delivered.slice(from, from + 5), batch);
    expect(await tableRows(batch, 'likes')).toEqual(await tableRows(one, 'likes'));
    await model.applyBatch!(pool, delivered, all);
    expect(await tableRows(all, 'likes')).toEqual(await tableRows(one, 'likes'));
    const rows = await pool.query<{ user_id: string; liked_at: string }>(`SELECT user_id, liked_at FROM "${one}".likes WHERE video_id = $1 ORDER BY user_id`, [
      ids[2],
    ]);
    expect(rows.rows).toEqual([
      { user_id: 'user_p', liked_at: String(T + 20) },
      { user_id: 'user_q', liked_at: String(T + 26) },
    ]);
  });

  it('reads a precomputed ranking: each eligible video once, ranked videos by the ranking, newer ones scored per page, while rankings are remade and pruned', async () => {
    const schema = freshSchema('rm');
    const r = runner(schema);
    await r.start();
    const T = BASE + 60 * 3600;
    const users = Array.from({ length: 4 }, (_, i) => `user_rank${i}_${suffix}`);
    // 40 videos published before the ranking, liked unevenly.
    const old = Array.from({ length: 40 }, (_, i) => ({ id: newVideoId(), owner: users[i % 4]!, publishedAt: T - 7200 + i * 60, likes: (i * 7) % 11 }));
    await Promise.all(
      old.map((v) =>
        append(v.id, [
          ...story(v.id, v.owner, v.publishedAt - 100, v.publishedAt),
          ...Array.from({ length: v.likes }, (_, k) => like(`user_a${k}`, v.publishedAt + 5)),
        ]),
      ),
    );
    await r.waitFor(head!, { timeoutMs: 60000 });
    const ranking = await refreshFeedRanking(pool, { schema, nowS: T });
    expect(ranking).toMatchObject({ id: 1, rankedAt: T, videos: 40 });
    expect((await newestRanking(pool, schema))?.id).toBe(1);

    // After the ranking: likes that would reorder the ranked videos on live counts, and 10 new videos (not ranked yet).
    for (const v of old.slice(30))
      await append(
        v.id,
        Array.from({ length: 20 }, (_, k) => like(`user_b${k}`, T + 10)),
      );
    const fresh = Array.from({ length: 10 }, (_, i) => ({ id: newVideoId(), owner: users[i % 4]!, publishedAt: T + 60 + i }));
    await Promise.all(fresh.map((v) => append(v.id, story(v.id, v.owner, v.publishedAt - 10, v.publishedAt))));
    await r.waitFor(head!, { timeoutMs: 60000 });

    // A walk on ranking 1: the old videos by their ranked scores (likes as of the ranking), the new ones scored at the
    // ranking's time on their counts at the walk's snapshot, merged in one order; a ranking made mid-walk changes nothing.
    const query = createFeedQuery(pool, { schema });
    const cursors: string[] = [];
    const walk = async (owners?: string[]) => {
      const ids: string[] = [];
      let after: string | undefined;
      for (let page = 0; ; page++) {
        const got = await query.page({ limit: 6, nowS: T + 120 + page, ...(after ? { after } : {}), ...(owners ? { owners } : {}) });
        ids.push(...got.data.map((v) => v.id));
        if (got.last_id) cursors.push(got.last_id);
        if (page === 1 && !owners) {
          await refreshFeedRanking(pool, { schema, nowS: T + 200 });
          await append(old[0]!.id, [like('user_c', T + 201)]);
          await r.waitFor(head!, { timeoutMs: 60000 });
        }
        if (!got.has_more) break;
        after = got.last_id!;
      }
      return ids;
    };
    const expected = (owners?: string[]) =>
      [
        ...old.map((v) => ({ ...v, score: feedScore({ likes: v.likes, remixes: 0, publishedAt: v.publishedAt }, T) })),
        ...fresh.map((v) => ({ ...v, score: feedScore({ likes: 0, remixes: 0, publishedAt: v.publishedAt }, T) })),
      ]
        .filter((v) => !owners || owners.includes(v.owner))
        .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
        .map((v) => v.id);
    const everyone = await walk();
    const onFirstRanking = cursors[0]!;
    expect(new Set(everyone).size).toBe(everyone.length);
    expect(everyone).toEqual(expected());
    expect((await newestRanking(pool, schema))?.id).toBe(2);

    // following=true on a ranking: only the followees' videos, in the same order.
    const followees = [users[1]!, users[3]!];
    expect(await walk(followees)).toEqual(
      // A walk starting now takes ranking 2 (made at T + 200, the later likes counted): its own order.
      [...old.map((v) => ({ ...v, likes: v.likes + (old.indexOf(v) >= 30 ? 20 : 0) })), ...fresh.map((v) => ({ ...v, likes: 0 }))]
        .filter((v) => followees.includes(v.owner))
        .map((v) => ({ id: v.id, score: feedScore({ likes: v.likes, remixes: 0, publishedAt: v.publishedAt }, T + 200) }))
        .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
        .map((v) => v.id),
    );

    // Pruning drops rankings older than a walk's cursors live, never the newest; a cursor on a dropped one has expired.
    const first = await createFeedQuery(pool, { schema, cursorTtlSeconds: 600 }).page({ limit: 2, nowS: T + 300 });
    expect(await pruneFeedRankings(pool, { schema, nowS: T + 10_000, keepSeconds: 660 })).toBe(1);
    expect((await newestRanking(pool, schema))?.id).toBe(2);
    expect(await pruneFeedRankings(pool, { schema, nowS: T + 20_000, keepSeconds: 660 })).toBe(0);
    const tables = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'feed_rank\\_%'`, [
      schema,
    ]);
    expect(tables.rows[0]!.n).toBe(1);
    const ttlQuery = createFeedQuery(pool, { schema, cursorTtlSeconds: 600 });
    await expect(ttlQuery.page({ limit: 2, after: first.last_id!, nowS: T + 301 })).resolves.toMatchObject({ object: 'list' });
    await expect(ttlQuery.page({ limit: 2, after: onFirstRanking, nowS: T + 130 })).rejects.toBeInstanceOf(FeedCursorExpired);
  });

  it('ranks by (1 + likes + 2·remixes) / (hours since published + 2)^1.5 at the injected time, ties by id', async () => {
    const schema = freshSchema('rm');
    const r = runner(schema);
    await r.start();
    const now = BASE + 100 * 3600;
    // [hours before now, likes, remixes]
    const shapes: [number, number, number][] = [
      [1, 0, 0],
      [1, 5, 0],
      [30, 40, 3],
      [0.5, 0, 1],
      [72, 100, 10],
      [10, 2, 2],
      [10, 2, 2],
      [5, 1, 0],
    ];
    const videos = shapes.map(([hours, likeCount, remixCount], i) => ({
      id: newVideoId(),
      owner: `user_r${i}`,
      publishedAt: now - Math.round(hours * 3600),
      likeCount,
      remixCount,
    }));
    for (const v of videos) {
      const events = story(v.id, v.owner, v.publishedAt - 100, v.publishedAt);
      for (let k = 0; k < v.likeCount; k++) events.push(like(`user_l${k}`, v.publishedAt + 1));
      // One remix taken back as a like (unlike) keeps the count honest.
      events.push(like('user_fickle', v.publishedAt + 2), unlike('user_fickle', v.publishedAt + 3));
      for (let k = 0; k < v.remixCount; k++) events.push(remixed(newVideoId(), `user_m${k}`, v.publishedAt + 4));
      await append(v.id, events);
    }
    await r.waitFor(head!, { timeoutMs: 30000 });
    const page = await createFeedQuery(pool, { schema }).page({ limit: 100, nowS: now });
    const expected = videos
      .map((v) => ({ id: v.id, score: feedScore({ likes: v.likeCount, remixes: v.remixCount, publishedAt: v.publishedAt }, now) }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
    expect(page.data.map((v) => v.id)).toEqual(expected.map((v) => v.id));
    expect(page.has_more).toBe(false);
    const row = (await pool.query(`SELECT likes, remixes FROM "${schema}".feed WHERE video_id = $1`, [videos[4]!.id])).rows[0];
    expect(row).toEqual({ likes: 100, remixes: 10 });
    expect((await pool.query(`SELECT count(*)::int AS n FROM "${schema}".likes WHERE video_id = $1`, [videos[4]!.id])).rows[0]).toEqual({ n: 100 });
  });

  it('answers the lineage of a video 1,000 levels deep: ancestors parent first, root last; children oldest first', async () => {
    const schema = freshSchema('rm');
    const r = runner(schema);
    await r.start();
    const chain = Array.from({ length: 1001 }, () => newVideoId());
    const owner = `user_deep_${suffix}`;
    // One append per level would take a while; the events are independent streams, appended 50 at a time.
    for (let i = 0; i < chain.length; i += 50) {
      await Promise.all(
        chain
          .slice(i, i + 50)
          .map((id, k) =>
            append(id, [requested(id, owner, BASE + i + k, i + k === 0 ? {} : (i + k) % 2 ? { remix: chain[i + k - 1]! } : { extend: chain[i + k - 1]! })]),
          ),
      );
    }
    const sibling = newVideoId();
    await append(sibling, [requested(sibling, owner, BASE + 5000, { remix: chain[500]! })]);
    await r.waitFor(head!, { timeoutMs: 60000 });

    const query = createLineageQuery(pool, { schema });
    const started = Date.now();
    const deepest = await query.lineage(chain[1000]!, { userId: owner, seesAll: false });
    const tookMs = Date.now() - started;
    expect(deepest.ancestors).toHaveLength(1000);
    expect(deepest.ancestors.map((a) => a.id)).toEqual(chain.slice(0, 1000).reverse());
    expect(deepest.ancestors[0]).toEqual({
      id: chain[999],
      owner_id: owner,
      prompt: `balls bouncing in a ${chain[999]!.slice(-4)} room`,
      created_at: BASE + 999,
    });
    expect(deepest.children).toEqual([]);
    expect(tookMs).toBeLessThan(2000);
    const middle = await query.lineage(chain[500]!, { userId: owner, seesAll: false });
    expect(middle.ancestors).toHaveLength(500);
    expect(middle.children.map((c) => c.id)).toEqual([chain[501], sibling]);
    expect((await pool.query(`SELECT parent_id, relation FROM "${schema}".lineage WHERE video_id = $1`, [chain[1000]])).rows[0]).toEqual({
      parent_id: chain[999],
      relation: 'extension',
    });
    // Another user sees none of these private videos.
    expect(await query.lineage(chain[1000]!, { userId: 'user_stranger', seesAll: false })).toEqual({ ancestors: [], children: [] });
  });

  it('parks an event that is poison to the feed for the feed only, and goes on', async () => {
    const schema = freshSchema('rm');
    const r = runner(schema);
    await r.start();
    const id = newVideoId();
    await append(id, story(id, 'user_p', BASE, BASE + 10));
    // Valid to the videos read model (a string), not to the feed (an empty child id names no video).
    const poison = await append(id, [remixed('', 'user_x', BASE + 20)]);
    await append(id, [like('user_q', BASE + 30)]);
    await r.waitFor(head!, { timeoutMs: 30000 });
    const parked = await listParked(pool, schema, 'feed');
    expect(parked).toEqual([expect.objectContaining({ type: 'VideoRemixed', stream: `video-${id}`, revision: 9n })]);
    expect(parked[0]!.position).toBe(`${poison.commit}/${poison.prepare}`);
    for (const other of ['videos', 'lineage', 'likes']) expect(await listParked(pool, schema, other)).toEqual([]);
    expect((await pool.query(`SELECT likes, remixes FROM "${schema}".feed WHERE video_id = $1`, [id])).rows[0]).toEqual({ likes: 1, remixes: 0 });
    const statuses = await r.status();
    for (const s of statuses) expect(s).toMatchObject({ phase: 'running', parked: s.readModel === 'feed' ? 1 : 0 });
  });

  it('a projector whose connections die in the middle of a burst of 2,000 events, restarted, ends with every read model equal to a rebuild from zero', async () => {
    const schema = freshSchema('rm');
    // The feed stops in the middle of a transaction at its 400th apply until released, so the kill lands mid-batch.
    const models = createReadModels();
    let applies = 0;
    let inFlight!: () => void;
    const reachedMidBatch = new Promise<void>((resolve) => (inFlight = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    gates.push(() => release());
    const gated = models.map(
      (m): ReadModel =>
        m.name !== 'feed'
          ? m
          : {
              ...m,
              // One event at a time (apply), so that the gate meets single events.
              applyBatch: undefined,
              async apply(client, event, s) {
                if (++applies === 400) {
                  inFlight();
                  await released;
                }
                return m.apply(client, event, s);
              },
            },
    );
    const first = runner(schema, gated);
    await first.start();

    // 2,060 events: 100 published videos (900), 800 likes, 260 unlikes, 60 remixes, 20 takedowns, 20 view batches.
    const users = Array.from({ length: 8 }, (_, i) => `user_b${i}`);
    const vids = Array.from({ length: 100 }, (_, i) => ({ id: newVideoId(), owner: users[i % 8]!, at: BASE + i * 100 }));
    const burst = Promise.all(
      vids.map(async (v, i) => {
        const events: VideoEvent[] = [...story(v.id, v.owner, v.at, v.at + 10), ...users.map((u, k) => like(u, v.at + 20 + k))];
        events.push(...(i % 10 === 0 ? users : users.slice(0, 2)).map((u) => unlike(u, v.at + 40)));
        if (i < 60) events.push(remixed(vids[(i + 1) % 100]!.id, users[1]!, v.at + 50));
        if (i % 5 === 0) events.push({ type: 'VideoViewed', data: { count: 3, at: v.at + 60 } });
        if (i % 5 === 1) events.push(takedown(v.at + 70));
        for (let k = 0; k < events.length; k += 5) await append(v.id, events.slice(k, k + 5));
      }),
    );
    await reachedMidBatch;
    const killer = new pg.Client({ connectionString: testEnv.embeddedPgUrl });
    await killer.connect();
    const killed = await killer.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [appName]);
    await killer.end();
    expect(killed.rowCount).toBeGreaterThan(0);
    const stopped = first.stop();
    release();
    await stopped;
    await burst;
    const all = await store.readAll();
    expect(all.length).toBeGreaterThanOrEqual(2000);

    const second = runner(schema);
    await second.start();
    await second.waitFor(head!, { timeoutMs: 90000 });
    const rebuilt = freshSchema('rb');
    for (const model of createReadModels()) {
      const result = await rebuild({ eventStore: store, pool, readModel: model, schema: rebuilt, logger: silent, batchSize: 250 });
      expect(result).toMatchObject({ parked: 0, events: all.length });
      for (const table of model.tables) expect(await tableRows(schema, table)).toEqual(await tableRows(rebuilt, table));
    }
    for (const s of await second.status()) expect(s).toMatchObject({ parked: 0 });
    const feedRows = (await pool.query(`SELECT count(*)::int AS n FROM "${schema}".feed`)).rows[0];
    expect(feedRows).toEqual({ n: 80 });
  });

  it('lists the videos that use a cameo, with the consent each rests on and whether the use stands', async () => {
    const schema = freshSchema('rm');
    const r = runner(schema);
    await r.start();
    const cameoId = `cameo_${randomBytes(16).toString('hex')}`;
    const [v1, v2, v3] = [newVideoId(), newVideoId(), newVideoId()];
    const events = [
      { type: 'CameoUsed', data: { video_id: v1, user_id: 'user_a', basis: 'grant', grant_revision: 2, at: BASE + 1 } },
      { type: 'CameoUsed', data: { video_id: v2, user_id: 'user_b', basis: 'everyone', grant_revision: 3, at: BASE + 2 } },
      { type: 'CameoUsed', data: { video_id: v3, user_id: 'user_a', basis: 'grant', grant_revision: 2, at: BASE + 3 } },
      { type: 'CameoUsePublished', data: { video_id: v1, grant_revision: 2, at: BASE + 4 } },
      { type: 'CameoAccessRevoked', data: { user_id: 'user_a', by: 'user_o', at: BASE + 5 } },
      { type: 'CameoUseBlocked', data: { video_id: v3, user_id: 'user_a', code: 'consent_revoked', reason: 'revoked', at: BASE + 5 } },
    ];
    const result = await store.appendToStream(
      `cameo-${cameoId}`,
      events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata: { actor: 'test' } })),
    );
    await r.waitFor(result.position, { timeoutMs: 30000 });
    const rows = (
      await pool.query(
        `SELECT video_id, user_id, basis, grant_revision::int, use_status, blocked_code FROM "${schema}".cameo_appearances WHERE cameo_id = $1 ORDER BY reserved_at`,
        [cameoId],
      )
    ).rows;
    expect(rows).toEqual([
      { video_id: v1, user_id: 'user_a', basis: 'grant', grant_revision: 2, use_status: 'published', blocked_code: null },
      { video_id: v2, user_id: 'user_b', basis: 'everyone', grant_revision: 3, use_status: 'active', blocked_code: null },
      { video_id: v3, user_id: 'user_a', basis: 'grant', grant_revision: 2, use_status: 'blocked', blocked_code: 'consent_revoked' },
    ]);
    const rebuilt = freshSchema('rb');
    const model = createReadModels().find((m) => m.name === 'cameo_appearances')!;
    await rebuild({ eventStore: store, pool, readModel: model, schema: rebuilt, logger: silent, batchSize: 250 });
    expect(await tableRows(schema, 'cameo_appearances')).toEqual(await tableRows(rebuilt, 'cameo_appearances'));
  });

  it('a projector process SIGKILLed in the middle of a burst of 2,000 events, started again, ends with every read model equal to a rebuild from zero', async () => {
    const schema = freshSchema('rm');
    const env = { DATABASE_URL: testEnv.embeddedPgUrl, EVENTSTORE_SCHEMA: esSchema, READMODELS_SCHEMA: schema, LOG_LEVEL: 'warn' };
    const first = startRole('projections/main.ts', env);
    const users = Array.from({ length: 8 }, (_, i) => `user_k${i}`);
    const vids = Array.from({ length: 100 }, (_, i) => ({ id: newVideoId(), owner: users[i % 8]!, at: BASE + i * 100 }));
    let written = 0;
    const burst = Promise.all(
      vids.map(async (v, i) => {
        const events: VideoEvent[] = [
          ...story(v.id, v.owner, v.at, v.at + 10),
          ...users.map((u, k) => like(u, v.at + 20 + k)),
          ...users.slice(0, 3).map((u) => unlike(u, v.at + 40)),
        ];
        if (i % 5 === 1) events.push(takedown(v.at + 70));
        for (let k = 0; k < events.length; k += 4) {
          await append(v.id, events.slice(k, k + 4));
          written += Math.min(4, events.length - k);
        }
      }),
    );
    try {
      // Killed once it is projecting: some of the burst is in the read models, most is still to come.
      await eventually(async () => ((await readCheckpoint(pool, schema, 'feed')) && written > 400 ? true : undefined), 'the projector under way', 60_000);
      expect(await first.kill('SIGKILL')).toBe('signal SIGKILL');
      await burst;
      expect((await store.readAll()).length).toBeGreaterThanOrEqual(2000);

      const second = startRole('projections/main.ts', env);
      try {
        await eventually(
          async () => {
            for (const model of createReadModels()) {
              const checkpoint = await readCheckpoint(pool, schema, model.name);
              if (!checkpoint || comparePositions(positionFromString(checkpoint.position), head!) < 0) return undefined;
            }
            return true;
          },
          'every read model caught up after the restart',
          90_000,
        );
      } finally {
        await second.kill('SIGTERM');
      }
      const rebuilt = freshSchema('rb');
      for (const model of createReadModels()) {
        await rebuild({ eventStore: store, pool, readModel: model, schema: rebuilt, logger: silent, batchSize: 250 });
        for (const table of model.tables) expect({ table, rows: await tableRows(schema, table) }).toEqual({ table, rows: await tableRows(rebuilt, table) });
      }
    } catch (err) {
      if (err instanceof Error) err.message += first.output();
      throw err;
    } finally {
      await first.kill('SIGKILL');
    }
  }, 180_000);
});
