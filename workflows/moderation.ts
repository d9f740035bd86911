// moderationWorkflow: one case per judged subject (a prompt, or a rendered output). Automated classifiers decide
// today; a borderline verdict would wait for a moderator's ReviewDecided signal with a timeout and a default here
// (the seam for human review, which comes later).
import { patched, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { AutomatedVerdict } from '../activities/moderation';
import type { ModerationEvent, ModerationStage, Verdict } from '../domain/moderation/events';
import { joinOutputVerdicts, type ScoredFrame } from '../domain/moderation/outputSafety';
import { streamWriter } from './streamWriter';

const { checkOutputFlashes } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});
// The prompt policy is a pure function of the prompt and the worker's policy file: a local activity (no task queue
// round trip), its result recorded in the history like any other.
// The safety verdict is the same: the scores (made on the GPU queue as the chunks rendered) against the policy's threshold.
const { moderatePrompt, checkOutputSafety } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 5 },
});

/**
 * What a case judges. An output is judged on its video segments as decoded (the MP4's video stream is these
 * segments, copied by the mux), measured one by one while the video rendered (measureSegmentFlashes), and on the
 * safety classifier's scores of sampled frames of each (scoreSegmentSafety, on the GPU queue). `safety` is absent for
 * outputs of generation workflows from before the classifier (the 'output-safety' patch): flashes only, as then.
 */
export type ModerationSubject =
  | { stage: 'prompt'; prompt: string }
  | { stage: 'output'; contentKey: string; measurementKeys: string[]; fps: number; safety?: ScoredFrame[] };

export interface ModerationInput {
  caseId: string;
  subjectId: string;
  subject: ModerationSubject;
  actor: string;
  correlationId: string;
}

export interface ModerationResult {
  caseId: string;
  verdict: Verdict;
  categories: string[];
  reasons: string[];
}

export async function moderationWorkflow(input: ModerationInput): Promise<ModerationResult> {
  const stream = workflowInfo().workflowId;
  const writer = streamWriter(stream, { actor: input.actor, correlationId: input.correlationId });
  const record = (events: ModerationEvent[]) => writer.append(() => events, input.subjectId);
  const now = () => Math.floor(Date.now() / 1000);
  const stage: ModerationStage = input.subject.stage;

  const caseOpened = caseOpenedEvent(input.caseId, input.subjectId, stage, now());
  // Only histories from before the 'moderation-inline' patch run this workflow; nobody waits for a review here, so the
  // review band does not exist for them: under the block threshold is allowed, as it was.
  const classify = async (): Promise<AutomatedVerdict> => {
    const automated = input.subject.stage === 'prompt' ? await moderatePrompt({ prompt: input.subject.prompt }) : await judgeOutput(input.subject);
    return automated.verdict === 'review' ? { ...automated, verdict: 'allow', review: undefined } : automated;
  };
  const verdictOf = (automated: AutomatedVerdict): ModerationEvent[] => caseVerdictEvents(automated, now());
  // The prompt policy answers within the workflow task (a local activity): the whole case is one append. Histories
  // from before this patch appended CaseOpened first, beside the classifier.
  if (input.subject.stage === 'prompt' && patched('prompt-case-in-one-append')) {
    const automated = await classify();
    await record([caseOpened, ...verdictOf(automated)]);
    return { caseId: input.caseId, verdict: automated.verdict as Verdict, categories: automated.categories, reasons: automated.reasons };
  }
  // The case is opened while the classifier runs: the verdict is appended after it either way.
  const opened = record([caseOpened]);
  opened.catch(() => undefined);
  const automated = await classify();
  await opened;
  await record(verdictOf(automated));
  return { caseId: input.caseId, verdict: automated.verdict as Verdict, categories: automated.categories, reasons: automated.reasons };
}

/** A case's first event. */
export function caseOpenedEvent(caseId: string, subjectId: string, stage: ModerationStage, at: number, ownerId?: string): ModerationEvent {
  return { type: 'CaseOpened', data: { case_id: caseId, subject_id: subjectId, stage, ...(ownerId ? { owner_id: ownerId } : {}), at } };
}

/**
 * An automated verdict and the case closed by it (how a case without a person in it ends), or, in the review band,
 * sent to a person with the policy's terms (caseReviewWorkflow then waits for the decision).
 */
export function caseVerdictEvents(automated: AutomatedVerdict, at: number): ModerationEvent[] {
  const judged: ModerationEvent = {
    type: 'AutomatedVerdict',
    data: { verdict: automated.verdict, categories: automated.categories, reasons: automated.reasons, details: automated.details, at },
  };
  if (automated.verdict === 'review') {
    const reason = automated.reasons.join('; ') || 'scored in the review band';
    return [judged, { type: 'ReviewRequested', data: { reason, ...(automated.review ?? {}), at } }];
  }
  return [judged, { type: 'CaseClosed', data: { verdict: automated.verdict, at } }];
}

/**
 * The output's classifiers side by side, joined into one verdict (blocked if either blocks). A subject without scores
 * runs the flash analysis alone: its commands are those of the histories recorded before the safety classifier, which
 * is why no patch is needed here (the generation workflow's 'output-safety' patch decides whether scores come).
 */
async function judgeOutput(subject: Extract<ModerationSubject, { stage: 'output' }>): Promise<AutomatedVerdict> {
  const flashes = checkOutputFlashes({ measurementKeys: subject.measurementKeys, fps: subject.fps });
  if (!subject.safety) return await flashes;
  const [flashVerdict, safetyVerdict] = await Promise.all([flashes, checkOutputSafety({ frames: subject.safety })]);
  return joinOutputVerdicts(flashVerdict, safetyVerdict);
}
