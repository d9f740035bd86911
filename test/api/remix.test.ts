// Remixes, edits and extensions over HTTP against the real stack: who may build on which video (published: anyone;
// a draft: its owner only; taken down: 409; unknown: 404), what a bad body is told, and the source's cameos asked for
// the remixer's consent again (a remixer without it ends blocked, consent_missing).
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Role } from '../../infra/users/port';
import { startApiStack } from '../support/apiStack';
import { liveCameoClip } from '../support/clips';
import { eventually } from '../support/env';
import type { Problem } from '../../api/plugins/errors';
import { seedVideo as seedVideoStream } from '../support/seedVideo';

interface Video {
  id: string;
  status: string;
  stage: string;
  prompt: string;
  seconds: string;
  seed: number;
  owner_id: string;
  remixed_from_video_id: string | null;
  extended_from_video_id: string | null;
  error: { code: string; message: string } | null;
}

type Who = 'alice' | 'bob' | 'carol';
let stack: Awaited<ReturnType<typeof startApiStack>>;
const keys = {} as Record<Who, string>;
const ids = {} as Record<Who, string>;

function call(who: Who, method: string, route: string, json?: unknown, body?: FormData): Promise<Response> {
  return fetch(`${stack.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${keys[who]}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: json !== undefined ? JSON.stringify(json) : body,
  });
}

async function ok<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect({ status: res.status, text }).toEqual({ status, text: expect.any(String) });
  return JSON.parse(text) as T;
}

/** A completed video of `owner` recorded through the decider: a draft, published, or published then taken down. */
function seedVideo(owner: Who, visibility: 'private' | 'published' | 'taken_down', cameoIds: string[] = [], content?: Buffer): Promise<string> {
  return seedVideoStream(stack.eventStore, {
    ownerId: ids[owner],
    cameoIds,
    seed: 5,
    ...(content ? { content } : {}),
    then: (_id, at) => [
      ...(visibility !== 'private' ? [{ type: 'PublishVideo' as const, data: { by: ids[owner], cameo_uses: [], at } }] : []),
      ...(visibility === 'taken_down' ? [{ type: 'TakeDownVideo' as const, data: { by: ids.carol, reason: 'cameo owner', at } }] : []),
    ],
  });
}

const finished = (who: Who, id: string) =>
  eventually(
    async () => {
      const video = await ok<Video>(await call(who, 'GET', `/v1/videos/${id}`));
      return ['completed', 'failed', 'cancelled'].includes(video.status) ? video : undefined;
    },
    `video ${id} to finish`,
    60000,
    200,
  );

beforeAll(async () => {
  stack = await startApiStack();
  const roles: Record<Who, Role> = { alice: 'user', bob: 'user', carol: 'user' };
  for (const [who, role] of Object.entries(roles) as Array<[Who, Role]>) {
    const created = await stack.user(who, role);
    keys[who] = created.apiKey;
    ids[who] = created.user.id;
  }
});

afterAll(async () => {
  await stack?.stop();
});

describe('POST /v1/videos/:id/remix, /v1/videos/edits, /v1/videos/extensions', () => {
  it("remixes someone else's published video: a new video of the caller's, with the source's seed and size", async () => {
    const source = await seedVideo('alice', 'published');
    const remix = await ok<Video>(await call('bob', 'POST', `/v1/videos/${source}/remix`, { prompt: 'make them blue' }));
    expect(remix).toMatchObject({
      remixed_from_video_id: source,
      extended_from_video_id: null,
      owner_id: ids.bob,
      prompt: 'make them blue',
      seed: 5,
      seconds: '1',
    });
    expect(remix.id).not.toBe(source);
    const edit = await ok<Video>(await call('bob', 'POST', '/v1/videos/edits', { prompt: 'add rain', video: { id: source } }));
    expect(edit).toMatchObject({ remixed_from_video_id: source, owner_id: ids.bob });
    expect(await finished('bob', remix.id)).toMatchObject({ status: 'completed', stage: 'completed' });
    expect(await finished('bob', edit.id)).toMatchObject({ status: 'completed' });
    const events = await ok<Array<{ type: string; data: Record<string, unknown> }>>(await call('bob', 'GET', `/v1/videos/${remix.id}/events`));
    expect(events.find((e) => e.type === 'SceneDescribed')?.data).toMatchObject({ source: 'remix', prompt_used: 'make them blue', seed: 5 });
    // Both recorded on the parent's stream, which its owner reads.
    await eventually(
      async () => {
        const parent = await ok<Array<{ type: string; data: { child_video_id?: string } }>>(await call('alice', 'GET', `/v1/videos/${source}/events`));
        const children = parent.filter((e) => e.type === 'VideoRemixed').map((e) => e.data.child_video_id);
        return children.length === 2 ? children : undefined;
      },
      'VideoRemixed on the parent',
      10000,
      100,
    ).then((children) => expect(children.sort()).toEqual([remix.id, edit.id].sort()));
  });

  it('an Idempotency-Key gives the same video for the same body, and 409 for another', async () => {
    const source = await seedVideo('alice', 'published');
    const key = randomUUID();
    const post = (prompt: string) =>
      fetch(`${stack.url}/v1/videos/${source}/remix`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.bob}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ prompt }),
      });
    const first = await ok<Video>(await post('make them blue'));
    const again = await post('make them blue');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await ok<Video>(again)).id).toBe(first.id);
    expect((await ok<Problem>(await post('make them green'), 409)).error.code).toBe('idempotency_key_reused');
  });

  it("an extension's seconds are the source's plus the new ones", async () => {
    const source = await seedVideo('alice', 'private');
    const extension = await ok<Video>(await call('alice', 'POST', '/v1/videos/extensions', { prompt: 'and then', seconds: 3, video: { id: source } }));
    expect(extension).toMatchObject({ extended_from_video_id: source, remixed_from_video_id: null, seconds: '4', owner_id: ids.alice });
  });

  it("someone else's draft and an unknown video are 404; a taken-down video is 409", async () => {
    const draft = await seedVideo('alice', 'private');
    const code = async (res: Response, status: number) => (await ok<Problem>(res, status)).error.code;
    expect(await code(await call('bob', 'POST', `/v1/videos/${draft}/remix`, { prompt: 'blue' }), 404)).toBe('video_not_found');
    expect(await code(await call('bob', 'POST', '/v1/videos/edits', { prompt: 'blue', video: { id: draft } }), 404)).toBe('video_not_found');
    expect(await code(await call('bob', 'POST', '/v1/videos/extensions', { prompt: 'more', seconds: 2, video: { id: draft } }), 404)).toBe('video_not_found');
    const unknown = `video_${randomBytes(16).toString('hex')}`;
    expect(await code(await call('bob', 'POST', `/v1/videos/${unknown}/remix`, { prompt: 'blue' }), 404)).toBe('video_not_found');
    expect(await code(await call('bob', 'POST', '/v1/videos/remix-of-nothing/remix', { prompt: 'blue' }), 404)).toBe('video_not_found');
    const takenDown = await seedVideo('alice', 'taken_down');
    expect(await code(await call('bob', 'POST', `/v1/videos/${takenDown}/remix`, { prompt: 'blue' }), 409)).toBe('video_taken_down');
    expect(await code(await call('alice', 'POST', '/v1/videos/extensions', { prompt: 'more', seconds: 2, video: { id: takenDown } }), 409)).toBe(
      'video_taken_down',
    );
  });

  it('a bad body is a 400 naming the field', async () => {
    const source = await seedVideo('alice', 'published');
    const param = async (res: Response) => (await ok<Problem>(res, 400)).error.param;
    expect(await param(await call('bob', 'POST', `/v1/videos/${source}/remix`, {}))).toBe('prompt');
    expect(await param(await call('bob', 'POST', `/v1/videos/${source}/remix`, { prompt: '' }))).toBe('prompt');
    expect(await param(await call('bob', 'POST', '/v1/videos/edits', { prompt: 'blue' }))).toBe('video');
    expect(await param(await call('bob', 'POST', '/v1/videos/extensions', { prompt: 'more', seconds: 0, video: { id: source } }))).toBe('seconds');
    expect(await param(await call('bob', 'POST', '/v1/videos/extensions', { prompt: 'more', seconds: 21, video: { id: source } }))).toBe('seconds');
    expect(await param(await call('bob', 'POST', '/v1/videos/extensions', { seconds: 2, video: { id: source } }))).toBe('prompt');
  });

  it('the three routes are in the OpenAPI document under the videos tag, behind the API key', async () => {
    const doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { tags?: string[]; security?: unknown; responses: Record<string, unknown> }>>;
    };
    for (const route of ['/v1/videos/{id}/remix', '/v1/videos/edits', '/v1/videos/extensions']) {
      const post = doc.paths[route]?.post;
      expect(post).toBeDefined();
      expect(post!.tags).toEqual(['videos']);
      expect(post!.security).toEqual([{ bearer: [] }]);
      expect(Object.keys(post!.responses)).toEqual(expect.arrayContaining(['200', '400', '404', '409']));
    }
  });

  it('a remix of a video with a cameo the remixer may not use ends failed, blocked, consent_missing', async () => {
    // Carol's verified cameo, granted to Alice only.
    const { challenge_id } = await ok<{ challenge_id: string }>(await call('carol', 'POST', '/v1/cameos/challenges'), 201);
    const form = new FormData();
    form.append('challenge_id', challenge_id);
    form.append('display_name', 'Carol');
    form.append('recording', new Blob([fs.readFileSync(await liveCameoClip())], { type: 'video/mp4' }), 'me.mp4');
    const cameo = await ok<{ id: string }>(await call('carol', 'POST', '/v1/cameos', undefined, form), 202);
    await eventually(
      async () => {
        const c = await ok<{ status: string }>(await call('carol', 'GET', `/v1/cameos/${cameo.id}`));
        if (c.status === 'rejected') throw new Error('the cameo was rejected');
        return c.status === 'verified' ? c : undefined;
      },
      'the cameo to be verified',
      45000,
      100,
    );
    await ok(await call('carol', 'POST', `/v1/cameos/${cameo.id}/grants`, { user_id: ids.alice }), 201);

    const source = await seedVideo('alice', 'published', [cameo.id]);
    const remix = await ok<Video>(await call('bob', 'POST', `/v1/videos/${source}/remix`, { prompt: 'make them blue' }));
    expect(await finished('bob', remix.id)).toMatchObject({ status: 'failed', stage: 'blocked', error: { code: 'consent_missing' } });
  });

  describe('the source as a video file (multipart, as openai-python sends it)', () => {
    const form = (fields: Record<string, string>, file?: Buffer, name = 'video') => {
      const data = new FormData();
      for (const [k, v] of Object.entries(fields)) data.append(k, v);
      if (file) data.append(name, new Blob([file], { type: 'video/mp4' }), 'video.mp4');
      return data;
    };
    /** Stands for an MP4 of the platform: what matters is that the read model knows its bytes' SHA-256. */
    const mp4 = () => Buffer.concat([Buffer.from('\x00\x00\x00\x18ftypmp42', 'latin1'), randomBytes(4096)]);
    /**
     * The read model has folded the seeded video's Muxed (its hash) once the owner's list, which only the read model
     * answers, shows it completed (GET /v1/videos/{id} answers from the stream before).
     */
    const seeded = async (owner: Who, visibility: 'private' | 'published', content: Buffer) => {
      const id = await seedVideo(owner, visibility, [], content);
      await eventually(async () => {
        const list = await ok<{ data: Video[] }>(await call(owner, 'GET', '/v1/videos?limit=100'));
        return list.data.find((v) => v.id === id)?.status === 'completed' ? true : undefined;
      }, `video ${id} in the read model`);
      return id;
    };

    it("a file that is one of the caller's videos, or a published one, stands for that video in edits and extensions", async () => {
      const own = mp4();
      const draft = await seeded('alice', 'private', own);
      const extension = await ok<Video>(await call('alice', 'POST', '/v1/videos/extensions', undefined, form({ prompt: 'and then', seconds: '2' }, own)));
      expect(extension).toMatchObject({ extended_from_video_id: draft, seconds: '3', owner_id: ids.alice });
      const published = mp4();
      const source = await seeded('alice', 'published', published);
      const edit = await ok<Video>(await call('bob', 'POST', '/v1/videos/edits', undefined, form({ prompt: 'add rain' }, published)));
      expect(edit).toMatchObject({ remixed_from_video_id: source, owner_id: ids.bob, prompt: 'add rain' });
    });

    it("a file the platform did not make, or someone else's draft, is 422 unknown_video_file naming video", async () => {
      const problem = async (res: Response) => (await ok<Problem>(res, 422)).error;
      const foreign = await problem(await call('bob', 'POST', '/v1/videos/edits', undefined, form({ prompt: 'add rain' }, mp4())));
      expect(foreign).toMatchObject({ code: 'unknown_video_file', param: 'video', type: 'invalid_request_error' });
      expect(foreign.message).toMatch(/SHA-256 [0-9a-f]{64}/);
      // Alice's draft exists, but Bob may not use it: the same answer, so its existence does not leak.
      const hers = mp4();
      await seeded('alice', 'private', hers);
      expect(await problem(await call('bob', 'POST', '/v1/videos/extensions', undefined, form({ prompt: 'more', seconds: '2' }, hers)))).toMatchObject({
        code: 'unknown_video_file',
      });
    });

    it('a form without the file, with a bad field, or another content type is refused naming what is wrong', async () => {
      const param = async (res: Response, status = 400) => (await ok<Problem>(res, status)).error.param;
      expect(await param(await call('bob', 'POST', '/v1/videos/edits', undefined, form({ prompt: 'add rain' })))).toBe('video');
      expect(await param(await call('bob', 'POST', '/v1/videos/extensions', undefined, form({ prompt: 'more', seconds: '0' }, mp4())))).toBe('seconds');
      expect(await param(await call('bob', 'POST', '/v1/videos/edits', undefined, form({ prompt: '' }, mp4())))).toBe('prompt');
      expect(await param(await call('bob', 'POST', '/v1/videos/edits', undefined, form({ prompt: 'x', video: 'video_123' })))).toBe('video');
      expect(await param(await call('bob', 'POST', '/v1/videos/edits', undefined, form({ prompt: 'x' }, mp4(), 'clip')))).toBe('clip');
      const text = await fetch(`${stack.url}/v1/videos/edits`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.bob}`, 'content-type': 'text/plain' },
        body: 'edit it',
      });
      expect(await param(text, 415)).toBe('Content-Type');
      const none = await fetch(`${stack.url}/v1/videos/edits`, { method: 'POST', headers: { authorization: `Bearer ${keys.bob}` } });
      expect(await param(none)).toBe('body');
    });

    it('a non-image input_reference on POST /v1/videos is a 422 naming input_reference', async () => {
      const data = new FormData();
      data.append('prompt', 'two balls');
      data.append('input_reference', new Blob([mp4()], { type: 'image/png' }), 'backdrop.png');
      const refused = await ok<Problem>(await call('bob', 'POST', '/v1/videos', undefined, data), 422);
      expect(refused.error).toMatchObject({ param: 'input_reference', code: 'unprocessable_content' });
    });

    it('a form naming its source twice must name one video: the file and a different video[id] are a 422', async () => {
      const own = mp4();
      const draft = await seeded('alice', 'private', own);
      const same = form({ prompt: 'add rain' }, own);
      same.append('video[id]', draft);
      expect(await ok<Video>(await call('alice', 'POST', '/v1/videos/edits', undefined, same))).toMatchObject({ remixed_from_video_id: draft });
      const other = form({ prompt: 'add rain' }, own);
      other.append('video[id]', `video_${'0'.repeat(32)}`);
      const refused = await ok<Problem>(await call('alice', 'POST', '/v1/videos/edits', undefined, other), 422);
      expect(refused.error).toMatchObject({ param: 'video', code: 'video_file_mismatch' });
    });

    it('the OpenAPI document describes both forms of edits and extensions, the file as binary, and the 422', async () => {
      type FormSchema = { properties: Record<string, { type?: string; format?: string }>; required: string[]; anyOf: { required: string[] }[] };
      type Op = { requestBody: { content: Record<string, { schema: FormSchema }> }; responses: Record<string, unknown> };
      const doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as { paths: Record<string, { post: Op }> };
      for (const [route, fields] of [
        ['/v1/videos/edits', ['prompt']],
        ['/v1/videos/extensions', ['prompt', 'seconds']],
      ] as const) {
        const op = doc.paths[route]!.post;
        expect(Object.keys(op.requestBody.content).sort()).toEqual(['application/json', 'multipart/form-data']);
        const formSchema = op.requestBody.content['multipart/form-data']!.schema;
        expect(formSchema.properties.video).toMatchObject({ type: 'string', format: 'binary' });
        // The source: the file (openai-python), or `video[id]` (the openai Node SDK's encoding of {id}).
        expect(formSchema.properties['video[id]']).toMatchObject({ type: 'string' });
        expect(formSchema.anyOf).toEqual([{ required: ['video'] }, { required: ['video[id]'] }]);
        expect([...formSchema.required].sort()).toEqual([...fields].sort());
        expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['413', '415', '422']));
      }
    });
  });
});
