// Cancel-After on POST /v1/videos, over HTTP on the real stack: a job still waiting at its deadline ends cancelled
// with deadline_exceeded and never reaches a GPU; one rendering is stopped the same way; a value that is not a
// duration is refused before anything is created.
import { Connection, Client } from '@temporalio/client';
import { startApiStack } from '../support/apiStack';
import { eventually, testEnv } from '../support/env';

type Json = Record<string, any>;

function useStack(options: Parameters<typeof startApiStack>[0]) {
  const ctx = {} as { stack: Awaited<ReturnType<typeof startApiStack>>; headers: Record<string, string> };
  beforeAll(async () => {
    ctx.stack = await startApiStack(options);
    const { apiKey } = await ctx.stack.user('deadline-user');
    ctx.headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  }, 60_000);
  afterAll(async () => {
    await ctx.stack?.stop();
  });
  const create = async (body: Json, cancelAfter?: string) => {
    const res = await fetch(`${ctx.stack.url}/v1/videos`, {
      method: 'POST',
      headers: { ...ctx.headers, ...(cancelAfter !== undefined ? { 'cancel-after': cancelAfter } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Json };
  };
  const get = async (id: string) => (await (await fetch(`${ctx.stack.url}/v1/videos/${id}`, { headers: ctx.headers })).json()) as Json;
  const ended = (id: string) =>
    eventually(
      async () => {
        const v = await get(id);
        return ['completed', 'failed', 'cancelled'].includes(v.status) ? v : undefined;
      },
      `video ${id} to end`,
      120_000,
      200,
    );
  return { ctx, create, get, ended };
}

async function activitiesOf(workflowId: string): Promise<{ scheduled: string[]; started: string[] }> {
  const connection = await Connection.connect({ address: testEnv.temporalAddress });
  try {
    const { events } = await new Client({ connection }).workflow.getHandle(workflowId).fetchHistory();
    const byId = new Map<string, string>();
    const scheduled: string[] = [];
    const started: string[] = [];
    for (const e of events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) {
        byId.set(String(e.eventId), s.activityType!.name!);
        scheduled.push(s.activityType!.name!);
      }
      const st = e.activityTaskStartedEventAttributes;
      if (st) started.push(byId.get(String(st.scheduledEventId))!);
    }
    return { scheduled, started };
  } finally {
    await connection.close();
  }
}

const GPU_ACTIVITIES = ['describeVideoScene', 'renderVideoChunk', 'renderAudioChunk', 'renderChunk'];

describe('Cancel-After: a job waiting for a GPU', () => {
  const { create, ended, get } = useStack({ renders: false });

  it('ends cancelled with deadline_exceeded at its deadline, having reached no GPU', async () => {
    const res = await create({ prompt: 'a red ball bounces on a wooden floor', seconds: 4, size: '256x256' }, '2s');
    expect(res.status).toBe(200);
    const video = await ended(res.body.id);
    expect(video).toMatchObject({ status: 'cancelled', error: { code: 'deadline_exceeded' } });
    expect(video.error.message).toMatch(/^the job was not done by its deadline \(Cancel-After or deadline\), \d{4}-\d\d-\d\dT/);
    const { started } = await activitiesOf(`video-${res.body.id}`);
    expect(started.filter((a) => GPU_ACTIVITIES.includes(a))).toEqual([]);
    expect((await get(res.body.id)).status).toBe('cancelled');
  }, 60_000);

  it('refuses a Cancel-After that is not a duration from 1 s to 24 h, before creating anything', async () => {
    for (const value of ['0', '25h', 'soon', '1.5s', '-5', '90x']) {
      const res = await create({ prompt: 'a blue cube', seconds: 4, size: '256x256' }, value);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'validation_failed', param: 'Cancel-After' });
    }
    const ok = await create({ prompt: 'a blue cube', seconds: 4, size: '256x256' }, '1h30m');
    expect(ok.status).toBe(200);
  }, 30_000);
});

describe('the deadline field: a job waiting for a GPU', () => {
  const { create, ended } = useStack({ renders: false });
  const now = () => Math.floor(Date.now() / 1000);

  it('ends cancelled with deadline_exceeded at the time it names, having reached no GPU', async () => {
    const res = await create({ prompt: 'a red ball bounces on a wooden floor', seconds: 4, size: '256x256', deadline: now() + 2 });
    expect(res.status).toBe(200);
    const video = await ended(res.body.id);
    expect(video).toMatchObject({ status: 'cancelled', error: { code: 'deadline_exceeded' } });
    const { started } = await activitiesOf(`video-${res.body.id}`);
    expect(started.filter((a) => GPU_ACTIVITIES.includes(a))).toEqual([]);
  }, 60_000);

  it('with Cancel-After too, the sooner applies', async () => {
    const res = await create({ prompt: 'a red ball bounces on a wooden floor', seconds: 4, size: '256x256', deadline: now() + 3600 }, '2s');
    expect(res.status).toBe(200);
    const t0 = Date.now();
    expect(await ended(res.body.id)).toMatchObject({ status: 'cancelled', error: { code: 'deadline_exceeded' } });
    expect(Date.now() - t0).toBeLessThan(60_000);
  }, 90_000);

  it('refuses a deadline that is not a Unix second 1 s to 24 h ahead, naming it, before creating anything', async () => {
    // Not a whole number: 400; a whole number in the past or more than 24 h ahead: well formed but unusable, 422.
    for (const deadline of [String(now() + 60), 1.5]) {
      const res = await create({ prompt: 'a blue cube', seconds: 4, size: '256x256', deadline });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'validation_failed', param: 'deadline' });
    }
    for (const deadline of [now() - 10, 0, now() + 25 * 3600]) {
      const res = await create({ prompt: 'a blue cube', seconds: 4, size: '256x256', deadline });
      expect(res.status).toBe(422);
      expect(res.body.error).toMatchObject({ code: 'unprocessable_content', param: 'deadline' });
    }
  }, 30_000);
});

describe('Cancel-After: a job rendering', () => {
  const { create, ended } = useStack({});

  it('is stopped at its deadline: cancelled with deadline_exceeded after its GPU work began', async () => {
    const res = await create({ prompt: 'three red balls bouncing', seconds: 12, size: '720x1280' }, '4');
    expect(res.status).toBe(200);
    const video = await ended(res.body.id);
    expect(video).toMatchObject({ status: 'cancelled', error: { code: 'deadline_exceeded' } });
    const { started } = await activitiesOf(`video-${res.body.id}`);
    expect(started.some((a) => GPU_ACTIVITIES.includes(a))).toBe(true);
    expect(video.completed_at - video.created_at).toBeLessThan(30);
  }, 120_000);
});
