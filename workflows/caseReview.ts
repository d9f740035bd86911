// caseReviewWorkflow (`moderation-<case id>`): a moderation case waiting for a person. Two ways in:
// - review: the classifiers scored the prompt or the output in the policy's review band; the generation workflow
//   recorded the case (opened, its automated verdict, review requested) and runs this as its child, waiting for it;
// - appeal: the owner of a blocked video appealed (the API starts this); the appeal is recorded on the case and on the
//   video, and an upheld appeal resumes the video from where it was blocked.
// A moderator decides through the `decideCase` Update, validated by the moderation decider (no moderator decides a case
// about their own content; an appeal goes to another moderator than the one who blocked). No decision within the
// policy's time escalates the case (recorded); none after a second period ends it by the policy's default (an
// appeal's: the block stands). Every step is an event on the case's stream.
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  ParentClosePolicy,
  proxyLocalActivities,
  setHandler,
  startChild,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { decideModeration, ModerationCommandRefused, type ModerationCommand } from '../domain/moderation/decide';
import {
  awaitsDecision,
  evolveModeration,
  foldModeration,
  initialModerationState,
  type ModerationEvent,
  type ReviewTerms,
  type Verdict,
} from '../domain/moderation/events';
import { evolve, type VideoEvent } from '../domain/video';
import { caseStateQuery, decideCaseUpdate } from './definitions';
import { retentionWorkflow } from './retention';
import { streamWriter, type StreamWriter } from './streamWriter';
import { appendToVideo, decideOrFail, readStream } from './videoStream';

const { moderationReviewTerms } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 5 },
});

export interface CaseReviewInput {
  caseId: string;
  mode: 'review' | 'appeal';
  /** The owner's appeal (mode `appeal`): who, and their statement. */
  appeal?: { by: string; statement: string };
  actor: string;
  /** The video the case is about. */
  correlationId: string;
  /** How an upheld appeal carries the video on, as the API starts a generation: the inference queue and the retention. */
  generation?: { gpuTaskQueue?: string; retentionSeconds?: number };
}

export interface CaseOutcome {
  caseId: string;
  verdict: Verdict;
  /** Who decided: a moderator, or null for the policy's default. */
  moderator_id: string | null;
  reason: string;
  defaulted: boolean;
}

const now = () => Math.floor(Date.now() / 1000);

/** Where this workflow's sequence numbers for its case's stream start (see the writer below). */
const CASE_SEQ_BASE = 1 << 30;

/** The decider's refusal as an ApplicationFailure: it fails the Update (or the workflow), never the workflow task. */
function decideOrRefuse(command: ModerationCommand, state: ReturnType<typeof foldModeration>): ModerationEvent[] {
  try {
    return decideModeration(command, state);
  } catch (err) {
    if (err instanceof ModerationCommandRefused) throw ApplicationFailure.nonRetryable(err.message, err.code);
    throw err;
  }
}

export async function caseReviewWorkflow(input: CaseReviewInput): Promise<CaseOutcome> {
  const stream = workflowInfo().workflowId;
  let state = initialModerationState;
  let writer: StreamWriter | undefined = undefined;
  const record = async (command: ModerationCommand, actor?: string) => {
    await condition(() => writer !== undefined);
    return await writer!.append(
      () => {
        const events = decideOrRefuse(command, state);
        state = events.reduce(evolveModeration, state);
        return events;
      },
      input.caseId,
      actor ? { actor } : undefined,
    );
  };
  // The handlers first, before anything is awaited: a decision sent the moment the case shows in the queue finds them.
  // Until the case is read, the validator lets a decision through and the handler, once it is read, decides it.
  setHandler(caseStateQuery, () => state);
  setHandler(
    decideCaseUpdate,
    async (decision) => {
      await record({ type: 'DecideCase', data: { ...decision, at: now() } }, decision.moderator_id);
      return state;
    },
    { validator: (decision) => void (writer && decideOrRefuse({ type: 'DecideCase', data: { ...decision, at: now() } }, state)) },
  );

  const read = await readStream({ stream });
  state = foldModeration(read.events as ModerationEvent[]);
  if (state.caseId === null) throw ApplicationFailure.nonRetryable(`case ${input.caseId} was never opened`, 'case_not_found');
  // Event ids derive from the workflow id and the sequence. The case's from CASE_SEQ_BASE plus the revision read, so
  // that a later run of this id (an appeal after a review) never repeats one, nor meets this workflow's appends to the
  // video's stream (appendToVideo numbers those by the video's revision, far below).
  writer = streamWriter(
    stream,
    { actor: input.actor, correlationId: input.correlationId },
    { revision: read.revision, seq: CASE_SEQ_BASE + Number(read.revision) + 1 },
  );

  if (input.mode === 'appeal') await recordAppeal(input, record);
  const terms: ReviewTerms = state.review ?? (await moderationReviewTerms());
  const decided = () => !awaitsDecision(state);
  try {
    if (!(await condition(decided, terms.escalate_after_seconds * 1000))) {
      await record({ type: 'EscalateCase', data: { at: now() } });
      if (!(await condition(decided, terms.default_after_seconds * 1000))) await record({ type: 'CloseByDefault', data: { at: now() } });
    }
  } catch (err) {
    // The video waiting for it was cancelled (its workflow cancels this child): the case leaves the queue, undecided.
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() =>
        record({
          type: 'WithdrawCase',
          data: { reason: 'the video stopped (cancelled, past its deadline or without consent) while it waited for review', at: now() },
        }),
      );
    }
    throw err;
  }
  // The decision's append (in its Update's handler) is recorded before the workflow goes on.
  await condition(allHandlersFinished);
  const last = state.decisions[state.decisions.length - 1]!;
  const outcome: CaseOutcome = {
    caseId: input.caseId,
    verdict: last.decision,
    moderator_id: last.moderator_id,
    reason: last.reason,
    defaulted: last.defaulted,
  };
  if (input.mode === 'appeal') await carryOutAppeal(input, state.subjectId!, state.stage!, outcome);
  return outcome;
}

/** The owner's appeal on the case (the decider checks it is theirs, blocked, and the first), then on the video. */
async function recordAppeal(input: CaseReviewInput, record: (command: ModerationCommand, actor?: string) => Promise<unknown>): Promise<void> {
  const appeal = input.appeal;
  if (!appeal) throw ApplicationFailure.nonRetryable('an appeal needs who appeals and their statement', 'invalid_decision');
  const terms = await moderationReviewTerms();
  await record({ type: 'AppealCase', data: { by: appeal.by, statement: appeal.statement, terms, at: now() } }, appeal.by);
  await appendToVideo(input.correlationId, { actor: appeal.by }, (video) =>
    decideOrFail({ type: 'AppealBlock', data: { case_id: input.caseId, by: appeal.by, at: now() } }, video),
  );
}

/**
 * The appeal's decision on the video. Upheld, the video goes on from where it was blocked: a blocked prompt renders now
 * (its generation starts again, reading the stream, as `video-<id>`); a blocked output is completed as a private draft
 * from the content already rendered. Refused, the block stands.
 */
async function carryOutAppeal(input: CaseReviewInput, videoId: string, stage: 'prompt' | 'output', outcome: CaseOutcome): Promise<void> {
  const at = now();
  const retention = input.generation?.retentionSeconds ?? 0;
  const { state: before } = await appendToVideo(videoId, { actor: outcome.moderator_id ?? input.actor }, (video) => {
    const events: VideoEvent[] = decideOrFail(
      { type: 'RecordAppealDecision', data: { case_id: input.caseId, decision: outcome.verdict, by: outcome.moderator_id, reason: outcome.reason, at } },
      video,
    );
    if (outcome.verdict === 'allow' && stage === 'output') {
      const after = events.reduce(evolve, video);
      events.push(...decideOrFail({ type: 'CompleteVideo', data: { at, ...(retention > 0 ? { expires_at: at + retention } : {}) } }, after));
    }
    return events;
  });
  if (outcome.verdict !== 'allow') return;
  if (stage === 'output') {
    if (retention > 0) {
      await startChild(retentionWorkflow, {
        workflowId: `retention-${videoId}`,
        args: [{ videoId, expiresAt: at + retention, actor: 'retention' }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    }
    return;
  }
  // The generation's first run ended when the prompt was blocked: a new run of the same id carries the video on.
  await startChild('generationWorkflow', {
    workflowId: `video-${videoId}`,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    parentClosePolicy: ParentClosePolicy.ABANDON,
    args: [
      {
        request: before.request!,
        actor: input.actor,
        resume: true,
        ...(input.generation?.gpuTaskQueue ? { gpuTaskQueue: input.generation.gpuTaskQueue } : {}),
        ...(retention > 0 ? { retentionSeconds: retention } : {}),
      },
    ],
  });
}
