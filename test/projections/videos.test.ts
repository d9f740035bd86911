// The videos read model against the embedded PostgreSQL: rows folded with the domain's evolve, the API's Video shape,
// redelivery that changes nothing, and the list endpoint's keyset pages.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { foldVideo, planChunks, type VideoEvent } from '../../domain/video';
import type { Position } from '../../infra/eventstore/port';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { createLogger } from '../../infra/logger';
import { createPgPool, type PgPool } from '../../infra/postgres/pool';
import { ProjectionRunner } from '../../projections/runner';
import { createVideosReadModel, type VideoRow } from '../../projections/videos';
import { createVideosQuery, InvalidCursor, type ApiVideo } from '../../projections/videosQuery';
import { testEnv } from '../support/env';
import { videoRequest } from '../support/videos';

const logger = createLogger({ level: 'silent', name: 'projections-test' });
const suffix = randomUUID().replace(/-/g, '').slice(0, 10);
const esSchema = `es_videos_${suffix}`;
let schemaCount = 0;
const schemas: string[] = [];
/** A read models schema of its own per test, dropped after the file. */
function freshSchema(): string {
  const name = `rm_videos_${suffix}_${++schemaCount}`;
  schemas.push(name);
  return name;
}

let store: PgEventStore;
let pool: PgPool;
const runners: ProjectionRunner[] = [];

beforeAll(async () => {
  store = await PgEventStore.open({ connectionString: testEnv.embeddedPgUrl, schema: esSchema, maxEventBytes: 1024 * 1024, pollIntervalMs: 50 });
  pool = createPgPool({ connectionString: testEnv.embeddedPgUrl, max: 8 });
});
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
});
afterAll(async () => {
  await store?.close();
  await pool?.end();
  const client = new pg.Client({ connectionString: testEnv.embeddedPgUrl });
  await client.connect();
  for (const s of [esSchema, ...schemas]) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await client.end();
});

function startRunner(schema: string): ProjectionRunner {
  const runner = new ProjectionRunner({ eventStore: store, pool, schema, readModels: [createVideosReadModel()], logger, retryMinMs: 50 });
  runners.push(runner);
  return runner;
}

async function append(videoId: string, events: VideoEvent[]): Promise<Position> {
  const result = await store.appendToStream(
    `video-${videoId}`,
    events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data })),
  );
  return result.position;
}

function requested(videoId: string, ownerId: string, at: number, extra: Partial<Extract<VideoEvent, { type: 'VideoRequested' }>['data']> = {}): VideoEvent {
  return {
    type: 'VideoRequested',
    data: {
      ...videoRequest(`three red balls (${videoId})`, { video_id: videoId, owner_id: ownerId, seed: 42, at }),
      ...extra,
    },
  };
}

const allowed = (at: number): VideoEvent => ({ type: 'PromptModerated', data: { case_id: 'case_1', verdict: 'allow', categories: [], reasons: [], at } });
const planned = (at: number): VideoEvent => ({ type: 'ChunksPlanned', data: { total: 2, fps: 24, frames: 48, chunks: planChunks(2, 24, 24), at } });
const chunk = (index: number, at: number): VideoEvent[] => [
  { type: 'VideoChunkRendered', data: { index, blob_key: `v/${index}`, frames: 24, collisions: [], at } },
  { type: 'AudioChunkRendered', data: { index, blob_key: `a/${index}`, samples: 48000, at } },
];
const muxed = (at: number): VideoEvent => ({
  type: 'Muxed',
  data: { content_key: 'c.mp4', thumbnail_key: 't.jpg', spritesheet_key: 's.jpg', duration_s: 2, bytes: 100, at },
});
const outputAllowed = (at: number): VideoEvent => ({ type: 'OutputModerated', data: { case_id: 'case_2', verdict: 'allow', categories: [], reasons: [], at } });

async function rowOf(schema: string, id: string): Promise<VideoRow | undefined> {
  const res = await pool.query<VideoRow>(`SELECT * FROM "${schema}".videos WHERE id = $1`, [id]);
  return res.rows[0];
}

describe('videos read model', () => {
  it('folds a batch at once (applyBatch) into exactly the rows one event at a time (apply) leaves, redeliveries included', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `video_batch${i}_${suffix}`);
    for (const [i, id] of ids.entries()) {
      await append(id, [requested(id, `user_${i % 2}`, 2000 + i), allowed(2001 + i), planned(2002 + i), ...chunk(0, 2003 + i)]);
      if (i % 2 === 0) await append(id, [...chunk(1, 2010 + i), muxed(2011 + i), outputAllowed(2012 + i), { type: 'VideoCompleted', data: { at: 2013 + i } }]);
    }
    const recorded = (await Promise.all(ids.map((id) => store.readStream(`video-${id}`)))).flat();
    // In $all order, the videos' events interleaved; some delivered twice, as after a rewound checkpoint.
    const inOrder = recorded.sort((a, b) =>
      a.position.commit === b.position.commit ? Number(a.position.prepare - b.position.prepare) : a.position.commit < b.position.commit ? -1 : 1,
    );
    const delivered = [...inOrder.slice(0, 10), ...inOrder.slice(5, inOrder.length)];
    const model = createVideosReadModel();
    const one = freshSchema();
    const batch = freshSchema();
    for (const schema of [one, batch]) {
      await pool.query(`CREATE SCHEMA "${schema}"`);
      await model.migrate(pool, schema);
    }
    for (const event of delivered) await model.apply(pool, event, one);
    await model.applyBatch!(pool, delivered.slice(0, 7), batch);
    await model.applyBatch!(pool, delivered.slice(7), batch);
    const rows = async (schema: string) => (await pool.query(`SELECT row_to_json(v)::text AS r FROM "${schema}".videos v ORDER BY id`)).rows.map((r) => r.r);
    expect(await rows(batch)).toEqual(await rows(one));
    expect((await rows(one)).length).toBe(6);
    expect((await rowOf(batch, ids[0]!))!.status).toBe('completed');
  });

  it('projects each video to the row foldVideo gives for the same events, and serves it in the API shape', async () => {
    const schema = freshSchema();
    const runner = startRunner(schema);
    await runner.start();
    const done = `video_done_${suffix}`;
    const blocked = `video_blocked_${suffix}`;
    const rendering = `video_rendering_${suffix}`;
    const stories: Record<string, VideoEvent[]> = {
      [done]: [
        requested(done, 'user_a', 1000, { seed: 7, remixed_from_video_id: 'video_parent' }),
        allowed(1001),
        planned(1002),
        ...chunk(0, 1003),
        ...chunk(1, 1004),
        muxed(1005),
        outputAllowed(1006),
        { type: 'VideoCompleted', data: { at: 1007 } },
        { type: 'VideoPublished', data: { by: 'user_a', cameo_uses: [{ cameo_id: 'cameo_1', grant_revision: 3 }], at: 1008 } },
      ],
      [blocked]: [
        requested(blocked, 'user_a', 1100),
        { type: 'PromptModerated', data: { case_id: 'case_9', verdict: 'block', categories: ['violence'], reasons: ['graphic'], at: 1101 } },
        { type: 'VideoBlocked', data: { code: 'moderation_blocked', message: 'prompt blocked by moderation: graphic', at: 1101 } },
      ],
      [rendering]: [requested(rendering, 'user_b', 1200), allowed(1201), planned(1202), ...chunk(0, 1203).slice(0, 1)],
    };
    let last: Position | undefined;
    // Appended in pieces, so events of several videos interleave in $all as they do in production.
    for (let i = 0; i < 12; i++) {
      for (const [id, events] of Object.entries(stories)) {
        if (events[i]) last = await append(id, [events[i]!]);
      }
    }
    await runner.waitFor(last!, { timeoutMs: 20000 });

    for (const [id, events] of Object.entries(stories)) {
      const row = (await rowOf(schema, id))!;
      const folded = foldVideo(events);
      expect(row.state).toEqual(folded);
      expect({
        status: row.status,
        stage: row.stage,
        progress: row.progress,
        chunks: [row.chunks_total, row.chunks_video_done, row.chunks_audio_done],
        visibility: row.visibility,
        lastRevision: row.last_revision,
      }).toEqual({
        status: folded.status,
        stage: folded.stage,
        progress: folded.progress,
        chunks: [folded.chunks.total, folded.chunks.videoDone, folded.chunks.audioDone],
        visibility: folded.visibility,
        lastRevision: String(events.length - 1),
      });
    }

    const query = createVideosQuery(pool, { schema });
    expect(await query.getVideo(done)).toEqual<ApiVideo>({
      id: done,
      object: 'video',
      status: 'completed',
      progress: 100,
      model: 'reference',
      prompt: `three red balls (${done})`,
      seconds: '2',
      size: '256x256',
      created_at: 1000,
      completed_at: 1007,
      expires_at: null,
      error: null,
      remixed_from_video_id: 'video_parent',
      stage: 'completed',
      style: 'cinematic',
      camera: 'static',
      seed: 7,
      owner_id: 'user_a',
      cameo_uses: [{ cameo_id: 'cameo_1', grant_revision: 3 }],
      visibility: 'published',
      extended_from_video_id: null,
      chunks: { total: 2, video_done: 2, audio_done: 2 },
      timeline: expect.any(Array),
      queue_position: null,
      // Its first GPU output (chunk 0: this story has no SceneDescribed) is its render start.
      estimated_start_at: 1003,
      estimated_completion_at: 1007,
      preview_url: `/v1/videos/${done}/preview.m3u8`,
    });
    // The timeline: a stage per change of the folded stage, timed by the store's `created` of the event that made it.
    const recorded = await store.readStream(`video-${done}`);
    const iso = (type: string, nth = 0) => recorded.filter((e) => e.type === type)[nth]!.created.toISOString();
    const starts: Array<[string, string]> = [
      ['moderating', iso('VideoRequested')],
      ['rendering', iso('ChunksPlanned')],
      ['muxing', iso('AudioChunkRendered', 1)],
      ['reviewing', iso('Muxed')],
      ['completed', iso('VideoCompleted')],
    ];
    expect((await query.getVideo(done))!.timeline).toEqual(
      starts.map(([stage, startedAt], i) => {
        const endedAt = stage === 'completed' ? startedAt : starts[i + 1]![1];
        return { stage, started_at: startedAt, ended_at: endedAt, duration_ms: Date.parse(endedAt) - Date.parse(startedAt) };
      }),
    );
    // A job still running: its last stage is open.
    const planning = (await store.readStream(`video-${rendering}`)).find((e) => e.type === 'ChunksPlanned')!.created.toISOString();
    expect((await query.getVideo(rendering))!.timeline.map((e) => [e.stage, e.ended_at, e.duration_ms === null])).toEqual([
      ['moderating', planning, false],
      ['rendering', null, true],
    ]);
    expect(await query.getVideo(blocked)).toMatchObject({
      status: 'failed',
      stage: 'blocked',
      error: { code: 'moderation_blocked', message: 'prompt blocked by moderation: graphic' },
      completed_at: 1101,
      visibility: 'private',
    });
    expect(await query.getVideo(rendering)).toMatchObject({
      status: 'in_progress',
      stage: 'rendering',
      chunks: { total: 2, video_done: 1, audio_done: 0 },
      completed_at: null,
    });
    expect(await query.getVideo('video_unknown')).toBeUndefined();
  });

  it('leaves rows unchanged when events are delivered again after the checkpoint was rewound', async () => {
    const schema = freshSchema();
    const id = `video_redeliver_${suffix}`;
    const events = [requested(id, 'user_r', 2000), allowed(2001), planned(2002), ...chunk(0, 2003), ...chunk(1, 2004)];
    const positions: Position[] = [];
    for (const e of events) positions.push(await append(id, [e]));
    const first = startRunner(schema);
    await first.start();
    await first.waitFor(positions[positions.length - 1]!, { timeoutMs: 20000 });
    await first.stop();
    const before = await rowOf(schema, id);
    expect(before).toMatchObject({ chunks_video_done: 2, chunks_audio_done: 2, stage: 'muxing' });

    // At-least-once delivery, as after restoring an older checkpoint: ChunksPlanned and every chunk arrive again.
    // Folded a second time they would reset the chunk counts (evolve keeps the chunk keys, so the re-sent chunks
    // would not count again); the revision guard must make each one a no-op.
    await pool.query(`UPDATE "${schema}".projection_checkpoints SET position = $1 WHERE read_model = 'videos'`, [
      `${positions[1]!.commit}/${positions[1]!.prepare}`,
    ]);
    const second = startRunner(schema);
    await second.start();
    await second.waitFor(positions[positions.length - 1]!, { timeoutMs: 20000 });
    expect(await rowOf(schema, id)).toEqual(before);
    expect((await second.status())[0]).toMatchObject({ parked: 0 });
  });

  it('lists an owner their videos in keyset pages: each exactly once, in order, with has_more, in both orders', async () => {
    const schema = freshSchema();
    const runner = startRunner(schema);
    await runner.start();
    const owner = `user_pages_${suffix}`;
    const other = `user_other_${suffix}`;
    const mine: { id: string; at: number }[] = [];
    // Pairs share a created_at, so the id must break ties for a page boundary to be exact.
    const order = Array.from({ length: 25 }, (_, i) => i).sort(() => Math.random() - 0.5);
    for (const i of order) {
      const id = `video_p${String(i).padStart(2, '0')}_${suffix}`;
      const at = 5000 + Math.floor(i / 2);
      mine.push({ id, at });
      await append(id, [requested(id, owner, at)]);
    }
    for (let i = 0; i < 5; i++) {
      const id = `video_o${i}_${suffix}`;
      await append(id, [requested(id, other, 5000 + i)]);
    }
    const gone = `video_gone_${suffix}`;
    await append(gone, [requested(gone, owner, 5003)]);
    const last = await append(gone, [{ type: 'VideoDeleted', data: { by: owner, at: 5100 } }]);
    await runner.waitFor(last, { timeoutMs: 20000 });

    const query = createVideosQuery(pool, { schema });
    const asc = [...mine].sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((v) => v.id);
    for (const [direction, expected] of [
      ['asc', asc],
      ['desc', [...asc].reverse()],
    ] as const) {
      const seen: string[] = [];
      const hasMore: boolean[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await query.listVideos({ ownerId: owner, after, limit: 10, order: direction });
        expect(page.object).toBe('list');
        expect(page.first_id).toBe(page.data[0]?.id ?? null);
        expect(page.last_id).toBe(page.data[page.data.length - 1]?.id ?? null);
        for (const v of page.data) expect(v.owner_id).toBe(owner);
        seen.push(...page.data.map((v) => v.id));
        hasMore.push(page.has_more);
        if (!page.has_more) break;
        after = page.last_id!;
      }
      expect(seen).toEqual(expected);
      expect(hasMore).toEqual([true, true, false]);
    }
    const newest = await query.listVideos({ ownerId: owner });
    expect(newest.data.map((v) => v.id)).toEqual([...asc].reverse().slice(0, 20));
    expect(newest.has_more).toBe(true);

    expect(await query.getVideo(gone)).toBeUndefined();
    const others = await query.listVideos({ ownerId: other, limit: 100 });
    expect(others.data.map((v) => v.id)).toEqual([4, 3, 2, 1, 0].map((i) => `video_o${i}_${suffix}`));
    expect(others.has_more).toBe(false);
    await expect(query.listVideos({ ownerId: owner, after: `video_o0_${suffix}` })).rejects.toBeInstanceOf(InvalidCursor);
    await expect(query.listVideos({ ownerId: owner, limit: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(query.listVideos({ ownerId: owner, limit: 101 })).rejects.toBeInstanceOf(RangeError);
    expect(await query.listVideos({ ownerId: 'user_nobody' })).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });
  });

  it("indexes each completed video's MP4 by its SHA-256: found for its owner and, once published, for others; own first; never once deleted", async () => {
    const schema = freshSchema();
    const runner = startRunner(schema);
    await runner.start();
    const query = createVideosQuery(pool, { schema });
    const sha256 = (n: number) => n.toString(16).padStart(64, '0');
    const story = (id: string, owner: string, at: number, hash: string, ...after: VideoEvent[]): VideoEvent[] => [
      requested(id, owner, at),
      allowed(at),
      planned(at),
      ...chunk(0, at),
      ...chunk(1, at),
      { type: 'Muxed', data: { content_key: 'c.mp4', thumbnail_key: 't.jpg', spritesheet_key: 's.jpg', duration_s: 2, bytes: 100, sha256: hash, at } },
      outputAllowed(at),
      { type: 'VideoCompleted', data: { at } },
      ...after,
    ];
    const draft = `video_draft_${suffix}`;
    const published = `video_pub_${suffix}`;
    const twin = `video_twin_${suffix}`;
    const gone = `video_gone_${suffix}`;
    const published_ = (by: string): VideoEvent => ({ type: 'VideoPublished', data: { by, cameo_uses: [], at: 3000 } });
    await append(draft, story(draft, 'user_a', 2000, sha256(1)));
    await append(published, story(published, 'user_a', 2001, sha256(2), published_('user_a')));
    // The same bytes as `published` (identical renders share a hash), made later by user_b.
    await append(twin, story(twin, 'user_b', 2002, sha256(2)));
    const last = await append(gone, story(gone, 'user_a', 2003, sha256(3), { type: 'VideoDeleted', data: { by: 'user_a', at: 2004 } }));
    await runner.waitFor(last, { timeoutMs: 20000 });

    expect(await query.findVideoByContent(sha256(1), { ownerId: 'user_a' })).toBe(draft);
    expect(await query.findVideoByContent(sha256(1), { ownerId: 'user_b' })).toBeUndefined();
    expect(await query.findVideoByContent(sha256(1), { ownerId: 'user_b', anyOwner: true })).toBe(draft);
    expect(await query.findVideoByContent(sha256(2), { ownerId: 'user_b' })).toBe(twin);
    expect(await query.findVideoByContent(sha256(2), { ownerId: 'user_c' })).toBe(published);
    expect(await query.findVideoByContent(sha256(3), { ownerId: 'user_a' })).toBeUndefined();
    expect((await rowOf(schema, draft))!.content_sha256).toBe(sha256(1));
  });
});
