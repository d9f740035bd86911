// Content credentials on the real stack: every MP4 carries a C2PA manifest signed at mux time. The official reader
// (c2pa-python's Reader, c2pa-rs inside) validates the downloaded file, with no code of ours between, finds our
// assertions and a remix's parent ingredient; a byte changed in the video makes validation fail.
// GET /v1/videos/{id}/provenance reports the same.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readTools } from '../../infra/tools';
import { startApiStack } from '../support/apiStack';
import { eventually, testEnv } from '../support/env';

type Json = Record<string, any>;

const ctx = {} as { stack: Awaited<ReturnType<typeof startApiStack>>; owner: Record<string, string>; other: Record<string, string> };

beforeAll(async () => {
  ctx.stack = await startApiStack();
  ctx.owner = { authorization: `Bearer ${(await ctx.stack.user('provenance-owner')).apiKey}` };
  ctx.other = { authorization: `Bearer ${(await ctx.stack.user('provenance-other')).apiKey}` };
}, 60_000);

afterAll(async () => {
  await ctx.stack?.stop();
});

async function post(url: string, body: Json): Promise<Json> {
  const res = await fetch(`${ctx.stack.url}${url}`, {
    method: 'POST',
    headers: { ...ctx.owner, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Json;
}

const get = (url: string, headers = ctx.owner) => fetch(`${ctx.stack.url}${url}`, { headers });
const completed = (id: string) =>
  eventually(
    async () => {
      const v = (await (await get(`/v1/videos/${id}`)).json()) as Json;
      if (['failed', 'cancelled'].includes(v.status)) throw new Error(`video ${id} ended ${v.status}: ${JSON.stringify(v.error)}`);
      return v.status === 'completed' ? v : undefined;
    },
    `video ${id} to complete`,
    180_000,
    100,
  );

async function download(id: string): Promise<string> {
  const res = await get(`/v1/videos/${id}/content`);
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
});
