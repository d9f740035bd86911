// Domain streams as of a revision over HTTP against the real stack: while one real video renders, the videos read
// model is polled and what it showed is recorded at each revision it reached; afterwards GET /v1/debug/streams as of
// each of those revisions must fold to exactly that. The same for a cameo registered, granted and revoked, against
// what GET /v1/cameos/:id showed then. Bad input, unknown streams and non-admins get what API.md promises.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { evolve, initialVideoState, type VideoEvent, type VideoState } from '../../domain/video';
import { advanceTimeline, type TimelineEntry } from '../../domain/video/timeline';
import { createPgPool, type PgPool } from '../../infra/postgres/pool';
import type { Role } from '../../infra/users/port';
import { startApiStack } from '../support/apiStack';
import { liveCameoClip } from '../support/clips';
import { eventually, testEnv } from '../support/env';
import type { Problem } from '../../api/plugins/errors';

interface StreamEventJson {
  id: string;
  revision: number;
  type: string;
  data: unknown;
  metadata: Record<string, unknown>;
  created: string;
}

interface DebugStream<S = unknown> {
  stream: string;
  category: string;
  revision: number;
  last_revision: number;
  whole_stream: boolean;
  events: StreamEventJson[];
  state: S;
}

/** What the videos read model showed at one revision: its row's columns, and GET /v1/videos/:id when caught there. */
interface VideoSnapshot {
  revision: number;
  row: { status: string; stage: string; progress: number; chunks: number[]; state: VideoState; timeline: TimelineEntry[] };
  api?: { status: string; stage: string; progress: number; chunks: { total: number; video_done: number; audio_done: number }; timeline: TimelineEntry[] };
}

interface Cameo {
  id: string;
  owner_id: string;
  display_name: string;
  status: string;
  permission: string;
  grants: Array<{ user_id: string; revision: number; granted_at: number }>;
  created_at: number;
}

type Who = 'admin' | 'alice' | 'bob';
let stack: Awaited<ReturnType<typeof startApiStack>>;
let pool: PgPool;
let clip: string;
const keys = {} as Record<Who, string>;
const ids = {} as Record<Who, string>;

function call(who: Who | null, method: string, route: string, body?: { json?: unknown; form?: FormData }): Promise<Response> {
  return fetch(`${stack.url}${route}`, {
    method,
    headers: { ...(who ? { authorization: `Bearer ${keys[who]}` } : {}), ...(body?.json !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body?.json !== undefined ? JSON.stringify(body.json) : body?.form,
  });
}

async function answer<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect({ status: res.status, text }).toEqual({ status, text: expect.any(String) });
  return JSON.parse(text) as T;
}

const streamRoute = (stream: string, untilRevision?: number | string) =>
  `/v1/debug/streams/${encodeURIComponent(stream)}${untilRevision === undefined ? '' : `?until_revision=${untilRevision}`}`;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The stack's read models schema: the one whose videos table holds this video. */
async function videosTableOf(videoId: string): Promise<string> {
  return eventually(async () => {
    const schemas = await pool.query<{ table_schema: string }>(
      `SELECT table_schema FROM information_schema.tables WHERE table_name = 'videos' AND table_schema LIKE 'stack_rm_%'`,
    );
    for (const { table_schema } of schemas.rows) {
      const found = await pool.query(`SELECT 1 FROM "${table_schema}".videos WHERE id = $1`, [videoId]);
      if (found.rowCount) return `"${table_schema}".videos`;
    }
    return undefined;
  }, `the read model to show ${videoId}`);
}

beforeAll(async () => {
  const [started, talking] = await Promise.all([startApiStack(), liveCameoClip()]);
  stack = started;
  clip = talking;
  pool = createPgPool({ connectionString: testEnv.embeddedPgUrl, max: 2 });
  const roles: Record<Who, Role> = { admin: 'admin', alice: 'user', bob: 'user' };
  for (const [who, role] of Object.entries(roles) as Array<[Who, Role]>) {
    const created = await stack.user(who, role);
    keys[who] = created.apiKey;
    ids[who] = created.user.id;
  }
}, 60000);

afterAll(async () => {
  await pool?.end();
  await stack?.stop();
});

describe('GET /v1/debug/streams/:stream?until_revision=', () => {
  it('a video stream as of each revision the read model showed while it rendered folds to what it showed then', async () => {
    const video = await answer<{ id: string }>(
      await call('alice', 'POST', '/v1/videos', { json: { prompt: 'three red balls bouncing', seconds: 1, size: '256x256' } }),
      200,
    );
    const table = await videosTableOf(video.id);
    type Row = {
      last_revision: string;
      status: string;
      stage: string;
      progress: number;
      chunks_total: number;
      chunks_video_done: number;
      chunks_audio_done: number;
      state: VideoState;
      timeline: TimelineEntry[];
    };
    const readRow = async () =>
      (
        await pool.query<Row>(
          `SELECT last_revision, status, stage, progress, chunks_total, chunks_video_done, chunks_audio_done, state, timeline FROM ${table} WHERE id = $1`,
          [video.id],
        )
      ).rows[0];
    const snapshots = new Map<number, VideoSnapshot>();
    const note = (row: Row) => {
      const revision = Number(row.last_revision);
      if (!snapshots.has(revision)) {
        const chunks = [row.chunks_total, row.chunks_video_done, row.chunks_audio_done];
        snapshots.set(revision, {
          revision,
          row: { status: row.status, stage: row.stage, progress: row.progress, chunks, state: row.state, timeline: row.timeline },
        });
      }
      return revision;
    };

    // Poll until completed: the row, then the API, then the row again; when both reads saw one revision, the API's
    // answer is what the read model showed at that revision too.
    const deadline = Date.now() + 60000;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`video ${video.id} did not complete in 60 s`);
      const first = await readRow();
      // The POST answers once the job is started, maybe before the projector has its first event.
      if (!first) {
        await sleep(10);
        continue;
      }
      const before = note(first);
      const api = await answer<NonNullable<VideoSnapshot['api']>>(await call('alice', 'GET', `/v1/videos/${video.id}`), 200);
      const after = (await readRow())!;
      if (note(after) === before)
        snapshots.get(before)!.api ??= { status: api.status, stage: api.stage, progress: api.progress, chunks: api.chunks, timeline: api.timeline };
      if (after.status === 'completed') break;
      if (after.status !== 'queued' && after.status !== 'in_progress')
        throw new Error(`video ${video.id} ended ${after.status}: ${JSON.stringify(after.state.error)}`);
      if (Date.now() > deadline) throw new Error(`video ${video.id} did not complete in 60 s (at ${after.stage})`);
      await sleep(10);
    }

    const recorded = [...snapshots.values()].sort((a, b) => a.revision - b.revision);
    // The job went through several revisions, seen in several stages, up to its completion.
    expect(recorded.length).toBeGreaterThanOrEqual(3);
    expect(new Set(recorded.map((s) => s.row.stage)).size).toBeGreaterThanOrEqual(2);
    expect(recorded.at(-1)!.row.stage).toBe('completed');
    expect(recorded.filter((s) => s.api).length).toBeGreaterThanOrEqual(1);

    for (const snapshot of recorded) {
      const { revision, row, api } = snapshot;
      const asOf = await answer<DebugStream<VideoState>>(await call('admin', 'GET', streamRoute(`video-${video.id}`, revision)), 200);
      expect({ stream: asOf.stream, category: asOf.category, revision: asOf.revision, events: asOf.events.map((e) => e.revision) }).toEqual({
        stream: `video-${video.id}`,
        category: 'video',
        revision,
        events: Array.from({ length: revision + 1 }, (_, i) => i),
      });
      // The folded state is the read model's, whole, and its columns say the same.
      expect(asOf.state).toEqual(row.state);
      const state = asOf.state;
      expect({
        status: state.status,
        stage: state.stage,
        progress: state.progress,
        chunks: [state.chunks.total, state.chunks.videoDone, state.chunks.audioDone],
      }).toEqual({
        status: row.status,
        stage: row.stage,
        progress: row.progress,
        chunks: row.chunks,
      });
      if (api) {
        expect(api).toEqual({
          status: state.status,
          stage: state.stage,
          progress: state.progress,
          chunks: { total: state.chunks.total, video_done: state.chunks.videoDone, audio_done: state.chunks.audioDone },
          timeline: row.timeline,
        });
      }
      // The timeline the read model showed is the one the events up to that revision give, timed by their `created`.
      let folded = initialVideoState;
      let timeline: TimelineEntry[] = [];
      for (const e of asOf.events) {
        folded = evolve(folded, { type: e.type, data: e.data } as VideoEvent);
        timeline = advanceTimeline(timeline, folded.stage, Date.parse(e.created));
      }
      expect(timeline).toEqual(row.timeline);
    }

    // The whole stream, asked for with no revision or past its end, is the completed video; revision 0 is the request.
    const last = recorded.at(-1)!.revision;
    const whole = await answer<DebugStream<VideoState>>(await call('admin', 'GET', streamRoute(`video-${video.id}`)), 200);
    expect(whole).toMatchObject({ revision: last, last_revision: last, whole_stream: true, state: recorded.at(-1)!.row.state });
    expect(whole.events[0]).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      revision: 0,
      type: 'VideoRequested',
      data: expect.objectContaining({ video_id: video.id, owner_id: ids.alice }),
      metadata: expect.any(Object),
      created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    const past = await answer<DebugStream<VideoState>>(await call('admin', 'GET', streamRoute(`video-${video.id}`, 1_000_000)), 200);
    expect(past).toEqual(whole);
    const first = await answer<DebugStream<VideoState>>(await call('admin', 'GET', streamRoute(`video-${video.id}`, 0)), 200);
    expect(first).toMatchObject({ revision: 0, last_revision: last, whole_stream: false, state: { exists: true, status: 'queued', stage: 'moderating' } });

    // The moderation case the prompt was judged in is a stream too: closed, allowed.
    const caseId = (whole.events.find((e) => e.type === 'PromptModerated')!.data as { case_id: string }).case_id;
    const moderation = await answer<DebugStream>(await call('admin', 'GET', streamRoute(`moderation-${caseId}`)), 200);
    expect(moderation).toMatchObject({
      category: 'moderation',
      whole_stream: true,
      state: { caseId, subjectId: video.id, stage: 'prompt', status: 'closed', verdict: 'allow' },
    });

    // The job's timeline as GET /v1/videos/:id answers it: contiguous stages in order, each ended, completed last.
    const done = await answer<{ timeline: TimelineEntry[] }>(await call('alice', 'GET', `/v1/videos/${video.id}`), 200);
    expect(done.timeline.map((e) => e.stage)).toEqual(['moderating', 'rendering', 'muxing', 'reviewing', 'completed']);
    for (const [i, entry] of done.timeline.entries()) {
      expect(entry.ended_at).not.toBeNull();
      expect(Date.parse(entry.ended_at!) - Date.parse(entry.started_at)).toBe(entry.duration_ms);
      expect(entry.duration_ms).toBeGreaterThanOrEqual(0);
      if (i > 0) expect(entry.started_at).toBe(done.timeline[i - 1]!.ended_at);
    }
  }, 90000);

  it('a cameo stream as of each revision folds to what GET /v1/cameos/:id showed then: verified, granted, revoked', async () => {
    const { challenge_id } = await answer<{ challenge_id: string }>(await call('alice', 'POST', '/v1/cameos/challenges'), 201);
    const form = new FormData();
    form.append('challenge_id', challenge_id);
    form.append('display_name', 'Alice');
    form.append('recording', new Blob([fs.readFileSync(clip)], { type: 'video/mp4' }), 'me.mp4');
    const registered = await answer<Cameo>(await call('alice', 'POST', '/v1/cameos', { form }), 202);
    const stream = `cameo-${registered.id}`;
    const shown = new Map<number, Cameo>();
    const view = async () => answer<Cameo>(await call('alice', 'GET', `/v1/cameos/${registered.id}`), 200);

    const verified = await eventually(
      async () => {
        const cameo = await view();
        if (cameo.status === 'rejected') throw new Error(`cameo ${cameo.id} was rejected`);
        return cameo.status === 'verified' ? cameo : undefined;
      },
      `cameo ${registered.id} to be verified`,
      45000,
      100,
    );
    // Only this test writes to the stream: its last revision now is the one GET showed.
    shown.set(Number((await stack.eventStore.readStream(stream, { direction: 'backwards', maxCount: 1 }))[0]!.revision), verified);
    const grant = await answer<{ revision: number }>(await call('alice', 'POST', `/v1/cameos/${registered.id}/grants`, { json: { user_id: ids.bob } }), 201);
    shown.set(grant.revision, await view());
    const revoked = await answer<{ revision: number }>(await call('alice', 'DELETE', `/v1/cameos/${registered.id}/grants/${ids.bob}`), 200);
    shown.set(revoked.revision, await view());
    expect(shown.get(grant.revision)!.grants.map((g) => g.user_id)).toEqual([ids.bob]);
    expect(shown.get(revoked.revision)!.grants).toEqual([]);

    type CameoState = {
      cameoId: string;
      ownerId: string;
      displayName: string;
      status: string;
      permission: string;
      createdAt: number;
      revision: number;
      grants: Record<string, { revision: number; granted_at: number }>;
    };
    for (const [revision, cameo] of shown) {
      const asOf = await answer<DebugStream<CameoState>>(await call('admin', 'GET', streamRoute(stream, revision)), 200);
      const s = asOf.state;
      expect(s.revision).toBe(revision);
      expect({
        id: s.cameoId,
        owner_id: s.ownerId,
        display_name: s.displayName,
        status: s.status,
        permission: s.permission,
        created_at: s.createdAt,
        grants: Object.entries(s.grants).map(([userId, g]) => ({ user_id: userId, revision: g.revision, granted_at: g.granted_at })),
      }).toEqual({
        id: cameo.id,
        owner_id: cameo.owner_id,
        display_name: cameo.display_name,
        status: cameo.status,
        permission: cameo.permission,
        created_at: cameo.created_at,
        grants: cameo.grants,
      });
    }
    // As of its first event the cameo was pending.
    const pending = await answer<DebugStream<CameoState>>(await call('admin', 'GET', streamRoute(stream, 0)), 200);
    expect(pending).toMatchObject({
      category: 'cameo',
      revision: 0,
      last_revision: revoked.revision,
      whole_stream: false,
      state: { status: 'pending', grants: {} },
    });
  }, 60000);

  it('a user stream folds to whom they follow, as the follow endpoints left it', async () => {
    await answer(await call('alice', 'POST', `/v1/users/${ids.bob}/follow`), 200);
    await answer(await call('alice', 'POST', `/v1/users/${ids.admin}/follow`), 200);
    await answer(await call('alice', 'DELETE', `/v1/users/${ids.bob}/follow`), 200);
    const whole = await answer<DebugStream<{ followees: string[] }>>(await call('admin', 'GET', streamRoute(`user-${ids.alice}`)), 200);
    expect(whole).toMatchObject({ category: 'user', revision: 2, whole_stream: true, state: { followees: [ids.admin] } });
    expect(whole.events.map((e) => e.type)).toEqual(['UserFollowed', 'UserFollowed', 'UserUnfollowed']);
    const asOf = await answer<DebugStream<{ followees: string[] }>>(await call('admin', 'GET', streamRoute(`user-${ids.alice}`, 1)), 200);
    expect(asOf.state).toEqual({ followees: [ids.bob, ids.admin] });
  });

  it('an event its category cannot fold → 422 stream_unfoldable naming it; the revision before it still folds', async () => {
    const stream = `moderation-case_${randomUUID().replace(/-/g, '')}`;
    await stack.eventStore.appendToStream(stream, [
      { id: randomUUID(), type: 'CaseOpened', data: { case_id: 'c', subject_id: 'video_x', stage: 'prompt', at: 1 } },
      { id: randomUUID(), type: 'CaseExploded', data: {} },
    ]);
    const problem = await answer<Problem>(await call('admin', 'GET', streamRoute(stream)), 422);
    expect(problem).toMatchObject({ error: { code: 'stream_unfoldable' } });
    expect(problem.detail).toMatch(new RegExp(`^${stream} at revision 1: CaseExploded: not an event of a moderation stream`));
    const before = await answer<DebugStream>(await call('admin', 'GET', streamRoute(stream, 0)), 200);
    expect(before).toMatchObject({ revision: 0, last_revision: 1, whole_stream: false, state: { caseId: 'c', status: 'open' } });
  });

  it('bad input → 400 naming the field; an unknown stream → 404 stream_not_found', async () => {
    for (const bad of ['abc', '-1', '1.5', '1e3', '']) {
      const problem = await answer<Problem>(await call('admin', 'GET', `/v1/debug/streams/video-video_x?until_revision=${bad}`), 400);
      expect(problem).toMatchObject({ status: 400, error: { code: 'validation_failed', param: 'until_revision' } });
      expect(problem.detail).toMatch(/^until_revision: /);
    }
    for (const stream of ['feed-1', 'video', 'video-', '$all']) {
      const problem = await answer<Problem>(await call('admin', 'GET', streamRoute(stream)), 400);
      expect(problem).toMatchObject({ status: 400, error: { code: 'validation_failed', param: 'stream' } });
      expect(problem.detail).toBe('stream: is not <category>-<id> of a known category (video-<id>, cameo-<id>, user-<id>, moderation-<id>)');
    }
    const missing = await answer<Problem>(await call('admin', 'GET', streamRoute('video-video_00000000000000000000000000000000', 3)), 404);
    expect(missing).toMatchObject({ status: 404, error: { code: 'stream_not_found' }, detail: 'no stream video-video_00000000000000000000000000000000' });
  });

  it('anyone but an admin gets the 404 of a route that does not exist, whatever the input', async () => {
    const normalize = (p: Problem, route: string) => ({
      ...p,
      request_id: '-',
      instance: p.instance.replace(route, '<route>'),
      detail: p.detail.replace(route.split('?')[0]!, '<route>'),
      error: { ...p.error, message: p.error.message.replace(route.split('?')[0]!, '<route>') },
    });
    const nowhere = '/v1/debug/nowhere/video-x';
    const missingRoute = await call('alice', 'GET', nowhere);
    const expected = normalize(await answer<Problem>(missingRoute, 404), nowhere);
    expect(expected.error.code).toBe('route_not_found');
    for (const route of [streamRoute('video-video_x'), streamRoute('video-video_x', 'abc'), streamRoute('feed-1', 2)]) {
      const res = await call('alice', 'GET', route);
      expect(res.headers.get('content-type')).toBe(missingRoute.headers.get('content-type'));
      expect(normalize(await answer<Problem>(res, 404), route)).toEqual(expected);
    }
  });

  it("is in the OpenAPI document under the 'debug' tag", async () => {
    const doc = await answer<{ paths: Record<string, Record<string, { tags?: string[] }>> }>(await fetch(`${stack.url}/openapi.json`), 200);
    expect(doc.paths['/v1/debug/streams/{stream}']?.get?.tags).toEqual(['debug']);
  });
});
