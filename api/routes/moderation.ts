// Moderation: the queue of cases (moderators), a case's whole record, a moderator's decision, and the owner's appeal.
// A decision is the `decideCase` Update of the case's caseReviewWorkflow (`moderation-<case id>`), validated there by
// the moderation decider; an appeal starts that workflow again for a blocked case. Lists come from the
// moderation_cases read model; a case's record is read from its stream, which never lags.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { decideModeration, MAX_REASON_CHARS, ModerationCommandRefused } from '../../domain/moderation/decide';
import { foldModeration, type ModerationCaseState, type ModerationEvent } from '../../domain/moderation/events';
import { foldVideo, type VideoEvent } from '../../domain/video';
import { readStreamOrEmpty } from '../../infra/eventstore/readOrEmpty';
import type { EventStore } from '../../infra/eventstore/port';
import { executeUpdateOrRefusal } from '../../infra/temporal/updates';
import type { User } from '../../infra/users/port';
import { createModerationCasesQuery, type CaseRow, type SqlClient } from '../../projections/queries';
import type { caseReviewWorkflow } from '../../workflows/caseReview';
import { caseStateQuery, decideCaseUpdate } from '../../workflows/definitions';
import { callerOf, hasRole, problemResponse } from '../plugins/auth';
import { ProblemError } from '../plugins/errors';
import { poll } from '../videos/context';

export interface ModerationRoutesOptions {
  temporal: { client: Client };
  eventStore: EventStore;
  db: SqlClient;
  schema?: string;
  /** Where caseReviewWorkflow runs, and what an upheld appeal resumes a video with (as the Videos routes start one). */
  config: { taskQueue: string; gpuTaskQueue?: string; retentionSeconds?: number };
}

export const CASE_ID = /^case_[0-9a-f]{32}$/;
const CASE_STATUSES = ['open', 'awaiting_review', 'escalated', 'closed'] as const;
const CASE_KINDS = ['prompt', 'output'] as const;
const enumOf = (values: readonly string[], description: string) => Type.Unsafe<string>({ type: 'string', enum: [...values], description });

const Decision = Type.Object(
  {
    decision: enumOf(['allow', 'block'], 'Allowed, the video goes on; blocked, it ends (or, on appeal, stays) blocked'),
    reason: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    moderator_id: Type.Union([Type.String(), Type.Null()], { description: 'Who decided; null: the policy default, nobody decided in time' }),
    defaulted: Type.Boolean(),
    appeal: Type.Boolean({ description: 'A decision on the owner’s appeal' }),
    at: Type.Integer({ description: 'Unix seconds' }),
  },
  { title: 'ModerationDecision' },
);

const caseFields = {
  id: Type.String({ description: '`case_` + 32 hex digits' }),
  object: Type.Literal('moderation.case'),
  video_id: Type.String(),
  owner_id: Type.Union([Type.String(), Type.Null()], { description: 'Whose content it is (no moderator decides their own)' }),
  kind: enumOf(CASE_KINDS, 'What is judged: the prompt, or the rendered output'),
  status: enumOf(CASE_STATUSES, '`awaiting_review` and `escalated` wait for a moderator'),
  verdict: Type.Union([Type.String(), Type.Null()], { description: 'allow, block, or review (waiting for a person)' }),
  categories: Type.Array(Type.String()),
  escalated: Type.Boolean(),
  appealed: Type.Boolean(),
  opened_at: Type.Integer({ description: 'Unix seconds' }),
  updated_at: Type.Integer({ description: 'Unix seconds' }),
};

const CaseSummary = Type.Object(caseFields, { title: 'ModerationCaseSummary' });
type CaseSummary = Static<typeof CaseSummary>;

const CaseObject = Type.Object(
  {
    ...caseFields,
    reasons: Type.Array(Type.String()),
    prompt: Type.Union([Type.String(), Type.Null()], { description: 'The video’s prompt' }),
    decisions: Type.Array(Decision),
    appeal: Type.Union([Type.Object({ by: Type.String(), statement: Type.String(), at: Type.Integer() }), Type.Null()]),
    review: Type.Union([Type.Object({ escalate_after_seconds: Type.Integer(), default_after_seconds: Type.Integer(), default: Type.String() }), Type.Null()]),
    events: Type.Array(
      Type.Object({
        type: Type.String(),
        data: Type.Unknown({ description: 'As recorded: the classifiers’ scores and the frames they saw (blob keys) are in AutomatedVerdict' }),
        revision: Type.Integer(),
        created_at: Type.String({ description: 'ISO 8601' }),
      }),
      { description: 'The case’s stream, every step' },
    ),
  },
  { title: 'ModerationCase' },
);
type CaseObject = Static<typeof CaseObject>;

const CaseParams = Type.Object({ id: Type.String({ description: '`case_` + 32 hex digits' }) });
type CaseParams = Static<typeof CaseParams>;

const ListQuery = Type.Object(
  {
    status: Type.Optional(enumOf(CASE_STATUSES, 'Only cases in this status')),
    kind: Type.Optional(enumOf(CASE_KINDS, 'Only cases judging this')),
    after: Type.Optional(Type.String({ pattern: CASE_ID.source, description: 'The last case id of the previous page' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  },
  { additionalProperties: false },
);
type ListQuery = Static<typeof ListQuery>;

const DecisionBody = Type.Object(
  {
    decision: enumOf(['allow', 'block'], 'allow: the video goes on; block: it is blocked'),
    reason: Type.String({ minLength: 1, maxLength: MAX_REASON_CHARS, pattern: '\\S', description: 'Why, for the record and the owner' }),
  },
  { title: 'ModerationDecisionRequest', additionalProperties: false },
);
type DecisionBody = Static<typeof DecisionBody>;

const AppealBody = Type.Object(
  { statement: Type.String({ minLength: 1, maxLength: MAX_REASON_CHARS, pattern: '\\S', description: 'Why the block is wrong, in the owner’s words' }) },
  { title: 'ModerationAppealRequest', additionalProperties: false },
);
type AppealBody = Static<typeof AppealBody>;

/**
 * How long a decision waits for the case's workflow when the case is recorded as waiting but its workflow is not up
 * yet (it starts just after the case is recorded), and how often it looks again.
 */
const WORKFLOW_START_WAIT_MS = 10_000;
const WORKFLOW_START_POLL_MS = 100;

const caseNotFound = (id: string) => new ProblemError({ status: 404, code: 'case_not_found', detail: `no moderation case ${id} that you may see` });

/** The decider's refusals as HTTP problems. */
function refusal(code: string, message: string, id: string): ProblemError {
  switch (code) {
    case 'own_content':
    case 'same_moderator':
      return new ProblemError({ status: 403, code, detail: message });
    case 'not_owner':
    case 'case_not_found':
      return caseNotFound(id);
    case 'invalid_decision':
      return new ProblemError({ status: 422, code: 'unprocessable_content', detail: message });
    default:
      return new ProblemError({ status: 409, code, detail: message });
  }
}

function summaryOf(row: CaseRow): CaseSummary {
  return {
    id: row.case_id,
    object: 'moderation.case',
    video_id: row.video_id,
    owner_id: row.owner_id,
    kind: row.kind,
    status: row.status,
    verdict: row.verdict,
    categories: row.categories,
    escalated: row.escalated,
    appealed: row.appealed,
    opened_at: row.opened_at,
    updated_at: row.updated_at,
  };
}

export const moderationRoutes: FastifyPluginAsync<ModerationRoutesOptions> = async (app, options) => {
  const { eventStore, config } = options;
  const workflows = options.temporal.client.workflow;
  const cases = createModerationCasesQuery(options.db, options.schema ? { schema: options.schema } : {});

  /** The case as its stream has it, with the video's prompt; 404 for a case the caller may not see. */
  async function readCase(caller: User, id: string): Promise<{ state: ModerationCaseState; object: CaseObject }> {
    const recorded = CASE_ID.test(id) ? await readStreamOrEmpty(eventStore, `moderation-${id}`) : [];
    const state = foldModeration(recorded.map((e) => ({ type: e.type, data: e.data }) as ModerationEvent));
    if (state.caseId === null) throw caseNotFound(id);
    if (!hasRole(caller, 'moderator', 'admin', 'auditor') && caller.id !== state.ownerId) throw caseNotFound(id);
    const video = foldVideo((await readStreamOrEmpty(eventStore, `video-${state.subjectId}`)).map((e) => ({ type: e.type, data: e.data }) as VideoEvent));
    return {
      state,
      object: {
        id,
        object: 'moderation.case',
        video_id: state.subjectId!,
        owner_id: state.ownerId,
        kind: state.stage!,
        status: state.status,
        verdict: state.verdict,
        categories: state.categories,
        escalated: state.escalated,
        appealed: state.appealed,
        opened_at: state.openedAt ?? 0,
        updated_at: state.updatedAt ?? 0,
        reasons: state.reasons,
        prompt: video.request?.prompt ?? null,
        decisions: state.decisions,
        appeal: state.appeal,
        review: state.review,
        events: recorded.map((e) => ({ type: e.type, data: e.data, revision: Number(e.revision), created_at: e.created.toISOString() })),
      },
    };
  }

  app.get<{ Querystring: ListQuery }>(
    '/v1/moderation/cases',
    {
      config: { roles: ['moderator', 'admin'] },
      schema: {
        tags: ['moderation'],
        summary: 'The moderation queue: cases by status and kind, oldest first',
        querystring: ListQuery,
        response: {
          200: Type.Object({
            object: Type.Literal('list'),
            data: Type.Array(CaseSummary),
            first_id: Type.Union([Type.String(), Type.Null()]),
            last_id: Type.Union([Type.String(), Type.Null()]),
            has_more: Type.Boolean(),
          }),
        },
      },
    },
    async (request) => {
      const { status, kind, after, limit } = request.query;
      const page = await cases.list({
        ...(status ? { status: status as CaseRow['status'] } : {}),
        ...(kind ? { kind: kind as CaseRow['kind'] } : {}),
        ...(after ? { after } : {}),
        limit: limit ?? 20,
      });
      const data = page.rows.map(summaryOf);
      return { object: 'list' as const, data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more: page.hasMore };
    },
  );

  app.get<{ Params: CaseParams }>(
    '/v1/moderation/cases/:id',
    {
      schema: {
        tags: ['moderation'],
        summary: 'A moderation case: what was judged, the scores, the frames by key, every decision (moderators, auditors, the owner)',
        params: CaseParams,
        response: { 200: CaseObject, 404: problemResponse('No such case, or one the caller may not see') },
      },
    },
    async (request) => (await readCase(callerOf(request), request.params.id)).object,
  );

  app.post<{ Params: CaseParams; Body: DecisionBody }>(
    '/v1/moderation/cases/:id/decision',
    {
      config: { roles: ['moderator', 'admin'] },
      schema: {
        tags: ['moderation'],
        summary: 'Decide a case in review, or an appeal: allow or block, with a reason',
        params: CaseParams,
        body: DecisionBody,
        response: {
          200: CaseObject,
          404: problemResponse('No such case'),
          409: problemResponse('The case does not wait for a decision (`case_not_awaiting_review`)'),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { id } = request.params;
      const decision = { moderator_id: caller.id, decision: request.body.decision as 'allow' | 'block', reason: request.body.reason };
      let notRunning = '';
      // Recorded as waiting, but its workflow is not up: the video's workflow records the case (which the queue may show
      // at once) and then starts the case's workflow; an appeal, likewise. Wait for it a moment.
      const decided = await poll(
        async () => {
          // The decider first, on the case as recorded: a clear refusal even when no workflow waits (a closed case).
          const { state } = await readCase(caller, id);
          try {
            decideModeration({ type: 'DecideCase', data: { ...decision, at: Math.floor(Date.now() / 1000) } }, state);
          } catch (err) {
            if (err instanceof ModerationCommandRefused) throw refusal(err.code, err.message, id);
            throw err;
          }
          const outcome = await executeUpdateOrRefusal(workflows.getHandle(`moderation-${id}`), decideCaseUpdate, [decision]);
          if (outcome.ok) return true;
          if (outcome.code !== 'not_running') throw refusal(outcome.code, outcome.message, id);
          notRunning = outcome.message;
          return undefined;
        },
        WORKFLOW_START_WAIT_MS,
        WORKFLOW_START_POLL_MS,
      );
      if (!decided) throw new ProblemError({ status: 409, code: 'case_not_awaiting_review', detail: `case ${id} has no review waiting: ${notRunning}` });
      return (await readCase(caller, id)).object;
    },
  );

  app.post<{ Params: CaseParams; Body: AppealBody }>(
    '/v1/moderation/cases/:id/appeal',
    {
      schema: {
        tags: ['moderation'],
        summary: 'Appeal the block of your video (once per case); another moderator decides it',
        params: CaseParams,
        body: AppealBody,
        response: {
          202: CaseObject,
          404: problemResponse('No such case, or not about your content'),
          409: problemResponse('Not blocked (`not_blocked`), or appealed already (`already_appealed`)'),
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const { id } = request.params;
      const { state } = await readCase(caller, id);
      const appeal = { by: caller.id, statement: request.body.statement };
      try {
        decideModeration(
          { type: 'AppealCase', data: { ...appeal, terms: { escalate_after_seconds: 1, default_after_seconds: 1, default: 'block' }, at: 0 } },
          state,
        );
      } catch (err) {
        if (err instanceof ModerationCommandRefused) throw refusal(err.code, err.message, id);
        throw err;
      }
      const workflowId = `moderation-${id}`;
      try {
        await workflows.start<typeof caseReviewWorkflow>('caseReviewWorkflow', {
          taskQueue: config.taskQueue,
          workflowId,
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          args: [
            {
              caseId: id,
              mode: 'appeal',
              appeal,
              actor: caller.id,
              correlationId: state.subjectId!,
              generation: {
                ...(config.gpuTaskQueue ? { gpuTaskQueue: config.gpuTaskQueue } : {}),
                ...(config.retentionSeconds ? { retentionSeconds: config.retentionSeconds } : {}),
              },
            },
          ],
        });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          throw new ProblemError({ status: 409, code: 'already_appealed', detail: `case ${id} is being reviewed or appealed already` });
        }
        throw err;
      }
      // Answered once the appeal is on the case's stream (the workflow records it at once).
      const handle = workflows.getHandle(workflowId);
      await poll(async () => ((await handle.query(caseStateQuery).catch(() => undefined))?.appealed ? true : undefined), 10_000);
      reply.code(202);
      return (await readCase(caller, id)).object;
    },
  );
};
