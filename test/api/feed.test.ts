// Likes, lineage, the feed and view counting over HTTP against the real stack (API server, projector with every read
// model, event store); videos are made by appending their events straight to the store, as the workflows would.
import { randomBytes, randomUUID } from 'node:crypto';
import { contentKeys } from '../../domain/video/content';
import { planChunks, type VideoEvent } from '../../domain/video';
import { startApiStack } from '../support/apiStack';
import { eventually } from '../support/env';

type Stack = Awaited<ReturnType<typeof startApiStack>>;
let stack: Stack;
const keys = { alice: '', bob: '', carol: '' };
const ids = { alice: '', bob: '', carol: '' };

beforeAll(async () => {
  stack = await startApiStack();
  for (const who of ['alice', 'bob', 'carol'] as const) {
    const created = await stack.user(`${who}_${randomUUID().slice(0, 6)}`);
    keys[who] = created.apiKey;
    ids[who] = created.user.id;
  }
});
afterAll(async () => {
  await stack?.stop();
});

async function call(who: keyof typeof keys, method: string, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack.url}${path}`, { method, headers: { authorization: `Bearer ${keys[who]}` } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const newVideoId = () => `video_${randomBytes(16).toString('hex')}`;

/** A completed video of `owner`, published unless told otherwise, seen by the read models before this returns. */
async function makeVideo(owner: keyof typeof ids, options: { publish?: boolean; remixOf?: string } = {}): Promise<string> {
  const id = newVideoId();
  const at = Math.floor(Date.now() / 1000) - 60;
  const keysOf = contentKeys(id);
  const events: VideoEvent[] = [
    {
      type: 'VideoRequested',
      data: {
        video_id: id,
        owner_id: ids[owner],
        prompt: `a ball for ${owner}`,
        model: 'reference',
        seconds: 1,
        size: '256x256',
        style: 'cinematic',
        camera: 'static',
        seed: 1,
        cameo_ids: [],
        publish: false,
        remixed_from_video_id: options.remixOf ?? null,
        extended_from_video_id: null,
        has_input_reference: false,
        at,
      },
    },
    { type: 'PromptModerated', data: { case_id: 'case_x', verdict: 'allow', categories: [], reasons: [], at } },
    { type: 'ChunksPlanned', data: { total: 1, fps: 24, frames: 24, chunks: planChunks(1, 24, 24), at } },
    { type: 'VideoChunkRendered', data: { index: 0, blob_key: 'v', frames: 24, collisions: [], at } },
    { type: 'AudioChunkRendered', data: { index: 0, blob_key: 'a', samples: 16000, at } },
    { type: 'Muxed', data: { content_key: keysOf.content, thumbnail_key: keysOf.thumbnail, spritesheet_key: keysOf.spritesheet, duration_s: 1, bytes: 4, at } },
    { type: 'OutputModerated', data: { case_id: 'case_y', verdict: 'allow', categories: [], reasons: [], at } },
    { type: 'VideoCompleted', data: { at } },
  ];
  if (options.publish !== false) events.push({ type: 'VideoPublished', data: { by: ids[owner], cameo_uses: [], at: at + 1 } });
  await stack.eventStore.appendToStream(
    `video-${id}`,
    events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data })),
  );
  // The owner's list answers from the videos read model only (GET /v1/videos/{id} answers from the stream before it).
  await eventually(async () => {
    const list = await call(owner, 'GET', '/v1/videos?limit=100');
    return (list.body as { data: { id: string }[] }).data.some((v) => v.id === id) ? true : undefined;
  }, `video ${id} in the read model`);
  return id;
}

async function typesOf(id: string): Promise<string[]> {
  return (await stack.eventStore.readStream(`video-${id}`)).map((e) => e.type);
}

describe('likes, lineage and the feed over HTTP', () => {
  it('likes and unlikes idempotently, one event each, and only on videos the caller may see', async () => {
    const published = await makeVideo('alice');
    const first = await call('bob', 'POST', `/v1/videos/${published}/likes`);
    expect(first).toEqual({ status: 200, body: { id: published, object: 'video.like', liked: true, likes: 1 } });
    expect((await call('bob', 'POST', `/v1/videos/${published}/likes`)).body).toMatchObject({ liked: true, likes: 1 });
    expect((await call('carol', 'POST', `/v1/videos/${published}/likes`)).body).toMatchObject({ liked: true, likes: 2 });
    expect((await typesOf(published)).filter((t) => t === 'VideoLiked')).toHaveLength(2);
    expect((await call('bob', 'DELETE', `/v1/videos/${published}/likes`)).body).toMatchObject({ liked: false, likes: 1 });
    expect((await call('bob', 'DELETE', `/v1/videos/${published}/likes`)).body).toMatchObject({ liked: false, likes: 1 });
    expect((await typesOf(published)).filter((t) => t === 'VideoUnliked')).toHaveLength(1);

    const draft = await makeVideo('alice', { publish: false });
    expect((await call('bob', 'POST', `/v1/videos/${draft}/likes`)).status).toBe(404);
    expect((await call('alice', 'POST', `/v1/videos/${draft}/likes`)).body).toMatchObject({ liked: true, likes: 1 });
    const unknown = await call('bob', 'POST', `/v1/videos/${newVideoId()}/likes`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('video_not_found');
    expect((await call('bob', 'DELETE', `/v1/videos/not-a-video/likes`)).status).toBe(404);
  });

  it('answers lineage with ancestors parent first, and 404 for an unknown or hidden video', async () => {
    const root = await makeVideo('alice');
    const child = await makeVideo('bob', { remixOf: root });
    const grandchild = await makeVideo('carol', { remixOf: child });
    const hidden = await makeVideo('alice', { publish: false, remixOf: child });
    const lineage = await call('carol', 'GET', `/v1/videos/${grandchild}/lineage`);
    expect(lineage.status).toBe(200);
    expect(lineage.body.ancestors.map((a: { id: string }) => a.id)).toEqual([child, root]);
    expect(lineage.body.ancestors[1]).toMatchObject({ id: root, owner_id: ids.alice, prompt: 'a ball for alice' });
    expect(typeof lineage.body.ancestors[1].created_at).toBe('number');
    // carol does not see alice's private remix; alice does.
    expect((await call('carol', 'GET', `/v1/videos/${child}/lineage`)).body.children.map((c: { id: string }) => c.id)).toEqual([grandchild]);
    expect(new Set((await call('alice', 'GET', `/v1/videos/${child}/lineage`)).body.children.map((c: { id: string }) => c.id))).toEqual(
      new Set([grandchild, hidden]),
    );
    expect((await call('carol', 'GET', `/v1/videos/${hidden}/lineage`)).status).toBe(404);
    expect((await call('carol', 'GET', `/v1/videos/${newVideoId()}/lineage`)).status).toBe(404);
  });

  it('pages the feed, follows only followees with following=true, and refuses a bad cursor or limit naming the parameter', async () => {
    const mine = await makeVideo('carol');
    await makeVideo('bob');
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await call('alice', 'GET', `/v1/feed?limit=2${after ? `&after=${after}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.object).toBe('list');
      seen.push(...page.body.data.map((v: { id: string }) => v.id));
      if (!page.body.has_more) break;
      after = page.body.last_id;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toContain(mine);

    expect((await call('alice', 'POST', `/v1/users/${ids.carol}/follow`)).status).toBe(200);
    const following = await call('alice', 'GET', '/v1/feed?following=true&limit=100');
    expect(following.status).toBe(200);
    expect(following.body.data.length).toBeGreaterThan(0);
    for (const v of following.body.data) expect(v.owner_id).toBe(ids.carol);
    expect(following.body.data[0]).toMatchObject({ object: 'video', visibility: 'published', status: 'completed' });

    // Text the document allows but no cursor: 422 (a 400 says the request breaks the document).
    const badCursor = await call('alice', 'GET', '/v1/feed?after=garbage!!');
    expect(badCursor.status).toBe(422);
    expect(badCursor.body.error.param).toBe('after');
    for (const limit of [101, 0]) {
      const bad = await call('alice', 'GET', `/v1/feed?limit=${limit}`);
      expect(bad.status).toBe(400);
      expect(bad.body.error.param).toBe('limit');
    }

    // A cursor of a walk begun two hours ago (cursors live an hour): 410 cursor_expired, suggesting a fresh walk.
    const first = await call('alice', 'GET', '/v1/feed?limit=1');
    const cursor = JSON.parse(Buffer.from(first.body.last_id, 'base64url').toString('utf8')) as { t: number; w?: number };
    const aged = Buffer.from(JSON.stringify({ ...cursor, t: cursor.t - 7200, w: (cursor.w ?? cursor.t) - 7200 })).toString('base64url');
    const expired = await call('alice', 'GET', `/v1/feed?limit=1&after=${aged}`);
    expect(expired.status).toBe(410);
    expect(expired.body.error.code).toBe('cursor_expired');
    expect(expired.body.detail).toMatch(/start a fresh walk with GET \/v1\/feed without after/);
  });

  it('counts a viewer once per window however many range requests, recorded as one VideoViewed batch', async () => {
    const id = await makeVideo('alice');
    await stack.blobs.put(contentKeys(id).content, Buffer.from('mp4!'));
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${stack.url}/v1/videos/${id}/content`, { headers: { authorization: `Bearer ${keys.bob}`, range: `bytes=${i % 4}-3` } });
      expect(res.status).toBe(206);
      await res.arrayBuffer();
    }
    await (await fetch(`${stack.url}/v1/videos/${id}/content`, { headers: { authorization: `Bearer ${keys.carol}` } })).arrayBuffer();
    const viewed = await eventually(async () => {
      const events = (await stack.eventStore.readStream(`video-${id}`)).filter((e) => e.type === 'VideoViewed');
      return events.length > 0 ? events : undefined;
    }, 'views to be flushed');
    // Six requests, two viewers: two views (in one batch, or two if a flush fell between them), never six events.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const all = (await stack.eventStore.readStream(`video-${id}`)).filter((e) => e.type === 'VideoViewed');
    expect(viewed.length).toBeGreaterThan(0);
    expect(all.reduce((n, e) => n + (e.data as { count: number }).count, 0)).toBe(2);
    expect(all.length).toBeLessThanOrEqual(2);
  });
});
