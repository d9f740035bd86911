// A client that creates a video and polls it at once never sees a 404 for the id it was just given: while the videos
// read model has not caught up, GET /v1/videos/{id} answers the video folded from its event stream. Here no projector
// runs at all, the extreme of a lagging one; lists read the read model only.
import { startApiStack } from '../support/apiStack';
import { apiCaller } from '../support/apiCall';

describe('reading a video the read model has not caught up with', () => {
  let stack: Awaited<ReturnType<typeof startApiStack>>;
  const keys: Record<'alice' | 'bob', string> = { alice: '', bob: '' };

  beforeAll(async () => {
    stack = await startApiStack({ renders: false, projector: false });
    keys.alice = (await stack.user('alice')).apiKey;
    keys.bob = (await stack.user('bob')).apiKey;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const call = apiCaller(() => stack.url, keys);

  it('GET right after POST answers the video from its stream, to its owner only; the list waits for the read model', async () => {
    const created = await call('alice', 'POST', '/v1/videos', { prompt: 'two red balls', seconds: 4, size: '256x256' });
    expect(created.status).toBe(200);
    const id = created.body.id as string;
    const got = await call('alice', 'GET', `/v1/videos/${id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id, object: 'video', prompt: 'two red balls', size: '256x256', seconds: '4' });
    expect(['queued', 'in_progress']).toContain(got.body.status);
    // A draft of someone else stays hidden, as it is once projected.
    expect((await call('bob', 'GET', `/v1/videos/${id}`)).status).toBe(404);
    expect((await call('alice', 'GET', '/v1/videos')).body.data).toEqual([]);
    const res = await fetch(`${stack.url}/v1/videos/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${keys.alice}` } });
    expect([202, 409]).toContain(res.status);
  });
});
