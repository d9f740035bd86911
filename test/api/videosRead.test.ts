// Reading videos over HTTP against the real stack (test/support/videosApi.ts): who may see a video, the caller's
// list in keyset pages, content that is not ready yet, and the events endpoint.
import { problem, PROMPT, useVideosApi, type Video, type VideoPage } from '../support/videosApi';

const api = useVideosApi();
const { keys, ids, call, create, getVideo, untilStage } = api;

describe('reading videos', () => {
  let alicesVideo: Video;
  beforeAll(async () => {
    alicesVideo = await create(keys.alice, { prompt: PROMPT, size: '256x256' });
  });

  it("someone else's video is 404, exactly like a missing one; auditors and admins see it", async () => {
    const hidden = await problem(await getVideo(keys.bob, alicesVideo.id), 404);
    const missing = await problem(await getVideo(keys.bob, `video_${'0'.repeat(32)}`), 404);
    expect(hidden.error.code).toBe('video_not_found');
    expect(missing.error.code).toBe('video_not_found');
    expect((await problem(await getVideo(keys.bob, 'not-an-id'), 404)).error.code).toBe('video_not_found');
    for (const key of [keys.auditor, keys.admin]) expect((await getVideo(key, alicesVideo.id)).status).toBe(200);
    expect((await problem(await getVideo('', alicesVideo.id), 401)).error.code).toBe('invalid_api_key');
  });

  it("lists only the caller's own videos, in keyset pages by creation time", async () => {
    const carol = await api.users.createUser({ name: 'carol', role: 'user' });
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await create(carol.apiKey, { prompt: `${PROMPT} ${i}`, size: '256x256' })).id);

    const page = async (query: string) => {
      const res = await call('GET', `/v1/videos${query}`, { key: carol.apiKey });
      expect(res.status).toBe(200);
      return (await res.json()) as VideoPage;
    };
    const first = await page('?limit=2');
    expect(first).toMatchObject({ object: 'list', has_more: true });
    expect(first.data).toHaveLength(2);
    expect(first.first_id).toBe(first.data[0]!.id);
    expect(first.last_id).toBe(first.data[1]!.id);
    const second = await page(`?limit=2&after=${first.last_id}`);
    const third = await page(`?limit=2&after=${second.last_id}`);
    expect(third).toMatchObject({ has_more: false });
    const desc = [...first.data, ...second.data, ...third.data].map((v) => v.id);
    expect(new Set(desc)).toEqual(new Set(created));
    expect(desc).toHaveLength(5);
    // Newest first by default; asc is the reverse.
    const asc = (await page('?order=asc&limit=100')).data.map((v) => v.id);
    expect(asc).toEqual([...desc].reverse());
    // Same-second creations order by id within the second; across seconds, by time.
    const times = (await page('?limit=100')).data.map((v) => v.created_at);
    expect(times).toEqual([...times].sort((a, b) => b - a));

    const alices = (await (await call('GET', '/v1/videos?limit=100', { key: keys.alice })).json()) as VideoPage;
    expect(alices.data.some((v) => created.includes(v.id))).toBe(false);
    expect(alices.data.every((v) => v.owner_id === ids.alice)).toBe(true);
  });

  it("bad list parameters → 400 naming the parameter; an `after` that is a video id but not one of the caller's → 422", async () => {
    for (const [query, field, status] of [
      ['?limit=0', 'limit', 400],
      ['?limit=101', 'limit', 400],
      ['?limit=ten', 'limit', 400],
      ['?order=sideways', 'order', 400],
      ['?after=video_1', 'after', 400],
      [`?after=${alicesVideo.id}`, 'after', 422],
    ] as const) {
      const body = await problem(await call('GET', `/v1/videos${query}`, { key: keys.bob }), status);
      expect({ query, param: body.error.param }).toEqual({ query, param: field });
    }
  });

  it('content is 404 video_not_ready until the video is completed; an unknown variant is 400', async () => {
    const notReady = await problem(await call('GET', `/v1/videos/${alicesVideo.id}/content`, { key: keys.alice }), 404);
    expect(notReady.error.code).toBe('video_not_ready');
    const variant = await problem(await call('GET', `/v1/videos/${alicesVideo.id}/content?variant=poster`, { key: keys.alice }), 400);
    expect(variant.error.param).toBe('variant');
    expect((await problem(await call('GET', `/v1/videos/${alicesVideo.id}/content`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');
  });

  it("the events endpoint gives the stream's events to the owner, auditors and admins only", async () => {
    await untilStage(keys.alice, alicesVideo.id, 'rendering');
    const res = await call('GET', `/v1/videos/${alicesVideo.id}/events`, { key: keys.alice });
    expect(res.status).toBe(200);
    const events = (await res.json()) as Array<{
      revision: number;
      type: string;
      data: Record<string, unknown>;
      metadata: Record<string, unknown>;
      created_at: number;
    }>;
    expect(events.map((e) => e.type).slice(0, 3)).toEqual(['VideoRequested', 'PromptModerated', 'ChunksPlanned']);
    expect(events.map((e) => e.revision)).toEqual(events.map((_, i) => i));
    expect(events[0]).toMatchObject({
      data: { video_id: alicesVideo.id, owner_id: ids.alice },
      metadata: { actor: ids.alice, workflowId: `video-${alicesVideo.id}` },
    });
    expect(events[0]!.created_at).toBeGreaterThan(1_700_000_000);
    for (const key of [keys.auditor, keys.admin]) expect((await call('GET', `/v1/videos/${alicesVideo.id}/events`, { key })).status).toBe(200);
    expect((await problem(await call('GET', `/v1/videos/${alicesVideo.id}/events`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');
  });
});
