// The events of a `moderation-<caseId>` stream: one case per thing judged (a prompt, an output). The classifiers
// allow, block, or (a score in the policy's review band) send the case to people; a case in review waits for a
// moderator's decision, escalates when none comes in time, and ends by the policy's default after a second period. The
// owner of a blocked subject may appeal once; another moderator than the one who blocked it decides the appeal.

export type ModerationStage = 'prompt' | 'output';
export type Verdict = 'allow' | 'block';
/** What the automated classifiers answer: a verdict, or `review` (a score in the review band): a person decides. */
export type AutomatedOutcome = Verdict | 'review';

/** How long a case in review waits (the policy file's `review` section), recorded when the review is requested. */
export interface ReviewTerms {
  /** No decision this long after the review was requested (or the appeal made): the case is escalated. */
  escalate_after_seconds: number;
  /** No decision this long after the escalation: the case ends by `default`. */
  default_after_seconds: number;
  /** How a review nobody decided ends (an appeal nobody decided ends with the block standing). */
  default: Verdict;
}

export type ModerationEvent =
  /** `owner_id`: whose content it is (no moderator decides a case about their own); absent on cases from before review. */
  | { type: 'CaseOpened'; data: { case_id: string; subject_id: string; stage: ModerationStage; owner_id?: string; at: number } }
  | {
      type: 'AutomatedVerdict';
      data: { verdict: AutomatedOutcome; categories: string[]; reasons: string[]; details: Record<string, unknown>; at: number };
    }
  | { type: 'ReviewRequested'; data: { reason: string; at: number } & Partial<ReviewTerms> }
  /** Nobody decided within `after_seconds`: the case goes to senior moderators (the queue's `escalated`). */
  | { type: 'CaseEscalated'; data: { after_seconds: number; at: number } }
  /**
   * A decision: a moderator's (`moderator_id`), or the policy's default when nobody decided in time (`defaulted`,
   * `moderator_id` null). `appeal`: the decision on the owner's appeal.
   */
  | {
      type: 'ReviewDecided';
      data: { decision: Verdict; reason: string; moderator_id: string | null; defaulted?: boolean; appeal?: boolean; at: number };
    }
  /** The owner's appeal of a blocked case: `reason` is their statement. */
  | { type: 'Appealed'; data: { by: string; reason: string; at: number } & Partial<ReviewTerms> }
  | { type: 'CaseClosed'; data: { verdict: Verdict; at: number } }
  /** Nothing left to decide: the video waiting for the review was cancelled. Closed without a decision. */
  | { type: 'CaseWithdrawn'; data: { reason: string; at: number } };

export type CaseStatus = 'open' | 'awaiting_review' | 'escalated' | 'closed';

export interface CaseDecision {
  decision: Verdict;
  reason: string;
  moderator_id: string | null;
  defaulted: boolean;
  appeal: boolean;
  at: number;
}

export interface ModerationCaseState {
  caseId: string | null;
  subjectId: string | null;
  ownerId: string | null;
  stage: ModerationStage | null;
  status: CaseStatus;
  /** The automated outcome, then each decision's: where the case stands now. */
  verdict: AutomatedOutcome | null;
  categories: string[];
  reasons: string[];
  /** The terms of the review or appeal now waiting (null when none is). */
  review: ReviewTerms | null;
  decisions: CaseDecision[];
  escalated: boolean;
  appealed: boolean;
  /** The statement of the appeal, once made. */
  appeal: { by: string; statement: string; at: number } | null;
  openedAt: number | null;
  updatedAt: number | null;
}

export const initialModerationState: ModerationCaseState = Object.freeze({
  caseId: null,
  subjectId: null,
  ownerId: null,
  stage: null,
  status: 'open',
  verdict: null,
  categories: [],
  reasons: [],
  review: null,
  decisions: [],
  escalated: false,
  appealed: false,
  appeal: null,
  openedAt: null,
  updatedAt: null,
}) as ModerationCaseState;

/** The terms recorded on a ReviewRequested or Appealed event, when it has them. */
function termsOf(data: Partial<ReviewTerms>): ReviewTerms | null {
  const { escalate_after_seconds: escalate, default_after_seconds: after, default: verdict } = data;
  return escalate !== undefined && after !== undefined && verdict !== undefined
    ? { escalate_after_seconds: escalate, default_after_seconds: after, default: verdict }
    : null;
}

export function evolveModeration(state: ModerationCaseState, event: ModerationEvent): ModerationCaseState {
  // `?? []`, `?? null`: states folded before review lack the fields.
  const at = { updatedAt: event.data.at };
  switch (event.type) {
    case 'CaseOpened':
      return {
        ...state,
        ...at,
        caseId: event.data.case_id,
        subjectId: event.data.subject_id,
        ownerId: event.data.owner_id ?? null,
        stage: event.data.stage,
        status: 'open',
        openedAt: event.data.at,
      };
    case 'AutomatedVerdict':
      return { ...state, ...at, verdict: event.data.verdict, categories: event.data.categories, reasons: event.data.reasons };
    case 'ReviewRequested':
      return { ...state, ...at, status: 'awaiting_review', review: termsOf(event.data) };
    case 'CaseEscalated':
      return { ...state, ...at, status: 'escalated', escalated: true };
    case 'ReviewDecided': {
      const decision: CaseDecision = {
        decision: event.data.decision,
        reason: event.data.reason,
        moderator_id: event.data.moderator_id,
        defaulted: event.data.defaulted === true,
        appeal: event.data.appeal === true,
        at: event.data.at,
      };
      return {
        ...state,
        ...at,
        verdict: event.data.decision,
        reasons: [...state.reasons, event.data.reason],
        decisions: [...(state.decisions ?? []), decision],
      };
    }
    case 'Appealed':
      return {
        ...state,
        ...at,
        status: 'awaiting_review',
        escalated: false,
        appealed: true,
        appeal: { by: event.data.by, statement: event.data.reason, at: event.data.at },
        review: termsOf(event.data),
      };
    case 'CaseClosed':
      return { ...state, ...at, status: 'closed', verdict: event.data.verdict, review: null };
    case 'CaseWithdrawn':
      return { ...state, ...at, status: 'closed', review: null };
  }
}

export function foldModeration(events: readonly ModerationEvent[]): ModerationCaseState {
  return events.reduce(evolveModeration, initialModerationState);
}

/** Whether the case waits for a person now (a review or an appeal, escalated or not). */
export function awaitsDecision(state: ModerationCaseState): boolean {
  return state.status === 'awaiting_review' || state.status === 'escalated';
}

/** The moderator whose decision blocked the case (null: the classifiers or the policy's default blocked it). */
export function blockedBy(state: ModerationCaseState): string | null {
  const last = [...(state.decisions ?? [])].reverse().find((d) => !d.appeal);
  return last && last.decision === 'block' ? last.moderator_id : null;
}
