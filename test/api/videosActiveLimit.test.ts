// The concurrent-job limit (MAX_ACTIVE_VIDEOS_PER_USER) and the daily budget (DAILY_VIDEO_SECONDS_PER_USER), over HTTP on the real stack with no GPU worker (videos stay
// queued): past it a create is 429 with Retry-After and records nothing; another user has a limit of their own; a
// video that ends frees a place.
import { startApiStack } from '../support/apiStack';
import { eventually } from '../support/env';
import { seedVideo } from '../support/seedVideo';

describe('the concurrent-job limit', () => {
  let stack: Awaited<ReturnType<typeof startApiStack>>;
  const headers: Record<'alice' | 'bob', Record<string, string>> = { alice: {}, bob: {} };

  beforeAll(async () => {
    stack = await startApiStack({ renders: false, maxActiveVideos: 2 });
    for (const who of ['alice', 'bob'] as const) {
      const { apiKey } = await stack.user(who);
      headers[who] = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
    }
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const create = async (who: 'alice' | 'bob') => {
    const res = await fetch(`${stack.url}/v1/videos`, {
      method: 'POST',
      headers: headers[who],
      body: JSON.stringify({ prompt: 'a red ball bounces', seconds: 4, size: '256x256' }),
    });
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      body: (await res.json()) as { id: string; status: string; error?: { code: string } },
    };
  };
  const count = async (who: 'alice' | 'bob') =>
    ((await (await fetch(`${stack.url}/v1/videos?limit=100`, { headers: headers[who] })).json()) as { data: unknown[] }).data.length;

  it('refuses a create past the limit with 429 and Retry-After, recording nothing, until one of them ends', async () => {
    const first = await create('alice');
    const second = await create('alice');
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await create('alice');
    expect(third.status).toBe(429);
    expect(Number(third.retryAfter)).toBeGreaterThan(0);
    expect(third.body).toMatchObject({ status: 429, error: { code: 'too_many_active_videos' } });
    expect(await count('alice')).toBe(2);
    // Another caller's count is their own.
    expect((await create('bob')).status).toBe(200);

    // One ends (cancelled): a place is free again.
    const cancel = await fetch(`${stack.url}/v1/videos/${first.body.id}/cancel`, { method: 'POST', headers: headers.alice });
    expect(cancel.status).toBeLessThan(300);
    await eventually(
      async () =>
        ((await (await fetch(`${stack.url}/v1/videos/${first.body.id}`, { headers: headers.alice })).json()) as { status: string }).status === 'cancelled' ||
        undefined,
      'the first video to be cancelled',
      30_000,
      100,
    );
    expect((await create('alice')).status).toBe(200);
  }, 60_000);
});

describe('the daily budget of video seconds', () => {
  let stack: Awaited<ReturnType<typeof startApiStack>>;
  let headers: Record<string, string>;

  beforeAll(async () => {
    stack = await startApiStack({ renders: false, dailyVideoSeconds: 10 });
    const { apiKey } = await stack.user('budgeted');
    headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const create = async (seconds: number) => {
    const res = await fetch(`${stack.url}/v1/videos`, { method: 'POST', headers, body: JSON.stringify({ prompt: 'a green cube', seconds, size: '256x256' }) });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { detail?: string; error?: { code: string } } };
  };

  it("refuses a create that would pass the day's budget, until the next UTC day, recording nothing", async () => {
    expect((await create(4)).status).toBe(200);
    expect((await create(4)).status).toBe(200);
    const refused = await create(4);
    expect(refused.status).toBe(429);
    expect(refused.body.error?.code).toBe('daily_budget_exceeded');
    expect(refused.body.detail).toMatch(/^this 4 s video would bring today's total to 12 s, past the daily budget of your tier "default", 10 s/);
    const now = Math.floor(Date.now() / 1000);
    const untilMidnight = 86400 - (now % 86400);
    expect(Math.abs(Number(refused.retryAfter) - untilMidnight)).toBeLessThanOrEqual(5);
    const list = (await (await fetch(`${stack.url}/v1/videos?limit=100`, { headers })).json()) as { data: unknown[] };
    expect(list.data).toHaveLength(2);
  }, 60_000);
});

describe('the limits on remixes', () => {
  let stack: Awaited<ReturnType<typeof startApiStack>>;
  let headers: Record<string, string>;
  let sourceId: string;

  beforeAll(async () => {
    stack = await startApiStack({ renders: false, dailyVideoSeconds: 2 });
    const { user, apiKey } = await stack.user('remixer');
    headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
    // A finished 1 s video of the caller's, recorded straight into its stream: 1 s of today's 2.
    sourceId = await seedVideo(stack.eventStore, { ownerId: user.id });
    await eventually(
      async () => (await fetch(`${stack.url}/v1/videos/${sourceId}`, { headers })).status === 200 || undefined,
      'the source in the read model',
      20_000,
      100,
    );
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('count a remix against the daily budget like any video, and refuse the one past it', async () => {
    const remix = () => fetch(`${stack.url}/v1/videos/${sourceId}/remix`, { method: 'POST', headers, body: JSON.stringify({ prompt: 'now in blue' }) });
    const first = await remix();
    expect(first.status).toBe(200);
    const { id } = (await first.json()) as { id: string };
    await eventually(
      async () => (await fetch(`${stack.url}/v1/videos/${id}`, { headers })).status === 200 || undefined,
      'the remix in the read model',
      20_000,
      100,
    );
    const second = await remix();
    expect(second.status).toBe(429);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe('daily_budget_exceeded');
  }, 60_000);
});
