// The Cameos API over HTTP against the real stack (startApiStack: the orchestration worker runs cameoWorkflow and the
// real recording verification): registration with a liveness challenge, what an upload is refused for, who may see
// and change a cameo (a table over every endpoint and role), grants and revocations with their hash-chained consent
// history (and what tampering with it shows), appearances and takedowns, follows and the `mutuals` permission.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import OpenAI, { toFile } from 'openai';
import { createPgPool, type PgPool } from '../../infra/postgres/pool';
import { connectTemporalClient, type TemporalClient } from '../../infra/temporal/connection';
import type { Role } from '../../infra/users/port';
import { reserveUseUpdate } from '../../workflows/definitions';
import { RECORDING_MAX_BYTES } from '../../scripts/harness/stack';
import { startApiStack } from '../support/apiStack';
import { cameoClip, cameoTestPhrase, liveCameoClip, patternClip, stillClip, textFile } from '../support/clips';
import { eventually, testEnv } from '../support/env';
import type { Problem as ProblemBody } from '../../api/plugins/errors';
import { seedVideo as seedVideoStream } from '../support/seedVideo';

interface Cameo {
  id: string;
  object: 'cameo';
  owner_id: string;
  display_name: string;
  status: 'pending' | 'verified' | 'rejected' | 'deleted';
  permission: string;
  grants: Array<{ user_id: string; revision: number; granted_at: number }>;
  created_at: number;
  reject_reason: string | null;
}

interface ConsentEvent {
  revision: number;
  type: string;
  actor_id: string | null;
  at: number | null;
  data: Record<string, unknown>;
  hash: string;
  prev_hash: string;
}

interface ChainReport {
  valid: boolean;
  head_hash: string;
  problems: Array<{ revision: number; problem: string }>;
}

type Stack = Awaited<ReturnType<typeof startApiStack>>;
type Who = 'owner' | 'grantee' | 'stranger' | 'moderator' | 'auditor' | 'admin' | 'friend' | 'bob' | 'carol';

let stack: Stack;
let pool: PgPool;
let temporal: TemporalClient;
const keys = {} as Record<Who, string>;
const ids = {} as Record<Who, string>;
const clips = { talking: '', music: '', still: '' };

type CallOptions = { json?: unknown; body?: RequestInit['body']; headers?: Record<string, string> };

function call(who: Who | null, method: string, route: string, options: CallOptions = {}): Promise<Response> {
  return fetch(`${stack.url}${route}`, {
    method,
    headers: {
      ...(who ? { authorization: `Bearer ${keys[who]}` } : {}),
      ...(options.json !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
  });
}

async function ok<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect({ status: res.status, text }).toEqual({ status, text: expect.any(String) });
  return JSON.parse(text) as T;
}

async function problem(res: Response, status: number): Promise<ProblemBody> {
  const body = await ok<ProblemBody>(res, status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return body;
}

async function challenge(who: Who): Promise<{ challenge_id: string; phrase: string; expires_at: number }> {
  return ok(await call(who, 'POST', '/v1/cameos/challenges'), 201);
}

function form(fields: Record<string, string>, file?: { path?: string; bytes?: Buffer; name: string; type: string; field?: string }): FormData {
  const data = new FormData();
  for (const [k, v] of Object.entries(fields)) data.append(k, v);
  if (file) data.append(file.field ?? 'recording', new Blob([file.bytes ?? fs.readFileSync(file.path!)], { type: file.type }), file.name);
  return data;
}

const mp4 = (path: string) => ({ path, name: 'me.mp4', type: 'video/mp4' });

async function register(who: Who, fields: Record<string, string>, file = mp4(clips.talking)): Promise<Cameo> {
  const { challenge_id } = await challenge(who);
  return ok<Cameo>(await call(who, 'POST', '/v1/cameos', { body: form({ challenge_id, ...fields }, file) }), 202);
}

async function until(id: string, status: Cameo['status'], who: Who = 'owner'): Promise<Cameo> {
  return eventually(
    async () => {
      const cameo = (await (await call(who, 'GET', `/v1/cameos/${id}`)).json()) as Cameo;
      if (cameo.status !== 'pending' && cameo.status !== status) throw new Error(`cameo ${id} is ${cameo.status}: ${cameo.reject_reason}`);
      return cameo.status === status ? cameo : undefined;
    },
    `cameo ${id} to be ${status}`,
    45000,
    100,
  );
}

async function history(who: Who, id: string): Promise<{ events: ConsentEvent[]; chain: ChainReport }> {
  return ok(await call(who, 'GET', `/v1/cameos/${id}/consent-history`), 200);
}

/** The schema of the stack's event store: the one whose events table holds this stream. */
async function eventsTableOf(stream: string): Promise<string> {
  const schemas = await pool.query<{ table_schema: string }>(
    `SELECT table_schema FROM information_schema.tables WHERE table_name = 'events' AND table_schema LIKE 'stack_es_%'`,
  );
  for (const { table_schema } of schemas.rows) {
    const found = await pool.query(`SELECT 1 FROM "${table_schema}".events WHERE stream_name = $1 LIMIT 1`, [stream]);
    if (found.rowCount) return `"${table_schema}".events`;
  }
  throw new Error(`no events table holds ${stream}`);
}

/** A video recorded through the decider (requested by `ownerId` with `cameoIds`), finished or still at moderation. */
const seedVideo = (ownerId: string, cameoIds: string[], finished: boolean) =>
  seedVideoStream(stack.eventStore, { ownerId, cameoIds, finished, prompt: 'a person waving at the camera' });

const missingCameo = () => `cameo_${randomBytes(16).toString('hex')}`;

beforeAll(async () => {
  // Real media: the animated face photograph saying the test phrase, and the same face over music (test/support/clips).
  const [started, talking, music, still] = await Promise.all([startApiStack(), liveCameoClip(), cameoClip('live', 'music'), stillClip()]);
  stack = started;
  Object.assign(clips, { talking, music, still });
  pool = createPgPool({ connectionString: testEnv.embeddedPgUrl, max: 2 });
  temporal = connectTemporalClient({ temporalAddress: testEnv.temporalAddress, temporalDevPort: 0, temporalNamespace: 'default' });
  const roles: Record<Who, Role> = {
    owner: 'user',
    grantee: 'user',
    stranger: 'user',
    moderator: 'moderator',
    auditor: 'auditor',
    admin: 'admin',
    friend: 'user',
    bob: 'user',
    carol: 'user',
  };
  for (const [who, role] of Object.entries(roles) as Array<[Who, Role]>) {
    const created = await stack.user(who, role);
    keys[who] = created.apiKey;
    ids[who] = created.user.id;
  }
});

afterAll(async () => {
  await temporal?.close();
  await pool?.end();
  await stack?.stop();
});

describe('registration', () => {
  it('a challenge, then a recording of the phrase: 202 pending, then verified', async () => {
    const chal = await challenge('owner');
    expect(chal.challenge_id).toMatch(/^chal_[0-9a-f]{32}$/);
    // The harness's API runs with CAMEO_PHRASES naming one phrase: the transcript of the recording the clip speaks.
    expect(chal.phrase).toBe(cameoTestPhrase());
    const now = Date.now() / 1000;
    expect(chal.expires_at).toBeGreaterThan(now + 9 * 60);
    expect(chal.expires_at).toBeLessThanOrEqual(now + 10 * 60 + 5);

    const res = await call('owner', 'POST', '/v1/cameos', { body: form({ challenge_id: chal.challenge_id, display_name: 'Alice' }, mp4(clips.talking)) });
    const cameo = await ok<Cameo>(res, 202);
    expect(cameo).toMatchObject({ object: 'cameo', owner_id: ids.owner, display_name: 'Alice', status: 'pending', permission: 'only_me', grants: [] });
    expect(cameo.id).toMatch(/^cameo_[0-9a-f]{32}$/);
    expect(await stack.blobs.exists(`cameos/${cameo.id}/recording`)).toBe(true);
    const verified = await until(cameo.id, 'verified');
    expect(verified).toMatchObject({ reject_reason: null, reject_code: null });
    const registered = (await stack.eventStore.readStream(`cameo-${cameo.id}`))[0]!;
    expect(registered.data).toMatchObject({ challenge_id: chal.challenge_id, phrase: chal.phrase, recording_key: `cameos/${cameo.id}/recording` });

    // Single use: the same challenge again is refused, naming it.
    const again = await problem(
      await call('owner', 'POST', '/v1/cameos', { body: form({ challenge_id: chal.challenge_id, display_name: 'Alice' }, mp4(clips.talking)) }),
      422,
    );
    expect(again.error.param).toBe('challenge_id');
    expect(again.detail).toMatch(/already used/);
  });

  it('a still image or a text file is refused by its content, and nothing is recorded; the challenge stays usable', async () => {
    const chal = await challenge('owner');
    const blobsBefore = await stack.blobs.list('cameos');
    // Named and typed as videos: only the bytes decide.
    const still = await problem(
      await call('owner', 'POST', '/v1/cameos', {
        body: form({ challenge_id: chal.challenge_id, display_name: 'Alice' }, { path: clips.still, name: 'me.mp4', type: 'video/mp4' }),
      }),
      422,
    );
    expect(still.detail).toBe('recording: a still image, not a video');
    expect(still.error).toMatchObject({ param: 'recording', code: 'unprocessable_content' });
    const text = await problem(
      await call('owner', 'POST', '/v1/cameos', { body: form({ challenge_id: chal.challenge_id, display_name: 'Alice' }, mp4(textFile())) }),
      422,
    );
    expect(text.detail).toBe('recording: not a video file');

    expect(await stack.blobs.list('cameos')).toEqual(blobsBefore);
    const registrations = (await stack.eventStore.readAll()).filter(
      (e) => e.type === 'CameoRegistered' && (e.data as { challenge_id: string }).challenge_id === chal.challenge_id,
    );
    expect(registrations).toEqual([]);

    // The same challenge with a real recording of music, not speech: accepted for upload, then rejected by verification.
    const music = await ok<Cameo>(
      await call('owner', 'POST', '/v1/cameos', { body: form({ challenge_id: chal.challenge_id, display_name: 'Quiet Alice' }, mp4(clips.music)) }),
      202,
    );
    expect(music.status).toBe('pending');
    const rejected = await until(music.id, 'rejected');
    expect(rejected).toMatchObject({ reject_code: 'no_speech', reject_reason: expect.stringMatching(/^no speech/) });
  });

  it("refuses a bad form with every field named; another user's, unknown or expired challenge names challenge_id", async () => {
    const post = (who: Who, body: FormData) => call(who, 'POST', '/v1/cameos', { body });
    const mine = await challenge('owner');
    const several = await problem(await post('owner', form({ challenge_id: mine.challenge_id, display_name: 'x'.repeat(81), permission: 'friends' })), 400);
    expect(several.errors!.map((e) => e.field).sort()).toEqual(['display_name', 'permission', 'recording']);

    const theirs = await challenge('stranger');
    expect((await problem(await post('owner', form({ challenge_id: theirs.challenge_id, display_name: 'A' }, mp4(clips.talking))), 422)).error.param).toBe(
      'challenge_id',
    );
    const unknown = `chal_${randomBytes(16).toString('hex')}`;
    expect((await problem(await post('owner', form({ challenge_id: unknown, display_name: 'A' }, mp4(clips.talking))), 422)).error.param).toBe('challenge_id');
    expect((await problem(await post('owner', form({ display_name: 'A' }, mp4(clips.talking))), 400)).error.param).toBe('challenge_id');

    const schemas = await pool.query<{ table_schema: string }>(`SELECT table_schema FROM information_schema.tables WHERE table_name = 'cameo_challenges'`);
    for (const { table_schema } of schemas.rows) {
      await pool.query(`UPDATE "${table_schema}".cameo_challenges SET expires_at = now() - interval '1 second' WHERE id = $1`, [mine.challenge_id]);
    }
    const expired = await problem(await post('owner', form({ challenge_id: mine.challenge_id, display_name: 'A' }, mp4(clips.talking))), 422);
    expect(expired.errors).toEqual([{ field: 'challenge_id', message: expect.stringMatching(/expired/) }]);

    const big = Buffer.concat([fs.readFileSync(clips.talking).subarray(0, 64), Buffer.alloc(RECORDING_MAX_BYTES)]);
    const tooLarge = await problem(
      await post('owner', form({ challenge_id: theirs.challenge_id, display_name: 'A' }, { bytes: big, name: 'big.mp4', type: 'video/mp4' })),
      413,
    );
    expect(tooLarge.error.param).toBe('recording');
    const json = await problem(await call('owner', 'POST', '/v1/cameos', { json: { challenge_id: mine.challenge_id, display_name: 'A' } }), 415);
    expect(json.error.param).toBe('Content-Type');
  });

  it('the OpenAI SDK creates and retrieves a character: a cameo of the caller without a challenge (non-human: no face in it)', async () => {
    const client = new OpenAI({ apiKey: keys.friend, baseURL: `${stack.url}/v1`, maxRetries: 0 });
    const character = await client.videos.createCharacter({
      name: 'Fred',
      video: await toFile(fs.readFileSync(await patternClip()), 'fred.mov', { type: 'video/quicktime' }),
    });
    expect(character).toMatchObject({ id: expect.stringMatching(/^cameo_/), name: 'Fred', created_at: expect.any(Number) });
    expect(await client.videos.getCharacter(character.id!)).toMatchObject({ id: character.id, name: 'Fred', created_at: character.created_at });
    const cameo = await until(character.id!, 'verified', 'friend');
    expect(cameo).toMatchObject({ owner_id: ids.friend, display_name: 'Fred', permission: 'only_me' });
    expect((await stack.eventStore.readStream(`cameo-${character.id}`))[0]!.data).toMatchObject({ challenge_id: null, phrase: null });
  });
});

describe('who may see and change a cameo', () => {
  let subject: Cameo;
  let doomed: Cameo;

  beforeAll(async () => {
    // Two cameos set up alike (approved, the grantee holding a grant): the deletions land on the second.
    [subject, doomed] = await Promise.all([
      register('owner', { display_name: 'Subject', permission: 'approved' }),
      register('owner', { display_name: 'Doomed', permission: 'approved' }),
    ]);
    await Promise.all([until(subject.id, 'verified'), until(doomed.id, 'verified')]);
    for (const cameo of [subject, doomed]) await ok(await call('owner', 'POST', `/v1/cameos/${cameo.id}/grants`, { json: { user_id: ids.grantee } }), 201);
  });

  type Endpoint = { name: string; request: (who: Who, id: string) => Promise<Response>; onDoomed?: boolean };
  const endpoints: Record<string, Endpoint> = {
    get: { name: 'GET /v1/cameos/:id', request: (who, id) => call(who, 'GET', `/v1/cameos/${id}`) },
    character: { name: 'GET /v1/videos/characters/:id', request: (who, id) => call(who, 'GET', `/v1/videos/characters/${id}`) },
    appearances: { name: 'GET /v1/cameos/:id/appearances', request: (who, id) => call(who, 'GET', `/v1/cameos/${id}/appearances`) },
    history: { name: 'GET /v1/cameos/:id/consent-history', request: (who, id) => call(who, 'GET', `/v1/cameos/${id}/consent-history`) },
    permission: {
      name: 'PUT /v1/cameos/:id/permission',
      request: (who, id) => call(who, 'PUT', `/v1/cameos/${id}/permission`, { json: { permission: 'approved' } }),
    },
    grant: { name: 'POST /v1/cameos/:id/grants', request: (who, id) => call(who, 'POST', `/v1/cameos/${id}/grants`, { json: { user_id: ids.friend } }) },
    revoke: { name: 'DELETE /v1/cameos/:id/grants/:user_id', request: (who, id) => call(who, 'DELETE', `/v1/cameos/${id}/grants/${ids.friend}`) },
    delete: { name: 'DELETE /v1/cameos/:id', request: (who, id) => call(who, 'DELETE', `/v1/cameos/${id}`), onDoomed: true },
  };
  const roles = ['stranger', 'grantee', 'moderator', 'auditor', 'admin', 'owner'] as const;
  // Rows in this order, the owner last in each: the owner's changes (a grant to `friend`, its revocation, the
  // deletion) happen after everyone else has been refused.
  const table: Record<keyof typeof endpoints, Record<(typeof roles)[number], number>> = {
    get: { stranger: 404, grantee: 200, moderator: 200, auditor: 200, admin: 200, owner: 200 },
    character: { stranger: 404, grantee: 200, moderator: 200, auditor: 200, admin: 200, owner: 200 },
    appearances: { stranger: 404, grantee: 404, moderator: 404, auditor: 404, admin: 200, owner: 200 },
    history: { stranger: 404, grantee: 404, moderator: 404, auditor: 200, admin: 200, owner: 200 },
    permission: { stranger: 404, grantee: 403, moderator: 403, auditor: 403, admin: 403, owner: 200 },
    grant: { stranger: 404, grantee: 403, moderator: 403, auditor: 403, admin: 403, owner: 201 },
    revoke: { stranger: 404, grantee: 403, moderator: 403, auditor: 403, admin: 403, owner: 200 },
    // Admins may delete any cameo (recorded as an admin's deletion); the owner's deletion after it is a no-op 200.
    delete: { stranger: 404, grantee: 403, moderator: 403, auditor: 403, admin: 200, owner: 200 },
  };
  const cells = Object.entries(table).flatMap(([endpoint, byRole]) => roles.map((role) => [endpoints[endpoint]!.name, role, byRole[role], endpoint] as const));

  /** A problem with the parts that name the request (the id, the path, the request id) taken out. */
  const comparable = (body: ProblemBody, id: string) => ({
    ...body,
    instance: undefined,
    request_id: undefined,
    detail: body.detail.replaceAll(id, '<id>'),
    error: { ...body.error, message: body.error.message.replaceAll(id, '<id>') },
  });

  it.each(cells)('%s as %s → %i', async (_name, role, expected, endpoint) => {
    const ep = endpoints[endpoint]!;
    const cameo = ep.onDoomed ? doomed : subject;
    const res = await ep.request(role, cameo.id);
    if (expected >= 400) {
      const body = await problem(res, expected);
      if (expected === 403) expect(body.error.code).toBe('forbidden');
      if (expected === 404) {
        expect(body.error.code).toBe('cameo_not_found');
        // Not seeing an existing cameo reads exactly as asking for one that does not exist.
        const missing = missingCameo();
        const absent = await problem(await ep.request(role, missing), 404);
        expect(comparable(body, cameo.id)).toEqual(comparable(absent, missing));
      }
    } else {
      await ok(res, expected);
    }
  });

  it("the owner's changes in the table took effect: the grant came and went, the second cameo is deleted", async () => {
    const after = await ok<Cameo>(await call('owner', 'GET', `/v1/cameos/${subject.id}`), 200);
    expect(after.grants.map((g) => g.user_id)).toEqual([ids.grantee]);
    expect((await ok<Cameo>(await call('owner', 'GET', `/v1/cameos/${doomed.id}`), 200)).status).toBe('deleted');
    // A deleted cameo is gone for its grantees, and can no longer be changed.
    expect((await problem(await call('grantee', 'GET', `/v1/cameos/${doomed.id}`), 404)).error.code).toBe('cameo_not_found');
    expect((await problem(await call('owner', 'POST', `/v1/cameos/${doomed.id}/grants`, { json: { user_id: ids.friend } }), 409)).error.code).toBe(
      'cameo_deleted',
    );
    // Deleting again changes nothing and says so the same way.
    expect(await ok(await call('owner', 'DELETE', `/v1/cameos/${doomed.id}?take_down=true`), 200)).toEqual({
      id: doomed.id,
      object: 'cameo.deleted',
      deleted: true,
    });
    expect((await problem(await call('owner', 'DELETE', `/v1/cameos/${doomed.id}?take_down=maybe`), 400)).error.param).toBe('take_down');
    // A grantee sees only their own grant, not who else holds one.
    await ok(await call('owner', 'POST', `/v1/cameos/${subject.id}/grants`, { json: { user_id: ids.friend } }), 201);
    expect((await ok<Cameo>(await call('grantee', 'GET', `/v1/cameos/${subject.id}`), 200)).grants.map((g) => g.user_id)).toEqual([ids.grantee]);
    expect((await ok<Cameo>(await call('auditor', 'GET', `/v1/cameos/${subject.id}`), 200)).grants.map((g) => g.user_id)).toEqual([ids.grantee, ids.friend]);
  });

  it('mutuals: a user who follows the owner and is followed back sees the cameo; a one-way follow does not', async () => {
    await ok(await call('owner', 'PUT', `/v1/cameos/${subject.id}/permission`, { json: { permission: 'mutuals' } }), 200);
    const seenByBob = async () => (await call('bob', 'GET', `/v1/cameos/${subject.id}`)).status;
    expect(await seenByBob()).toBe(404);
    expect(await ok(await call('bob', 'POST', `/v1/users/${ids.owner}/follow`), 200)).toEqual({ following: true });
    expect(await seenByBob()).toBe(404);
    expect(await ok(await call('owner', 'POST', `/v1/users/${ids.bob}/follow`), 200)).toEqual({ following: true });
    expect(await seenByBob()).toBe(200);
    await ok(await call('bob', 'DELETE', `/v1/users/${ids.owner}/follow`), 200);
    expect(await seenByBob()).toBe(404);
    // The grantee's grant counts under mutuals too; under only_me only the owner and staff see it.
    expect((await call('grantee', 'GET', `/v1/cameos/${subject.id}`)).status).toBe(200);
  });
});

describe('grants, revocations and the consent history', () => {
  let cameo: Cameo;
  const revisions = { grantee: 0, friend: 0, revokeFriend: 0 };

  beforeAll(async () => {
    cameo = await register('owner', { display_name: 'Ledger', permission: 'approved' });
    await until(cameo.id, 'verified');
  });

  it('grants get increasing revisions, repeat grants answer the same one, a revocation of no grant is 404', async () => {
    const grant = (userId: string) => call('owner', 'POST', `/v1/cameos/${cameo.id}/grants`, { json: { user_id: userId } });
    const first = await ok<{ user_id: string; revision: number; granted_at: number }>(await grant(ids.grantee), 201);
    const second = await ok<{ revision: number }>(await grant(ids.friend), 201);
    expect(first).toMatchObject({ user_id: ids.grantee, granted_at: expect.any(Number) });
    expect(second.revision).toBeGreaterThan(first.revision);
    expect(await ok(await grant(ids.grantee), 201)).toEqual(first);
    expect((await problem(await grant('user_nobody'), 422)).error.param).toBe('user_id');
    expect((await problem(await grant(ids.owner), 422)).error.param).toBe('user_id');
    expect((await problem(await call('owner', 'PUT', `/v1/cameos/${cameo.id}/permission`, { json: { permission: 'friends' } }), 400)).error.param).toBe(
      'permission',
    );

    const revoked = await ok<{ revision: number; revoked_at: number }>(await call('owner', 'DELETE', `/v1/cameos/${cameo.id}/grants/${ids.friend}`), 200);
    expect(revoked.revision).toBeGreaterThan(second.revision);
    expect(revoked.revoked_at).toEqual(expect.any(Number));
    expect((await problem(await call('owner', 'DELETE', `/v1/cameos/${cameo.id}/grants/${ids.friend}`), 404)).error.code).toBe('grant_not_found');
    expect((await problem(await call('owner', 'DELETE', `/v1/cameos/${cameo.id}/grants/${ids.stranger}`), 404)).error.code).toBe('grant_not_found');
    expect((await ok<Cameo>(await call('owner', 'GET', `/v1/cameos/${cameo.id}`), 200)).grants).toEqual([first]);
    Object.assign(revisions, { grantee: first.revision, friend: second.revision, revokeFriend: revoked.revision });
  });

  it('appearances list the videos that use the cameo; its owner takes a finished one down, not one still rendering', async () => {
    // Uses are reserved by the videos' generations; here the test reserves them as a generation would.
    const cameoWorkflow = temporal.client.workflow.getHandle(`cameo-${cameo.id}`);
    const finished = await seedVideo(ids.grantee, [cameo.id], true);
    const rendering = await seedVideo(ids.grantee, [cameo.id], false);
    const unseen = `video_${randomBytes(16).toString('hex')}`;
    for (const videoId of [finished, rendering, unseen]) {
      await cameoWorkflow.executeUpdate(reserveUseUpdate, { args: [{ video_id: videoId, user_id: ids.grantee, mutual: false }] });
    }
    const appearances = await eventually(async () => {
      const list = await ok<{ object: 'list'; data: Array<Record<string, unknown>> }>(await call('owner', 'GET', `/v1/cameos/${cameo.id}/appearances`), 200);
      return list.data.find((a) => a.video_id === rendering)?.status ? list : undefined;
    }, 'the videos read model to show the seeded videos');
    const byVideo = Object.fromEntries(appearances.data.map((a) => [a.video_id, a]));
    expect(byVideo[finished]).toMatchObject({
      user_id: ids.grantee,
      use_status: 'active',
      basis: 'grant',
      grant_revision: revisions.grantee,
      status: 'completed',
      visibility: 'private',
    });
    expect(byVideo[rendering]).toMatchObject({ use_status: 'active', status: 'in_progress' });
    expect(byVideo[unseen]).toMatchObject({ use_status: 'active', status: null, stage: null, visibility: null });
    expect((await problem(await call('grantee', 'GET', `/v1/cameos/${cameo.id}/appearances`), 404)).error.code).toBe('cameo_not_found');

    expect((await problem(await call('stranger', 'DELETE', `/v1/videos/${finished}`), 404)).error.code).toBe('video_not_found');
    expect((await problem(await call('owner', 'DELETE', `/v1/videos/${rendering}`), 409)).error.code).toBe('video_not_finished');
    expect(await ok(await call('owner', 'DELETE', `/v1/videos/${finished}`), 200)).toEqual({ id: finished, object: 'video.deleted', deleted: true });
    expect(await ok(await call('grantee', 'GET', `/v1/videos/${finished}`), 200)).toMatchObject({ visibility: 'taken_down' });

    // Revoking the grantee blocks the uses still in progress.
    await ok(await call('owner', 'DELETE', `/v1/cameos/${cameo.id}/grants/${ids.grantee}`), 200);
    const after = await ok<{ data: Array<Record<string, unknown>> }>(await call('owner', 'GET', `/v1/cameos/${cameo.id}/appearances`), 200);
    expect(after.data.find((a) => a.video_id === rendering)).toMatchObject({ use_status: 'blocked', blocked_code: 'consent_revoked' });
  });

  it('the consent history lists every event in order, chained; the JSONL export has a line per event and the chain', async () => {
    const { events, chain } = await history('owner', cameo.id);
    expect(events.map((e) => e.revision)).toEqual(events.map((_, i) => i));
    expect(events.slice(0, 8).map((e) => e.type)).toEqual([
      'CameoRegistered',
      'CameoVerificationChecked',
      'CameoVerificationChecked',
      'CameoVerificationChecked',
      'CameoVerified',
      'CameoAccessGranted',
      'CameoAccessGranted',
      'CameoAccessRevoked',
    ]);
    expect(events[revisions.grantee]).toMatchObject({ type: 'CameoAccessGranted', actor_id: ids.owner, data: { user_id: ids.grantee } });
    expect(events[revisions.revokeFriend]).toMatchObject({ type: 'CameoAccessRevoked', data: { user_id: ids.friend } });
    expect(events.filter((e) => e.type === 'CameoUsed')).toHaveLength(3);
    // The grantee's revocation, and with it the blocking of their three uses still in progress.
    expect(events.slice(-4).map((e) => e.type)).toEqual(['CameoAccessRevoked', 'CameoUseBlocked', 'CameoUseBlocked', 'CameoUseBlocked']);
    expect(events[0]!.prev_hash).toBe('0'.repeat(64));
    for (let i = 1; i < events.length; i++) expect(events[i]!.prev_hash).toBe(events[i - 1]!.hash);
    expect(chain).toMatchObject({ valid: true, head_hash: events.at(-1)!.hash, problems: [] });
    expect((await history('auditor', cameo.id)).chain.valid).toBe(true);

    for (const res of [
      await call('owner', 'GET', `/v1/cameos/${cameo.id}/consent-history?format=jsonl`),
      await call('admin', 'GET', `/v1/cameos/${cameo.id}/consent-history`, { headers: { accept: 'application/x-ndjson' } }),
    ]) {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
      const lines = (await res.text())
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toHaveLength(events.length + 1);
      expect(lines.slice(0, -1)).toEqual(events);
      expect(lines.at(-1)).toEqual({ chain });
    }
  });

  it('an event changed in the database after it was recorded breaks the chain at that revision', async () => {
    const table = await eventsTableOf(`cameo-${cameo.id}`);
    const changed = await pool.query(`UPDATE ${table} SET data = jsonb_set(data, '{user_id}', to_jsonb($3::text)) WHERE stream_name = $1 AND revision = $2`, [
      `cameo-${cameo.id}`,
      revisions.friend,
      ids.stranger,
    ]);
    expect(changed.rowCount).toBe(1);
    const { events, chain } = await history('auditor', cameo.id);
    expect(events[revisions.friend]!.data.user_id).toBe(ids.stranger);
    expect(chain.valid).toBe(false);
    expect(chain.problems.map((p) => p.revision)).toEqual([revisions.friend]);
    expect(chain.problems[0]!.problem).toMatch(/changed after it was recorded/);
  });
});

describe('follows', () => {
  it('following and unfollowing are idempotent: a repeat records nothing', async () => {
    const stream = async () =>
      (await stack.eventStore.readStream(`user-${ids.carol}`).catch(() => [])).map((e) => [
        e.type,
        (e.data as { followee_id: string }).followee_id,
        e.metadata.actor,
      ]);
    const follow = (method: string) => call('carol', method, `/v1/users/${ids.friend}/follow`);
    expect(await ok(await follow('POST'), 200)).toEqual({ following: true });
    expect(await ok(await follow('POST'), 200)).toEqual({ following: true });
    expect(await stream()).toEqual([['UserFollowed', ids.friend, ids.carol]]);
    expect(await ok(await follow('DELETE'), 200)).toEqual({ following: false });
    expect(await ok(await follow('DELETE'), 200)).toEqual({ following: false });
    expect(await stream()).toEqual([
      ['UserFollowed', ids.friend, ids.carol],
      ['UserUnfollowed', ids.friend, ids.carol],
    ]);
    expect((await problem(await call('carol', 'POST', '/v1/users/user_nobody/follow'), 404)).error.code).toBe('user_not_found');
    expect((await problem(await call('carol', 'POST', `/v1/users/${ids.carol}/follow`), 422)).error.param).toBe('id');
  });
});

describe('OpenAPI', () => {
  it('documents every cameo route under the `cameos` tag', async () => {
    const doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { tags?: string[]; responses: Record<string, unknown> }>>;
    };
    for (const [route, method] of [
      ['/v1/cameos/challenges', 'post'],
      ['/v1/cameos', 'post'],
      ['/v1/cameos/{id}', 'get'],
      ['/v1/cameos/{id}', 'delete'],
      ['/v1/cameos/{id}/permission', 'put'],
      ['/v1/cameos/{id}/grants', 'post'],
      ['/v1/cameos/{id}/grants/{user_id}', 'delete'],
      ['/v1/cameos/{id}/appearances', 'get'],
      ['/v1/cameos/{id}/consent-history', 'get'],
      ['/v1/videos/characters', 'post'],
      ['/v1/videos/characters/{id}', 'get'],
    ] as const) {
      expect({ route, method, tags: doc.paths[route]?.[method]?.tags }).toEqual({ route, method, tags: expect.arrayContaining(['cameos']) });
    }
    expect(doc.paths['/v1/users/{id}/follow']?.post).toBeDefined();
  });
});

describe('an unfollow that ends a mutual follow', () => {
  let cameo: Cameo;

  beforeAll(async () => {
    cameo = await register('owner', { display_name: 'Mutual', permission: 'mutuals' });
    await until(cameo.id, 'verified');
  });

  it('blocks the uses that rested on it, not yet published, as narrowing the permission does; a grant keeps its use', async () => {
    // carol and the owner follow each other: mutuals.
    await ok(await call('carol', 'POST', `/v1/users/${ids.owner}/follow`), 200);
    await ok(await call('owner', 'POST', `/v1/users/${ids.carol}/follow`), 200);
    const cameoWorkflow = temporal.client.workflow.getHandle(`cameo-${cameo.id}`);
    // Two videos of carol's with the cameo, reserved as a generation would (on the mutual follow), and one of the
    // grantee's on a grant.
    await ok(await call('owner', 'POST', `/v1/cameos/${cameo.id}/grants`, { json: { user_id: ids.grantee } }), 201);
    const [first, second, granted] = await Promise.all([
      seedVideo(ids.carol, [cameo.id], false),
      seedVideo(ids.carol, [cameo.id], false),
      seedVideo(ids.grantee, [cameo.id], false),
    ]);
    for (const [videoId, userId, mutual] of [
      [first, ids.carol, true],
      [second, ids.carol, true],
      [granted, ids.grantee, false],
    ] as const) {
      expect(await cameoWorkflow.executeUpdate(reserveUseUpdate, { args: [{ video_id: videoId, user_id: userId, mutual }] })).toMatchObject({
        basis: userId === ids.carol ? 'mutuals' : 'grant',
      });
    }
    const appearances = async () =>
      Object.fromEntries(
        (await ok<{ data: Array<Record<string, unknown>> }>(await call('owner', 'GET', `/v1/cameos/${cameo.id}/appearances`), 200)).data.map((a) => [
          a.video_id,
          a,
        ]),
      );
    await eventually(async () => ((await appearances())[second!] ? true : undefined), 'the appearances read model to show the uses');

    // The owner unfollows carol: the mutual follow ends.
    expect(await ok(await call('owner', 'DELETE', `/v1/users/${ids.carol}/follow`), 200)).toEqual({ following: false });
    const after = await appearances();
    expect(after[first!]).toMatchObject({ use_status: 'blocked', blocked_code: 'consent_revoked' });
    expect(after[second!]).toMatchObject({ use_status: 'blocked', blocked_code: 'consent_revoked' });
    expect(after[granted!]).toMatchObject({ use_status: 'active', basis: 'grant' });
    const { events, chain } = await history('owner', cameo.id);
    const blocked = events.filter((e) => e.type === 'CameoUseBlocked');
    expect(blocked.map((e) => (e.data as { video_id: string }).video_id).sort()).toEqual([first, second].sort());
    for (const e of blocked) {
      expect(e).toMatchObject({ actor_id: ids.owner, data: { user_id: ids.carol, code: 'consent_revoked' } });
      expect((e.data as { reason: string }).reason).toBe(`the mutual follow it rested on ended: ${ids.owner} unfollowed ${ids.carol}`);
    }
    expect(chain.valid).toBe(true);
    // Repeating the unfollow records nothing more.
    await ok(await call('owner', 'DELETE', `/v1/users/${ids.carol}/follow`), 200);
    expect((await history('owner', cameo.id)).events).toHaveLength(events.length);
  });
});
