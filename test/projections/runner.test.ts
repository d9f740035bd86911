// The projection runner against the embedded PostgreSQL: rows and checkpoint commit together across a crash, poison
// events are parked without stopping other read models, lag is measured, one runner is active per read model.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { foldVideo, planChunks, type VideoEvent } from '../../domain/video';
import { comparePositions, positionFromString, positionToString, type Position, type RecordedEvent } from '../../infra/eventstore/port';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { createLogger } from '../../infra/logger';
import type { PgPool } from '../../infra/postgres/pool';
import type { ReadModel } from '../../projections/projection';
import { rebuild } from '../../projections/rebuild';
import { ProjectionRunner } from '../../projections/runner';
import { listParked, quoteSchema, readCheckpoint, type SqlClient } from '../../projections/store';
import { createVideosReadModel, type VideoRow } from '../../projections/videos';
import { eventually, testEnv } from '../support/env';
import { useProjectionHarness } from '../support/projectionHarness';
import { videoRequest } from '../support/videos';

const silent = createLogger({ level: 'silent', name: 'projections-test' });
const suffix = randomUUID().replace(/-/g, '').slice(0, 10);
/** Each test gets an event store of its own, so its read models start from an empty $all. */
const harness = useProjectionHarness('runner', { poolMax: 8 });
const { freshSchema, gates } = harness;
let store: PgEventStore;
let pool: PgPool;
let appName: string;
beforeEach(() => {
  ({ store, pool, appName } = harness.current());
});

const runner = (options: Parameters<typeof harness.runner>[0]): ProjectionRunner => harness.runner(options);
const append = (videoId: string, events: VideoEvent[]): Promise<Position> => harness.appendVideo(videoId, events);

function later(a: Position, b: Position | undefined): Position {
  return b && comparePositions(b, a) > 0 ? b : a;
}

/** 40 events: requested, allowed, 18 chunks planned, 18 video and 18 audio chunks, muxed. */
function videoStory(videoId: string, ownerId: string, at: number): VideoEvent[] {
  const chunks = planChunks(6, 24, 8);
  const events: VideoEvent[] = [
    {
      type: 'VideoRequested',
      data: {
        ...videoRequest('balls bouncing', { video_id: videoId, owner_id: ownerId, seconds: 6, camera: 'pan', seed: at, at }),
      },
    },
    { type: 'PromptModerated', data: { case_id: `case_${videoId}`, verdict: 'allow', categories: [], reasons: [], at: at + 1 } },
    { type: 'ChunksPlanned', data: { total: chunks.length, fps: 24, frames: 144, chunks, at: at + 2 } },
  ];
  for (const c of chunks) {
    events.push({ type: 'VideoChunkRendered', data: { index: c.index, blob_key: `v/${c.index}`, frames: c.num_frames, collisions: [], at: at + 3 + c.index } });
    events.push({ type: 'AudioChunkRendered', data: { index: c.index, blob_key: `a/${c.index}`, samples: 16000, at: at + 3 + c.index } });
  }
  events.push({ type: 'Muxed', data: { content_key: 'c.mp4', thumbnail_key: 't.jpg', spritesheet_key: 's.jpg', duration_s: 6, bytes: 1000, at: at + 30 } });
  return events;
}

async function allRows(schema: string): Promise<VideoRow[]> {
  return (await pool.query<VideoRow>(`SELECT * FROM "${schema}".videos ORDER BY id`)).rows;
}

/** The rows the videos read model must hold after exactly the events up to `position`: foldVideo per stream. */
function expectedStates(events: RecordedEvent[], position: Position): Map<string, ReturnType<typeof foldVideo>> {
  const byVideo = new Map<string, VideoEvent[]>();
  for (const e of events) {
    if (comparePositions(e.position, position) > 0) break;
    const id = e.streamName.slice('video-'.length);
    byVideo.set(id, [...(byVideo.get(id) ?? []), { type: e.type, data: e.data } as VideoEvent]);
  }
  return new Map([...byVideo].map(([id, evs]) => [id, foldVideo(evs)]));
}

/** A read model of one counter per stream: tiny, and indifferent to what the events hold. */
function counterReadModel(version = 1): ReadModel {
  return {
    name: 'event_counter',
    version,
    tables: ['event_counts'],
    async migrate(client: SqlClient, schema: string) {
      await client.query(`CREATE TABLE IF NOT EXISTS ${quoteSchema(schema)}.event_counts (stream text PRIMARY KEY, n int NOT NULL)`);
    },
    handles: () => true,
    async apply(client: SqlClient, event: RecordedEvent, schema: string) {
      await client.query(
        `INSERT INTO ${quoteSchema(schema)}.event_counts (stream, n) VALUES ($1, 1) ON CONFLICT (stream) DO UPDATE SET n = event_counts.n + 1`,
        [event.streamName],
      );
    },
  };
}

async function counts(schema: string): Promise<Record<string, number>> {
  const res = await pool.query<{ stream: string; n: number }>(`SELECT stream, n FROM "${schema}".event_counts`);
  return Object.fromEntries(res.rows.map((r) => [r.stream, r.n]));
}

describe('projection runner', () => {
  it('commits rows with their checkpoint: a runner killed mid-burst leaves exactly the checkpoint’s rows, and its successor ends identical to a rebuild from zero', async () => {
    const schema = freshSchema('rm');
    // The videos read model, made to stop in the middle of a transaction: its 700th apply waits until released, so the
    // kill below lands while a batch is half written.
    const videos = createVideosReadModel();
    let applies = 0;
    let inFlight!: () => void;
    const reachedMidBatch = new Promise<void>((resolve) => (inFlight = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    gates.push(() => release());
    const gated: ReadModel = {
      ...videos,
      // One event at a time (apply), so that the gate counts and meets single events.
      applyBatch: undefined,
      async apply(client, event, s) {
        if (++applies === 700) {
          inFlight();
          await released;
        }
        return videos.apply(client, event, s);
      },
    };
    const first = runner({ schema, readModels: [gated] });
    await first.start();

    // 2,000 events across 50 videos, appended concurrently in slices of 10 as workflows would.
    const stories = Array.from({ length: 50 }, (_, i) => ({
      id: `video_burst${String(i).padStart(2, '0')}_${suffix}`,
      events: videoStory(`video_burst${String(i).padStart(2, '0')}_${suffix}`, `user_${i % 5}`, 10000 + i),
    }));
    let head: Position | undefined;
    const burst = Promise.all(
      stories.map(async ({ id, events }) => {
        for (let i = 0; i < events.length; i += 10) head = later(await append(id, events.slice(i, i + 10)), head);
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

    // What survived the crash is exactly the events up to the committed checkpoint: none half-applied, none beyond it.
    const log = await store.readAll();
    expect(log).toHaveLength(2000);
    const checkpoint = positionFromString((await readCheckpoint(pool, schema, 'videos'))!.position);
    const committed = log.filter((e) => comparePositions(e.position, checkpoint) <= 0).length;
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThan(700);
    const atCrash = expectedStates(log, checkpoint);
    const rowsAtCrash = await allRows(schema);
    expect(rowsAtCrash.map((r) => r.id)).toEqual([...atCrash.keys()].sort());
    for (const row of rowsAtCrash) expect(row.state).toEqual(atCrash.get(row.id));

    const second = runner({ schema, readModels: [createVideosReadModel()] });
    await second.start();
    await second.waitFor(head!, { timeoutMs: 60000 });
    const live = await allRows(schema);
    expect(live).toHaveLength(50);
    const final = expectedStates(log, head!);
    for (const row of live) {
      expect(row.state).toEqual(final.get(row.id));
      expect(row).toMatchObject({ stage: 'reviewing', progress: 95, chunks_total: 18, chunks_video_done: 18, chunks_audio_done: 18, last_revision: '39' });
    }

    const rebuilt = freshSchema('rb');
    const result = await rebuild({ eventStore: store, pool, readModel: createVideosReadModel(), schema: rebuilt, logger: silent, batchSize: 250 });
    expect(result).toMatchObject({ events: 2000, parked: 0, checkpoint: positionToString(head!) });
    expect(await allRows(rebuilt)).toEqual(live);
    expect((await second.status())[0]).toMatchObject({ parked: 0, checkpoint: positionToString(head!) });
  });

  it('parks a poison event with its position and goes on, while another read model is not stopped by it', async () => {
    const schema = freshSchema('rm');
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          callback();
        },
      }),
    );
    const r = runner({ schema, readModels: [createVideosReadModel(), counterReadModel()], logger });
    await r.start();

    const sick = `video_sick_${suffix}`;
    const well = `video_well_${suffix}`;
    const [requestedSick, allowedSick, plannedSick] = videoStory(sick, 'user_p', 20000);
    // One append, so the poison event travels in a batch between good ones: the batch is rolled back and replayed
    // one event at a time, and only the bad one is set aside.
    const bad = { type: 'VideoChunkRendered', data: { blob_key: 'v/0', frames: 8, collisions: [], at: 20003 } } as unknown as VideoEvent;
    const good: VideoEvent = { type: 'VideoChunkRendered', data: { index: 1, blob_key: 'v/1', frames: 8, collisions: [], at: 20004 } };
    await append(sick, [requestedSick!, allowedSick!, plannedSick!, bad, good]);
    let head = await append(well, videoStory(well, 'user_p', 21000).slice(0, 5));
    head = later(await append(sick, [{ type: 'AudioChunkRendered', data: { index: 1, blob_key: 'a/1', samples: 16000, at: 20005 } }]), head);
    await r.waitFor(head, { timeoutMs: 20000 });

    const poison = (await store.readStream(`video-${sick}`))[3]!;
    const parked = await listParked(pool, schema, 'videos');
    expect(parked).toEqual([
      expect.objectContaining({
        position: positionToString(poison.position),
        eventId: poison.id,
        stream: `video-${sick}`,
        type: 'VideoChunkRendered',
        revision: 3n,
      }),
    ]);
    expect(parked[0]!.error).toMatch(/\/index/);
    const logged = lines.find((l) => l.level === 50 && l.readModel === 'videos');
    expect(logged).toMatchObject({ position: positionToString(poison.position), eventId: poison.id, type: 'VideoChunkRendered' });

    const statuses = await r.status();
    expect(statuses.find((s) => s.readModel === 'videos')).toMatchObject({ parked: 1, phase: 'running', checkpoint: positionToString(head) });
    expect(statuses.find((s) => s.readModel === 'event_counter')).toMatchObject({ parked: 0, phase: 'running', checkpoint: positionToString(head) });
    // The events around the poison one, and after it, are in the row.
    const row = (await pool.query<VideoRow>(`SELECT * FROM "${schema}".videos WHERE id = $1`, [sick])).rows[0]!;
    expect(row).toMatchObject({ stage: 'rendering', chunks_total: 18, chunks_video_done: 1, chunks_audio_done: 1, last_revision: '5' });
    expect(row.state.videoChunkKeys).toEqual({ 1: 'v/1' });
    expect((await pool.query(`SELECT 1 FROM "${schema}".videos WHERE id = $1`, [well])).rowCount).toBe(1);
    // The other read model saw every event, the poison one included.
    expect(await counts(schema)).toEqual({ [`video-${sick}`]: 6, [`video-${well}`]: 5 });
  });

  it('retries from the committed checkpoint when a transaction fails or its connection is killed mid-batch, parking nothing', async () => {
    const schema = freshSchema('rm');
    // The first two times it meets revision 4 it fails as a deadlock would (twice, so the one-event-per-transaction
    // replay that hunts for poison meets it too), and the first time it meets revision 24 it waits
    // while the connection is killed under it: both errors surface from apply, and both are the database's trouble,
    // not the event's.
    const videos = createVideosReadModel();
    let deadlocks = 0;
    let waited = false;
    let inFlight!: () => void;
    const reachedMidBatch = new Promise<void>((resolve) => (inFlight = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    gates.push(() => release());
    const gated: ReadModel = {
      ...videos,
      // One event at a time (apply), so that the gate counts and meets single events.
      applyBatch: undefined,
      async apply(client, event, s) {
        if (event.revision === 4n && deadlocks < 2) {
          deadlocks++;
          throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
        }
        if (event.revision === 24n && !waited) {
          waited = true;
          inFlight();
          await released;
        }
        return videos.apply(client, event, s);
      },
    };
    const r = runner({ schema, readModels: [gated] });
    await r.start();
    const id = `video_resume_${suffix}`;
    const story = videoStory(id, 'user_k', 60000);
    await r.waitFor(await append(id, story.slice(0, 20)), { timeoutMs: 20000 });
    const head = await append(id, story.slice(20));
    await reachedMidBatch;

    const killer = new pg.Client({ connectionString: testEnv.embeddedPgUrl });
    await killer.connect();
    const killed = await killer.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [appName]);
    await killer.end();
    expect(killed.rowCount).toBeGreaterThan(0);
    release();

    await r.waitFor(head, { timeoutMs: 20000 });
    const row = (await pool.query<VideoRow>(`SELECT * FROM "${schema}".videos WHERE id = $1`, [id])).rows[0]!;
    expect(row.state).toEqual(foldVideo(story));
    expect((await r.status())[0]).toMatchObject({ phase: 'running', parked: 0, checkpoint: positionToString(head) });
    expect(await listParked(pool, schema, 'videos')).toEqual([]);
    expect(deadlocks).toBe(2);
  });

  it('reports lag until the read model has caught up, then zero, in status() and in the gauges', async () => {
    const schema = freshSchema('rm');
    let head: Position | undefined;
    for (let i = 0; i < 6; i++) head = later(await append(`video_lag${i}_${suffix}`, videoStory(`video_lag${i}_${suffix}`, 'user_l', 30000 + i)), head);
    const registry = new Registry();
    const r = runner({ schema, readModels: [createVideosReadModel()], registry, lagIntervalMs: 50 });
    const behind = (await r.status())[0]!;
    expect(behind).toMatchObject({ readModel: 'videos', phase: 'idle', lagEvents: 240 });
    expect(behind.lagMs).toBeGreaterThanOrEqual(0);

    await r.start();
    const caughtUp = await eventually(async () => {
      const s = (await r.status())[0]!;
      return s.lagEvents === 0 ? s : undefined;
    }, 'the videos read model to catch up');
    expect(caughtUp).toMatchObject({ phase: 'running', lagEvents: 0, lagMs: 0, checkpoint: positionToString(head!), parked: 0 });
    expect(caughtUp.lastEventAt).toBeInstanceOf(Date);
    const gauge = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.read_model === 'videos')?.value;
    expect(await gauge('reelforge_projection_lag_events')).toBe(0);
    expect(await gauge('reelforge_projection_lag_seconds')).toBe(0);
    expect(await gauge('reelforge_projection_events_applied_total')).toBe(240);
  });

  it('keeps the checkpoint of batches a read model has nothing in in memory, then stores it once the events pause and when it stops', async () => {
    const schema = freshSchema('rm');
    // Counts only the streams of one video: the other videos' events change none of its rows.
    const counted = `video_idle0_${suffix}`;
    const model: ReadModel = { ...counterReadModel(), handles: (_type, stream) => stream === `video-${counted}` };
    const r = runner({ schema, readModels: [model] });
    await r.start();
    let head = await append(counted, videoStory(counted, 'user_i', 40000).slice(0, 3));
    await r.waitFor(head, { timeoutMs: 20000 });
    const stored = async () => (await readCheckpoint(pool, schema, 'event_counter'))!.position;
    await eventually(async () => ((await stored()) === positionToString(head) ? true : undefined), 'the handled batch stored with its rows');

    // Events it does not handle, one append at a time: the runner is at once where they end, its rows unchanged.
    for (let i = 1; i < 5; i++) head = await append(`video_idle${i}_${suffix}`, videoStory(`video_idle${i}_${suffix}`, 'user_i', 40000 + i).slice(0, 3));
    await r.waitFor(head, { timeoutMs: 20000 });
    expect((await r.status())[0]!.checkpoint).toBe(positionToString(head));
    expect(await counts(schema)).toEqual({ [`video-${counted}`]: 3 });
    // Stored once the events pause (50 ms), not a transaction per batch.
    await eventually(async () => ((await stored()) === positionToString(head) ? true : undefined), 'the checkpoint stored after a pause');

    // Stopped right after more of them: stored on the way out, so the next start does not read them again.
    for (let i = 5; i < 8; i++) head = await append(`video_idle${i}_${suffix}`, videoStory(`video_idle${i}_${suffix}`, 'user_i', 40000 + i).slice(0, 2));
    await r.waitFor(head, { timeoutMs: 20000 });
    await r.stop();
    expect(await stored()).toBe(positionToString(head));
    expect(await counts(schema)).toEqual({ [`video-${counted}`]: 3 });
  });

  it('keeps a second runner of the same read model on standby until the first one stops, then it takes over', async () => {
    const schema = freshSchema('rm');
    const active = runner({ schema, readModels: [counterReadModel()] });
    await active.start();
    const first = await append(`video_lease_${suffix}`, videoStory(`video_lease_${suffix}`, 'user_s', 40000).slice(0, 3));
    await active.waitFor(first, { timeoutMs: 20000 });
    const standby = runner({ schema, readModels: [counterReadModel()], leaseRetryMs: 50 });
    await standby.start();
    const waiting = await eventually(async () => {
      const s = (await standby.status())[0]!;
      return s.phase === 'standby' ? s : undefined;
    }, 'the second runner to stand by');
    // A standby reports the active runner's committed checkpoint and lag, not a stale one of its own.
    expect(waiting).toMatchObject({ checkpoint: positionToString(first), lagEvents: 0 });

    await active.stop();
    const next = await append(`video_lease_${suffix}`, videoStory(`video_lease_${suffix}`, 'user_s', 40000).slice(3, 6));
    await standby.waitFor(next, { timeoutMs: 20000 });
    // Each event counted once across the hand-over.
    expect(await counts(schema)).toEqual({ [`video-video_lease_${suffix}`]: 6 });
  });

  it('rebuilds a read model from zero when its version changes, instead of folding the log into old rows again', async () => {
    const schema = freshSchema('rm');
    const head = await append(`video_v_${suffix}`, videoStory(`video_v_${suffix}`, 'user_v', 50000).slice(0, 4));
    const v1 = runner({ schema, readModels: [counterReadModel(1)] });
    await v1.start();
    await v1.waitFor(head, { timeoutMs: 20000 });
    await v1.stop();
    await pool.query(`INSERT INTO "${schema}".event_counts (stream, n) VALUES ('left-over', 1)`);

    const v2 = runner({ schema, readModels: [counterReadModel(2)] });
    await v2.start();
    await v2.waitFor(head, { timeoutMs: 20000 });
    expect(await counts(schema)).toEqual({ [`video-video_v_${suffix}`]: 4 });
    expect((await readCheckpoint(pool, schema, 'event_counter'))!.version).toBe(2);
  });
});
