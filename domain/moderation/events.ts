// The events of a `moderation-<caseId>` stream: one case per thing judged (a prompt, an output).

export type ModerationStage = 'prompt' | 'output';
export type Verdict = 'allow' | 'block';

export type ModerationEvent =
  | { type: 'CaseOpened'; data: { case_id: string; subject_id: string; stage: ModerationStage; at: number } }
  | { type: 'AutomatedVerdict'; data: { verdict: Verdict; categories: string[]; reasons: string[]; details: Record<string, unknown>; at: number } }
  | { type: 'ReviewRequested'; data: { reason: string; at: number } }
  | { type: 'ReviewDecided'; data: { decision: Verdict; reason: string; moderator_id: string; at: number } }
  | { type: 'Appealed'; data: { by: string; reason: string; at: number } }
  | { type: 'CaseClosed'; data: { verdict: Verdict; at: number } };

export interface ModerationCaseState {
  caseId: string | null;
  subjectId: string | null;
  stage: ModerationStage | null;
  status: 'open' | 'awaiting_review' | 'closed';
  verdict: Verdict | null;
  categories: string[];
  reasons: string[];
}

export const initialModerationState: ModerationCaseState = Object.freeze({
  caseId: null,
  subjectId: null,
  stage: null,
  status: 'open',
  verdict: null,
  categories: [],
  reasons: [],
}) as ModerationCaseState;

export function evolveModeration(state: ModerationCaseState, event: ModerationEvent): ModerationCaseState {
  switch (event.type) {
    case 'CaseOpened':
      return { ...state, caseId: event.data.case_id, subjectId: event.data.subject_id, stage: event.data.stage, status: 'open' };
    case 'AutomatedVerdict':
      return { ...state, verdict: event.data.verdict, categories: event.data.categories, reasons: event.data.reasons };
    case 'ReviewRequested':
      return { ...state, status: 'awaiting_review' };
    case 'ReviewDecided':
      return { ...state, verdict: event.data.decision, reasons: [...state.reasons, event.data.reason] };
    case 'Appealed':
      return { ...state, status: 'awaiting_review' };
    case 'CaseClosed':
      return { ...state, status: 'closed', verdict: event.data.verdict };
  }
}
