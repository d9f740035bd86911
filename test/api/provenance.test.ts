// Content credentials on the real stack: every MP4 carries a C2PA manifest signed at mux time. The official reader
// (c2pa-python's Reader, c2pa-rs inside) validates the downloaded file, with no code of ours between, finds our
// assertions (the model pack and its files' hashes; a cameo's grant revision and consent chain head, as the event store
// and GET /v1/cameos/{id}/consent-history hold them), a remix's and an extension's parent ingredient; a byte changed in
// the video makes validation fail. GET /v1/videos/{id}/provenance reports the same.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { MODELS_DIR } from '../../infra/modelPacks';
import { createPgPool } from '../../infra/postgres/pool';
import { readTools } from '../../infra/tools';
import { startApiStack } from '../support/apiStack';
import { liveCameoClip } from '../support/clips';
import { eventually, testEnv } from '../support/env';

type Json = Record<string, any>;
type Headers = Record<string, string>;

const ctx = {} as { stack: Awaited<ReturnType<typeof startApiStack>>; owner: Headers; other: Headers; otherId: string };

beforeAll(async () => {
  ctx.stack = await startApiStack();
  ctx.owner = { authorization: `Bearer ${(await ctx.stack.user('provenance-owner')).apiKey}` };
  const other = await ctx.stack.user('provenance-other');
  ctx.other = { authorization: `Bearer ${other.apiKey}` };
  ctx.otherId = other.user.id;
}, 60_000);

afterAll(async () => {
  await ctx.stack?.stop();
});

async function post(url: string, body: Json, headers = ctx.owner, status = 200): Promise<Json> {
  const res = await fetch(`${ctx.stack.url}${url}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect({ status: res.status }).toEqual({ status });
  return (await res.json()) as Json;
}

const get = (url: string, headers = ctx.owner) => fetch(`${ctx.stack.url}${url}`, { headers });
/** The video once it has ended, whichever way. */
const ended = (id: string, headers = ctx.owner) =>
  eventually(
    async () => {
      const v = (await (await get(`/v1/videos/${id}`, headers)).json()) as Json;
      return ['completed', 'failed', 'cancelled'].includes(v.status) ? v : undefined;
    },
    `video ${id} to end`,
    180_000,
    100,
  );
const completed = (id: string, headers = ctx.owner) =>
  eventually(
    async () => {
      const v = (await (await get(`/v1/videos/${id}`, headers)).json()) as Json;
      if (['failed', 'cancelled'].includes(v.status)) throw new Error(`video ${id} ended ${v.status}: ${JSON.stringify(v.error)}`);
      return v.status === 'completed' ? v : undefined;
    },
    `video ${id} to complete`,
    180_000,
    100,
  );

async function download(id: string, headers = ctx.owner): Promise<string> {
  const res = await get(`/v1/videos/${id}/content`, headers);
  expect(res.status).toBe(200);
  const file = path.join(testEnv.tmpDir, `provenance-${id}.mp4`);
  fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  return file;
}

// c2pa-python's Reader on the file: the validation state, the failures, and the active manifest.
const READ = `
import json, sys, c2pa
with open(sys.argv[1], 'rb') as f:
    r = c2pa.Reader('video/mp4', f)
    results = r.get_validation_results() or {}
    print(json.dumps({'state': r.get_validation_state(), 'failures': (results.get('activeManifest') or {}).get('failure', []), 'manifest': r.get_active_manifest()}))
`;

function officialRead(file: string): { state: string; failures: Json[]; manifest: Json } {
  const python = readTools().c2pa?.path;
  if (!python) throw new Error('no c2pa-python: run node scripts/bootstrap.js');
  return JSON.parse(execFileSync(python, ['-c', READ, file], { encoding: 'utf8' })) as { state: string; failures: Json[]; manifest: Json };
}

// The development chain is untrusted (no trust list names its CA): that is the one failure allowed; integrity is not.
const integrityFailures = (read: { failures: Json[] }) => read.failures.filter((f) => f.code !== 'signingCredential.untrusted');

const assertion = (manifest: Json, label: string) => (manifest.assertions as Json[]).find((a) => a.label === label)?.data as Json | undefined;

// The reference pack that rendered every video here, as its files hash now (not as its manifest says).
const PACK = path.join(MODELS_DIR, 'reference');
const packHashes = () =>
  Object.fromEntries(
    ['text.onnx', 'video.onnx', 'audio.onnx', 'upscaler.onnx', 'vocab.json', 'vocab-features.json'].map((file) => [
      file,
      createHash('sha256')
        .update(fs.readFileSync(path.join(PACK, file)))
        .digest('hex'),
    ]),
  );

/** A verified cameo of the owner (the real recording of a face saying the challenge's phrase), for those approved, granted to `other`. */
async function grantedCameo(): Promise<string> {
  const { challenge_id } = await post('/v1/cameos/challenges', {}, ctx.owner, 201);
  const form = new FormData();
  form.append('challenge_id', challenge_id);
  form.append('display_name', 'Provenance');
  form.append('permission', 'approved');
  form.append('recording', new Blob([fs.readFileSync(await liveCameoClip())], { type: 'video/mp4' }), 'me.mp4');
  const res = await fetch(`${ctx.stack.url}/v1/cameos`, { method: 'POST', headers: ctx.owner, body: form });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as Json;
  await eventually(
    async () => {
      const cameo = (await (await get(`/v1/cameos/${id}`)).json()) as Json;
      if (cameo.status === 'rejected') throw new Error(`cameo ${id} was rejected: ${cameo.reject_reason}`);
      return cameo.status === 'verified' ? cameo : undefined;
    },
    `cameo ${id} to be verified`,
    45_000,
    100,
  );
  await post(`/v1/cameos/${id}/grants`, { user_id: ctx.otherId }, ctx.owner, 201);
  return id as string;
}

describe('content credentials (C2PA)', () => {
  it('a generated MP4 validates with the official reader, states how it was made, and a remix names its parent', async () => {
    const { id } = await post('/v1/videos', { prompt: 'a green ball rolls across a table', seconds: 4, size: '256x256' });
    await completed(id);
    const file = await download(id);
    const read = officialRead(file);
    expect(integrityFailures(read)).toEqual([]);
    expect(read.state).toBe('Valid');
    expect(assertion(read.manifest, 'c2pa.actions.v2')?.actions).toEqual([
      expect.objectContaining({ action: 'c2pa.created', digitalSourceType: 'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia' }),
    ]);
    const ours = assertion(read.manifest, 'dev.reelforge.generation');
    expect(ours).toMatchObject({ video_id: id, seed: expect.any(Number), cameos: [] });
    expect(ours!.model_pack).toEqual({ name: 'reference', version: '1.0.0', hashes: packHashes() });

    // The API reports the same manifest and its validation; someone else cannot see a private video's.
    const res = await get(`/v1/videos/${id}/provenance`);
    expect(res.status).toBe(200);
    const provenance = (await res.json()) as Json;
    expect(provenance).toMatchObject({ object: 'video.provenance', video_id: id, validation_state: 'Valid' });
    const active = provenance.manifest_store.manifests[provenance.manifest_store.active_manifest];
    expect(assertion(active, 'dev.reelforge.generation')).toEqual(ours);
    expect((await get(`/v1/videos/${id}/provenance`, ctx.other)).status).toBe(404);

    const remix = await post(`/v1/videos/${id}/remix`, { prompt: 'make the ball blue' });
    await completed(remix.id);
    const child = officialRead(await download(remix.id));
    expect(integrityFailures(child)).toEqual([]);
    expect(child.state).toBe('Valid');
    expect(child.manifest.ingredients).toEqual([expect.objectContaining({ relationship: 'parentOf', title: `${id}.mp4` })]);
    expect(assertion(child.manifest, 'dev.reelforge.generation')).toMatchObject({ video_id: remix.id, seed: ours!.seed, parent_video_id: id });

    // One byte of the video's media data changed: the hash no longer matches.
    const bytes = fs.readFileSync(file);
    const mdat = bytes.indexOf('mdat');
    expect(mdat).toBeGreaterThan(0);
    bytes[mdat + 1000] ^= 0xff;
    const tampered = path.join(testEnv.tmpDir, `provenance-${id}-tampered.mp4`);
    fs.writeFileSync(tampered, bytes);
    const broken = officialRead(tampered);
    expect(broken.state).toBe('Invalid');
    expect(broken.failures.map((f) => f.code)).toContain('assertion.bmffHash.mismatch');
  }, 300_000);

  it("a cameo video states the consent it rests on: the grant revision the event store holds and the consent chain's head", async () => {
    const cameoId = await grantedCameo();
    const { id } = await post('/v1/videos', { prompt: 'a red ball bounces', seconds: 2, size: '256x256', cameo_ids: [cameoId] }, ctx.other);
    await completed(id, ctx.other);
    const read = officialRead(await download(id, ctx.other));
    expect(integrityFailures(read)).toEqual([]);
    expect(read.state).toBe('Valid');
    const ours = assertion(read.manifest, 'dev.reelforge.generation')!;

    // The revision of the grant the use rests on, as the cameo's stream records the use: the grant to `other`.
    const stream = await ctx.stack.eventStore.readStream(`cameo-${cameoId}`);
    const used = stream.find((e) => e.type === 'CameoUsed' && (e.data as Json).video_id === id)!;
    const granted = stream.find((e) => e.type === 'CameoAccessGranted' && (e.data as Json).user_id === ctx.otherId)!;
    expect((used.data as Json).grant_revision).toBe(Number(granted.revision));
    // The consent history as its owner sees it: nothing was appended since the mux (the video is not published), so
    // its head now is its head when the MP4 was signed, the use of this video.
    const history = (await (await get(`/v1/cameos/${cameoId}/consent-history`)).json()) as Json;
    expect(history.chain).toMatchObject({ valid: true, checked: stream.length });
    expect(history.events.at(-1)).toMatchObject({ type: 'CameoUsed', data: { video_id: id } });
    expect(ours.cameos).toEqual([{ cameo_id: cameoId, grant_revision: (used.data as Json).grant_revision, consent_head_hash: history.chain.head_hash }]);
    expect(ours.model_pack).toEqual({ name: 'reference', version: '1.0.0', hashes: packHashes() });

    // Its registration changed in the database behind the event store's back: the history no longer verifies, and the
    // next video with it is not signed as resting on it. It fails at the mux, naming the revision that broke.
    const pool = createPgPool({ connectionString: testEnv.embeddedPgUrl, max: 1 });
    try {
      const { rows } = await pool.query<{ table_schema: string }>(
        `SELECT table_schema FROM information_schema.tables WHERE table_name = 'events' AND table_schema LIKE 'stack_es_%'`,
      );
      let changed = 0;
      for (const { table_schema } of rows) {
        const res = await pool.query(
          `UPDATE "${table_schema}".events SET data = jsonb_set(data, '{display_name}', '"Someone Else"') WHERE stream_name = $1 AND revision = 0`,
          [`cameo-${cameoId}`],
        );
        changed += res.rowCount ?? 0;
      }
      expect(changed).toBe(1);
    } finally {
      await pool.end();
    }
    const next = await post('/v1/videos', { prompt: 'a blue ball bounces', seconds: 1, size: '256x256', cameo_ids: [cameoId] }, ctx.other);
    expect(await ended(next.id, ctx.other)).toMatchObject({
      status: 'failed',
      error: { code: 'mux_failed', message: expect.stringMatching(new RegExp(`cameo ${cameoId}'s consent history fails its hash chain \\(revision 0: `)) },
    });
  }, 300_000);

  it('an extension names its source as its parentOf ingredient', async () => {
    const source = await post('/v1/videos', { prompt: 'a yellow ball rolls', seconds: 1, size: '256x256' });
    await completed(source.id);
    const extension = await post('/v1/videos/extensions', { prompt: 'and it keeps rolling', seconds: 1, video: { id: source.id } });
    expect(extension.extended_from_video_id).toBe(source.id);
    await completed(extension.id);
    const read = officialRead(await download(extension.id));
    expect(integrityFailures(read)).toEqual([]);
    expect(read.state).toBe('Valid');
    expect(read.manifest.ingredients).toEqual([expect.objectContaining({ relationship: 'parentOf', title: `${source.id}.mp4` })]);
    expect(assertion(read.manifest, 'dev.reelforge.generation')).toMatchObject({
      video_id: extension.id,
      parent_video_id: source.id,
      cameos: [],
      model_pack: { name: 'reference', version: '1.0.0', hashes: packHashes() },
    });
  }, 300_000);
});
