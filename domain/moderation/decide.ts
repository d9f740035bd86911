// The moderation decider: what people (and the clock) may do to a case. A moderator decides a case in review, never
// one about their own content; a case nobody decides escalates, then ends by the policy's default; the owner of a
// blocked subject appeals once, and another moderator than the one who blocked it decides the appeal.
// Pure: times and ids come in with the command. The case workflow validates its Updates with it.
import {
  awaitsDecision,
  blockedBy,
  evolveModeration,
  initialModerationState,
  type ModerationCaseState,
  type ModerationEvent,
  type ReviewTerms,
  type Verdict,
} from './events';

export type ModerationCommand =
  | { type: 'DecideCase'; data: { moderator_id: string; decision: Verdict; reason: string; at: number } }
  | { type: 'EscalateCase'; data: { at: number } }
  | { type: 'CloseByDefault'; data: { at: number } }
  | { type: 'WithdrawCase'; data: { reason: string; at: number } }
  | { type: 'AppealCase'; data: { by: string; statement: string; terms: ReviewTerms; at: number } };

export type ModerationRefusalCode =
  | 'case_not_found'
  | 'case_not_awaiting_review'
  | 'own_content'
  | 'same_moderator'
  | 'not_owner'
  | 'not_blocked'
  | 'already_appealed'
  | 'invalid_decision';

export class ModerationCommandRefused extends Error {
  constructor(
    readonly code: ModerationRefusalCode,
    message: string,
  ) {
    super(message);
    this.name = 'ModerationCommandRefused';
  }
}

function refuse(code: ModerationRefusalCode, message: string): never {
  throw new ModerationCommandRefused(code, message);
}

/** The longest reason or appeal statement kept: a case is read by people, not a document store. */
export const MAX_REASON_CHARS = 2000;

function requireText(text: string, what: string): void {
  if (typeof text !== 'string' || text.trim() === '') refuse('invalid_decision', `${what} must be a non-empty string`);
  if (text.length > MAX_REASON_CHARS) refuse('invalid_decision', `${what} must be at most ${MAX_REASON_CHARS} characters`);
}

export function decideModeration(command: ModerationCommand, state: ModerationCaseState): ModerationEvent[] {
  if (state.caseId === null) refuse('case_not_found', `${command.type}: the case was never opened`);
  const { at } = command.data;
  switch (command.type) {
    case 'DecideCase': {
      const { moderator_id, decision, reason } = command.data;
      if (!awaitsDecision(state)) refuse('case_not_awaiting_review', `case ${state.caseId} is ${state.status}: there is nothing to decide`);
      if (decision !== 'allow' && decision !== 'block') refuse('invalid_decision', `decision must be "allow" or "block", not ${JSON.stringify(decision)}`);
      requireText(reason, 'reason');
      if (state.ownerId !== null && moderator_id === state.ownerId) {
        refuse('own_content', `case ${state.caseId} is about your own content: another moderator decides it`);
      }
      if (state.appealed && moderator_id === blockedBy(state)) {
        refuse('same_moderator', `you blocked case ${state.caseId}: its appeal is decided by another moderator`);
      }
      return [
        { type: 'ReviewDecided', data: { decision, reason, moderator_id, ...(state.appealed ? { appeal: true } : {}), at } },
        { type: 'CaseClosed', data: { verdict: decision, at } },
      ];
    }

    case 'EscalateCase':
      // The timer raced a decision, or it already escalated: nothing to do.
      if (state.status !== 'awaiting_review') return [];
      return [{ type: 'CaseEscalated', data: { after_seconds: state.review?.escalate_after_seconds ?? 0, at } }];

    case 'CloseByDefault': {
      if (!awaitsDecision(state)) return [];
      // An appeal nobody decided leaves the block standing; a review ends by the policy's default.
      const decision: Verdict = state.appealed ? 'block' : (state.review?.default ?? 'block');
      const waited = (state.review?.escalate_after_seconds ?? 0) + (state.review?.default_after_seconds ?? 0);
      const reason = state.appealed
        ? `no moderator decided the appeal within ${waited} s: the block stands`
        : `no moderator decided within ${waited} s: the policy's default (${decision})`;
      return [
        { type: 'ReviewDecided', data: { decision, reason, moderator_id: null, defaulted: true, ...(state.appealed ? { appeal: true } : {}), at } },
        { type: 'CaseClosed', data: { verdict: decision, at } },
      ];
    }

    case 'WithdrawCase':
      if (!awaitsDecision(state)) return [];
      return [{ type: 'CaseWithdrawn', data: { reason: command.data.reason, at } }];

    case 'AppealCase': {
      const { by, statement, terms } = command.data;
      if (state.ownerId !== null && by !== state.ownerId) refuse('not_owner', `only the owner of the content of case ${state.caseId} may appeal it`);
      if (state.appealed) refuse('already_appealed', `case ${state.caseId} was already appealed: a case is appealed once`);
      if (state.status !== 'closed' || state.verdict !== 'block') {
        refuse(
          'not_blocked',
          `case ${state.caseId} is ${state.status === 'closed' ? `closed with ${state.verdict}` : state.status}: only a blocked case may be appealed`,
        );
      }
      requireText(statement, 'statement');
      return [{ type: 'Appealed', data: { by, reason: statement, ...terms, at } }];
    }
  }
}

/** How a case's state is folded, for given/when/then and the case workflow alike. */
export const moderationDecider = { decide: decideModeration, evolve: evolveModeration, initialState: initialModerationState };
