// Human review and appeals through HTTP on the real stack: a prompt scored in the policy's review band waits in
// `in_review` for a moderator (caseReviewWorkflow, its decision a Temporal Update validated by the moderation decider);
// allowed it renders, blocked it ends naming its case; nobody deciding escalates the case and ends it by the policy's
// default; nobody decides their own content. The owner appeals a block once; another moderator decides it, and an
// upheld appeal renders the video. Every step is on the case's stream and in the video's timeline.
import { randomUUID } from 'node:crypto';
import { DEFAULT_POLICY_PATH, loadPolicy } from '../../activities/moderation';
import { startApiStack } from '../support/apiStack';
import { sharedDevServer } from '../support/temporal';
import { eventually } from '../support/env';

type Json = Record<string, any>;

// Short review times, so the timeout is seen in seconds: escalated after 3 s, ended by the default (block) 5 s later.
const policy = { ...loadPolicy(DEFAULT_POLICY_PATH), review: { escalate_after_seconds: 3, default_after_seconds: 5, default: 'block' as const } };

const ctx = {} as { stack: Awaited<ReturnType<typeof startApiStack>>; keys: Record<string, string> };

beforeAll(async () => {
  ctx.stack = await startApiStack({ policy });
  ctx.keys = {};
  for (const [who, role] of [
    ['owner', 'user'],
    ['modA', 'moderator'],
    ['modB', 'moderator'],
    ['user2', 'user'],
  ] as const) {
    ctx.keys[who] = (await ctx.stack.user(`${who}_${randomUUID().slice(0, 6)}`, role)).apiKey;
  }
}, 60_000);

afterAll(async () => {
  await ctx.stack?.stop();
});

async function call(who: string, method: string, url: string, body?: Json): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${ctx.stack.url}${url}`, {
    method,
    headers: { authorization: `Bearer ${ctx.keys[who]}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function create(who: string, prompt: string): Promise<string> {
  const res = await call(who, 'POST', '/v1/videos', { prompt, seconds: 4, size: '256x256' });
  expect(res.status).toBe(200);
  return res.body.id as string;
}

const video = async (id: string, who = 'owner') => (await call(who, 'GET', `/v1/videos/${id}`)).body;

/** Waits for the video to reach `stage` (read model), failing fast on an end it should not have reached. */
const atStage = (id: string, stage: string, who = 'owner') =>
  eventually(
    async () => {
      const v = await video(id, who);
      if (v.stage === stage) return v;
      if (['completed', 'failed', 'cancelled'].includes(v.status) && !['completed', 'blocked'].includes(stage)) {
        throw new Error(`video ${id} ended ${v.status}/${v.stage} waiting for ${stage}: ${JSON.stringify(v.error)}`);
      }
      return undefined;
    },
    `video ${id} at stage ${stage}`,
    120_000,
    50,
  );

/** The case in review for a video, from the moderators' queue. */
const caseOf = (videoId: string, status = 'awaiting_review') =>
  eventually(
    async () => {
      const list = await call('modA', 'GET', `/v1/moderation/cases?status=${status}&kind=prompt&limit=100`);
      expect(list.status).toBe(200);
      return (list.body.data as Json[]).find((c) => c.video_id === videoId);
    },
    `a ${status} case for ${videoId}`,
    30_000,
    50,
  );

const eventTypes = async (caseId: string) => ((await call('modA', 'GET', `/v1/moderation/cases/${caseId}`)).body.events as Json[]).map((e) => e.type);

describe('human review of the review band', () => {
  it('a moderator allows a prompt in review and it renders; another is blocked with the reason; a third times out, escalates and ends by the default', async () => {
    const allowed = await create('owner', 'a red ball bounces past a corpse on the floor');
    const blocked = await create('owner', 'a green cube slides through a gunfight');
    const ignored = await create('owner', 'a yellow ball rolls into a knife fight');
    for (const id of [allowed, blocked, ignored]) await atStage(id, 'in_review');
    const ignoredCase = await caseOf(ignored);

    // The queue shows the cases waiting; the case shows its inputs and the policy's scores.
    const allowCase = await caseOf(allowed);
    expect(allowCase).toMatchObject({
      object: 'moderation.case',
      kind: 'prompt',
      status: 'awaiting_review',
      verdict: 'review',
      categories: ['graphic_violence'],
    });
    const detail = await call('modA', 'GET', `/v1/moderation/cases/${allowCase.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ prompt: 'a red ball bounces past a corpse on the floor', review: { escalate_after_seconds: 3, default: 'block' } });
    const automated = (detail.body.events as Json[]).find((e) => e.type === 'AutomatedVerdict')!.data;
    expect(automated.details).toMatchObject({ score: 0.5, matches: [{ category: 'graphic_violence', term: 'corpse', score: 0.5 }] });
    // A plain user sees neither the queue nor someone else's case.
    expect((await call('user2', 'GET', '/v1/moderation/cases')).status).toBe(403);
    expect((await call('user2', 'GET', `/v1/moderation/cases/${allowCase.id}`)).status).toBe(404);

    const allow = await call('modA', 'POST', `/v1/moderation/cases/${allowCase.id}/decision`, { decision: 'allow', reason: 'a toy scene, nothing graphic' });
    expect(allow.status).toBe(200);
    expect(allow.body).toMatchObject({ status: 'closed', verdict: 'allow', decisions: [expect.objectContaining({ decision: 'allow', appeal: false })] });
    // Decided once: a second decision is refused.
    expect((await call('modB', 'POST', `/v1/moderation/cases/${allowCase.id}/decision`, { decision: 'block', reason: 'late' })).body.error.code).toBe(
      'case_not_awaiting_review',
    );

    const blockCase = await caseOf(blocked);
    const block = await call('modB', 'POST', `/v1/moderation/cases/${blockCase.id}/decision`, { decision: 'block', reason: 'realistic gun violence' });
    expect(block.status).toBe(200);

    const done = await atStage(allowed, 'completed');
    expect(done.status).toBe('completed');
    expect((done.timeline as Json[]).map((t) => t.stage)).toEqual(expect.arrayContaining(['in_review', 'rendering', 'completed']));
    const refused = await atStage(blocked, 'blocked');
    expect(refused).toMatchObject({ status: 'failed', error: { code: 'moderation_blocked' } });
    expect(refused.error.message).toContain(blockCase.id);
    expect(refused.error.message).toContain('realistic gun violence');

    // Nobody decides the third: escalated after 3 s, then blocked by the policy's default.
    const ended = await atStage(ignored, 'blocked');
    expect(ended.error.message).toContain("policy's default");
    expect(await eventTypes(ignoredCase.id)).toEqual(['CaseOpened', 'AutomatedVerdict', 'ReviewRequested', 'CaseEscalated', 'ReviewDecided', 'CaseClosed']);
    const defaulted = (await call('modA', 'GET', `/v1/moderation/cases/${ignoredCase.id}`)).body;
    expect(defaulted.decisions).toEqual([expect.objectContaining({ decision: 'block', moderator_id: null, defaulted: true })]);

    expect(await eventTypes(allowCase.id)).toEqual(['CaseOpened', 'AutomatedVerdict', 'ReviewRequested', 'ReviewDecided', 'CaseClosed']);
    expect(await eventTypes(blockCase.id)).toEqual(['CaseOpened', 'AutomatedVerdict', 'ReviewRequested', 'ReviewDecided', 'CaseClosed']);
  }, 240_000);

  it('a moderator cannot decide a case about their own video; another moderator can', async () => {
    const own = await create('modA', 'a ball in lingerie on a shelf');
    await atStage(own, 'in_review', 'modA');
    const ownCase = await caseOf(own);
    const refused = await call('modA', 'POST', `/v1/moderation/cases/${ownCase.id}/decision`, { decision: 'allow', reason: 'mine is fine' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('own_content');
    const decided = await call('modB', 'POST', `/v1/moderation/cases/${ownCase.id}/decision`, { decision: 'allow', reason: 'a toy on a shelf' });
    expect(decided.status).toBe(200);
    await atStage(own, 'completed', 'modA');
  }, 180_000);

  it('a decision sent when the case is in the queue but its workflow not yet started waits for the workflow', async () => {
    // The video's workflow records the case (the queue shows it at once) and only then starts the case's workflow.
    // Here the case is recorded by hand and its workflow started a second after the decision was sent.
    const subject = await create('owner', 'a red ball bounces on a wooden floor');
    await atStage(subject, 'completed');
    const caseId = `case_${randomUUID().replace(/-/g, '')}`;
    const at = Math.floor(Date.now() / 1000);
    await ctx.stack.eventStore.appendToStream(
      `moderation-${caseId}`,
      [
        { type: 'CaseOpened', data: { case_id: caseId, subject_id: subject, stage: 'prompt', owner_id: 'user_someone_else', at } },
        { type: 'AutomatedVerdict', data: { verdict: 'review', categories: ['graphic_violence'], reasons: ['borderline'], details: {}, at } },
        { type: 'ReviewRequested', data: { reason: 'borderline', escalate_after_seconds: 60, default_after_seconds: 60, default: 'block', at } },
      ].map((e) => ({ id: randomUUID(), ...e })),
      { expectedRevision: 'no_stream' },
    );
    await eventually(async () => ((await call('modA', 'GET', `/v1/moderation/cases/${caseId}`)).status === 200 ? true : undefined), 'the case readable');
    const decision = call('modA', 'POST', `/v1/moderation/cases/${caseId}/decision`, { decision: 'allow', reason: 'a toy scene' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const env = await sharedDevServer();
    try {
      const handle = await env.client.workflow.start('caseReviewWorkflow', {
        workflowId: `moderation-${caseId}`,
        taskQueue: ctx.stack.taskQueue,
        args: [{ caseId, mode: 'review', actor: 'test', correlationId: subject }],
      });
      const decided = await decision;
      expect({ status: decided.status, error: decided.body.error }).toEqual({ status: 200, error: undefined });
      expect(decided.body).toMatchObject({ status: 'closed', verdict: 'allow', decisions: [expect.objectContaining({ decision: 'allow' })] });
      expect(await handle.result()).toMatchObject({ caseId, verdict: 'allow' });
    } finally {
      await env.teardown();
    }
  }, 180_000);

  it('a video cancelled while it waits for review withdraws its case from the queue, undecided', async () => {
    const id = await create('owner', 'a ball rolls past a corpse at dusk');
    await atStage(id, 'in_review');
    const waiting = await caseOf(id);
    expect((await call('owner', 'POST', `/v1/videos/${id}/cancel`)).status).toBe(202);
    const closed = await caseOf(id, 'closed');
    expect(closed).toMatchObject({ status: 'closed', verdict: 'review' });
    expect(await eventTypes(waiting.id)).toEqual(['CaseOpened', 'AutomatedVerdict', 'ReviewRequested', 'CaseWithdrawn']);
    await eventually(async () => ((await video(id)).status === 'cancelled' ? true : undefined), `video ${id} cancelled`, 30_000, 50);
  }, 120_000);
});

describe('appeals', () => {
  it('the owner appeals a block once; the moderator who blocked cannot decide it; another allows it and the video renders', async () => {
    const id = await create('owner', 'a purple ball beside some explosives');
    await atStage(id, 'in_review');
    const theCase = await caseOf(id);
    const block = await call('modA', 'POST', `/v1/moderation/cases/${theCase.id}/decision`, { decision: 'block', reason: 'explosives' });
    expect([block.status, block.body.error]).toEqual([200, undefined]);
    const blocked = await atStage(id, 'blocked');
    expect(blocked.error.message).toContain(theCase.id);

    // Only the owner may appeal, and a statement is needed.
    expect((await call('user2', 'POST', `/v1/moderation/cases/${theCase.id}/appeal`, { statement: 'let it be' })).status).toBe(404);
    expect((await call('owner', 'POST', `/v1/moderation/cases/${theCase.id}/appeal`, { statement: '' })).status).toBe(400);

    const appeal = await call('owner', 'POST', `/v1/moderation/cases/${theCase.id}/appeal`, { statement: 'they are cartoon fireworks' });
    expect(appeal.status).toBe(202);
    expect(appeal.body).toMatchObject({ status: 'awaiting_review', appealed: true, appeal: { statement: 'they are cartoon fireworks' } });
    await atStage(id, 'in_review');

    const same = await call('modA', 'POST', `/v1/moderation/cases/${theCase.id}/decision`, { decision: 'allow', reason: 'changed my mind' });
    expect(same.status).toBe(403);
    expect(same.body.error.code).toBe('same_moderator');
    const upheld = await call('modB', 'POST', `/v1/moderation/cases/${theCase.id}/decision`, { decision: 'allow', reason: 'cartoon fireworks' });
    expect(upheld.status).toBe(200);
    expect(upheld.body.decisions).toEqual([
      expect.objectContaining({ decision: 'block', appeal: false }),
      expect.objectContaining({ decision: 'allow', appeal: true }),
    ]);

    const done = await atStage(id, 'completed');
    expect(done).toMatchObject({ status: 'completed', error: null });
    const stages = (done.timeline as Json[]).map((t) => t.stage);
    expect(stages.indexOf('blocked')).toBeGreaterThan(stages.indexOf('in_review'));
    expect(stages.lastIndexOf('in_review')).toBeGreaterThan(stages.indexOf('blocked'));
    expect(stages[stages.length - 1]).toBe('completed');
    const content = await fetch(`${ctx.stack.url}/v1/videos/${id}/content`, { headers: { authorization: `Bearer ${ctx.keys.owner}` } });
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toBe('video/mp4');
    await content.arrayBuffer();

    expect(await eventTypes(theCase.id)).toEqual([
      'CaseOpened',
      'AutomatedVerdict',
      'ReviewRequested',
      'ReviewDecided',
      'CaseClosed',
      'Appealed',
      'ReviewDecided',
      'CaseClosed',
    ]);
    const again = await call('owner', 'POST', `/v1/moderation/cases/${theCase.id}/appeal`, { statement: 'once more' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_appealed');
  }, 240_000);
});
