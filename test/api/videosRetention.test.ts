// Retention over HTTP against the real stack (test/support/apiStack.ts: Temporal dev server, PostgreSQL, a GPU worker
// rendering on the CPU, the filesystem blob store), with VIDEO_RETENTION_SECONDS set to a few seconds: a completed
// video's content is served, then its retentionWorkflow's timer fires, VideoContentExpired is recorded, every blob
// under videos/<id>/ is deleted, and the content answers 410 video_expired while the video itself stays `completed`;
// a video published at completion has no expiry and keeps its content.
import { startApiStack } from '../support/apiStack';
import { eventually } from '../support/env';

const RETENTION_S = 8;

interface Video {
  id: string;
  status: string;
  visibility: string;
  completed_at: number | null;
  expires_at: number | null;
}
interface Problem {
  status: number;
  detail: string;
  error: { code: string; param: string | null };
}

let stack: Awaited<ReturnType<typeof startApiStack>>;
let key: string;

function call(method: string, route: string, json?: unknown): Promise<Response> {
  return fetch(`${stack.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: json !== undefined ? JSON.stringify(json) : undefined,
  });
}

async function json<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect({ status: res.status, text }).toEqual({ status, text: expect.any(String) });
  return JSON.parse(text) as T;
}

const getVideo = async (id: string) => json<Video>(await call('GET', `/v1/videos/${id}`), 200);

beforeAll(async () => {
  stack = await startApiStack({ retentionSeconds: RETENTION_S });
  key = (await stack.user('rita')).apiKey;
});

afterAll(async () => {
  await stack?.stop();
});

it("deletes a draft's content when expires_at passes (410 video_expired, blobs gone, VideoContentExpired recorded); a published video keeps its content", async () => {
  const body = { prompt: 'three red balls bouncing on a wooden floor', seconds: 1, size: '256x256' };
  const draft = await json<Video>(await call('POST', '/v1/videos', body), 200);
  const published = await json<Video>(await call('POST', '/v1/videos', { ...body, prompt: 'two blue balls bouncing', publish: true }), 200);
  expect(draft.expires_at).toBeNull();

  // Completed: the draft expires RETENTION_S after its completion; the published one never.
  const done = await eventually(
    async () => {
      const [a, b] = [await getVideo(draft.id), await getVideo(published.id)];
      return a.status === 'completed' && b.visibility === 'published' ? [a, b] : undefined;
    },
    'both videos completed, one published',
    90000,
    200,
  );
  const [completed, kept] = done as [Video, Video];
  expect(completed.expires_at).toBe(completed.completed_at! + RETENTION_S);
  expect(kept).toMatchObject({ status: 'completed', expires_at: null });

  // Before expiry, the content is there, in the API and in the store.
  const before = await call('GET', `/v1/videos/${draft.id}/content`);
  expect(before.status).toBe(200);
  expect((await before.arrayBuffer()).byteLength).toBeGreaterThan(1000);
  const blobsBefore = await stack.blobs.list(`videos/${draft.id}/`);
  expect(blobsBefore).toEqual(
    expect.arrayContaining([`videos/${draft.id}/content.mp4`, `videos/${draft.id}/thumbnail.jpg`, `videos/${draft.id}/spritesheet.jpg`]),
  );
  expect(blobsBefore.some((k) => k.startsWith(`videos/${draft.id}/chunks/`))).toBe(true);

  // The timer fires: the expiry is recorded on the video's stream, then the blobs go.
  const expired = await eventually(
    async () => (await stack.eventStore.readStream(`video-${draft.id}`)).find((e) => e.type === 'VideoContentExpired'),
    'VideoContentExpired on the draft',
    RETENTION_S * 1000 + 30000,
    250,
  );
  expect(expired.data).toEqual({ expires_at: completed.expires_at, at: expect.any(Number) });
  expect((expired.data as { at: number }).at).toBeGreaterThanOrEqual(completed.expires_at!);
  expect(expired.metadata).toMatchObject({ workflowId: `retention-${draft.id}`, actor: 'retention' });
  await eventually(async () => ((await stack.blobs.list(`videos/${draft.id}/`)).length === 0 ? true : undefined), 'the draft blobs deleted', 30000, 200);

  // The video stays, completed, with its expiry; its content and every variant answer 410 naming when it expired.
  expect(await getVideo(draft.id)).toMatchObject({ status: 'completed', expires_at: completed.expires_at });
  for (const variant of ['video', 'thumbnail', 'spritesheet']) {
    const gone = await json<Problem>(await call('GET', `/v1/videos/${draft.id}/content?variant=${variant}`), 410);
    expect(gone.error.code).toBe('video_expired');
    expect(gone.detail).toContain(new Date(completed.expires_at! * 1000).toISOString());
  }
  const head = await call('HEAD', `/v1/videos/${draft.id}/content`);
  expect(head.status).toBe(410);
  // Nothing can be built on it or published any more.
  expect((await json<Problem>(await call('POST', `/v1/videos/${draft.id}/remix`, { prompt: 'make them green' }), 410)).error.code).toBe('video_expired');
  expect((await json<Problem>(await call('POST', `/v1/videos/${draft.id}/publish`), 410)).error.code).toBe('video_expired');
  // The events stay: the whole history, the expiry last.
  const events = await json<Array<{ type: string }>>(await call('GET', `/v1/videos/${draft.id}/events`), 200);
  expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['VideoRequested', 'Muxed', 'VideoCompleted']));
  expect(events.at(-1)!.type).toBe('VideoContentExpired');

  // The published video completed alongside (maybe a moment after the draft): once its retention would have passed too
  // (plus a second for the timer's workflow to have run), it still keeps its content.
  const keptUntil = (kept.completed_at! + RETENTION_S + 2) * 1000;
  if (Date.now() < keptUntil) await new Promise((resolve) => setTimeout(resolve, keptUntil - Date.now()));
  const still = await call('GET', `/v1/videos/${published.id}/content`);
  expect(still.status).toBe(200);
  expect((await still.arrayBuffer()).byteLength).toBeGreaterThan(1000);
  expect(await stack.blobs.list(`videos/${published.id}/`)).toContain(`videos/${published.id}/content.mp4`);
  expect((await stack.eventStore.readStream(`video-${published.id}`)).map((e) => e.type)).not.toContain('VideoContentExpired');
  expect(await getVideo(published.id)).toMatchObject({ visibility: 'published', expires_at: null });
}, 180000);
