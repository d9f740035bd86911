// `Prefer: wait=N` on POST /v1/videos over HTTP against the real stack (a GPU worker rendering on the CPU): a short video
// answers completed, a longer one answers what it is after about N seconds, bad values are 400 naming Prefer and
// create nothing, other preferences change nothing, and a client that goes away while waiting loses nothing.
import { startApiStack } from '../support/apiStack';
import { eventually } from '../support/env';

interface Video {
  id: string;
  status: string;
}

let stack: Awaited<ReturnType<typeof startApiStack>>;
let key: string;
const PROMPT = 'three red balls bouncing on a wooden floor';

function create(json: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${stack.url}/v1/videos`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(json),
    ...(signal ? { signal } : {}),
  });
}

async function ok(res: Response): Promise<Video> {
  const text = await res.text();
  expect({ status: res.status, text }).toEqual({ status: 200, text: expect.any(String) });
  return JSON.parse(text) as Video;
}

beforeAll(async () => {
  stack = await startApiStack();
  key = (await stack.user('walt')).apiKey;
});

afterAll(async () => {
  await stack?.stop();
});

it('Prefer: wait=60 holds a short video until it is completed, with Preference-Applied', async () => {
  const res = await create({ prompt: PROMPT, seconds: 1, size: '256x256' }, { prefer: 'wait=60' });
  expect(res.headers.get('preference-applied')).toBe('wait=60');
  const video = await ok(res);
  expect(video.status).toBe('completed');
  // The same body GET answers.
  const got = await ok(await fetch(`${stack.url}/v1/videos/${video.id}`, { headers: { authorization: `Bearer ${key}` } }));
  expect(got).toEqual(video);
}, 120000);

it('Prefer: wait=1 on a longer video answers its non-terminal state after about a second', async () => {
  const t0 = Date.now();
  const res = await create({ prompt: PROMPT, seconds: 12, size: '512x512' }, { prefer: 'respond-async, wait=1' });
  const elapsed = Date.now() - t0;
  const video = await ok(res);
  expect(res.headers.get('preference-applied')).toBe('wait=1');
  expect(['queued', 'in_progress']).toContain(video.status);
  expect(elapsed).toBeGreaterThanOrEqual(1000);
  expect(elapsed).toBeLessThan(8000); // about a second, with room for a loaded machine: far from the render
  await fetch(`${stack.url}/v1/videos/${video.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
}, 60000);

it('Prefer: wait holds a remix and an extension too, until completed; a remix takes the deadline field', async () => {
  const source = await ok(await create({ prompt: PROMPT, seconds: 1, size: '256x256' }, { prefer: 'wait=60' }));
  expect(source.status).toBe('completed');
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${stack.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const remix = await post(`/v1/videos/${source.id}/remix`, { prompt: 'three blue balls bouncing on a wooden floor' }, { prefer: 'wait=60' });
  expect(remix.headers.get('preference-applied')).toBe('wait=60');
  expect((await ok(remix)).status).toBe('completed');
  const extension = await post('/v1/videos/extensions', { prompt: PROMPT, seconds: 1, video: { id: source.id } }, { prefer: 'wait=60' });
  expect(extension.headers.get('preference-applied')).toBe('wait=60');
  expect((await ok(extension)).status).toBe('completed');

  const late = await post(`/v1/videos/${source.id}/remix`, { prompt: 'a green ball', deadline: Math.floor(Date.now() / 1000) - 1 });
  expect(late.status).toBe(422);
  expect(((await late.json()) as { error: { param: string } }).error.param).toBe('deadline');
  const bad = await post(`/v1/videos/${source.id}/remix`, { prompt: 'a green ball' }, { prefer: 'wait=forever' });
  expect(bad.status).toBe(400);
  const due = await ok(await post(`/v1/videos/${source.id}/remix`, { prompt: 'a green ball', deadline: Math.floor(Date.now() / 1000) + 600 }));
  expect(['queued', 'in_progress', 'completed']).toContain(due.status);
}, 180000);

it('refuses a wait that is not a whole number from 1 to 60 with 400 naming Prefer, creating nothing; other preferences change nothing', async () => {
  const list = async () =>
    ((await (await fetch(`${stack.url}/v1/videos?limit=100`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: Video[] }).data.length;
  const before = await list();
  for (const prefer of ['wait=0', 'wait=61', 'wait=abc', 'wait=1.5', 'wait=-3', 'wait=', 'wait', 'wait=1000000000000']) {
    const res = await create({ prompt: PROMPT, seconds: 1, size: '256x256' }, { prefer });
    const body = (await res.json()) as { error: { code: string; param: string }; detail: string };
    expect({ prefer, status: res.status, code: body.error.code, param: body.error.param }).toEqual({
      prefer,
      status: 400,
      code: 'validation_failed',
      param: 'Prefer',
    });
    expect(body.detail).toContain('1 to 60');
  }
  const plain = await create({ prompt: PROMPT, seconds: 1, size: '256x256' }, { prefer: 'return=minimal' });
  expect(plain.headers.get('preference-applied')).toBeNull();
  expect((await ok(plain)).status).toBe('queued');
  // Only the last request made a video.
  await eventually(async () => ((await list()) === before + 1 ? true : undefined), 'the one video listed', 10000, 100);
  await new Promise((r) => setTimeout(r, 500));
  expect(await list()).toBe(before + 1);
}, 60000);

it('a client that goes away while waiting loses nothing: the video is made all the same', async () => {
  const abort = new AbortController();
  const idempotencyKey = `wait-${Date.now()}`;
  const pending = create({ prompt: PROMPT, seconds: 1, size: '256x256' }, { prefer: 'wait=60', 'idempotency-key': idempotencyKey }, abort.signal);
  setTimeout(() => abort.abort(), 300);
  await expect(pending).rejects.toThrow();
  // The same key answers the video the abandoned request made; it completes.
  const video = await ok(await create({ prompt: PROMPT, seconds: 1, size: '256x256' }, { 'idempotency-key': idempotencyKey }));
  await eventually(
    async () => {
      const got = await ok(await fetch(`${stack.url}/v1/videos/${video.id}`, { headers: { authorization: `Bearer ${key}` } }));
      return got.status === 'completed' ? true : undefined;
    },
    'the abandoned video completed',
    90000,
    200,
  );
}, 120000);
