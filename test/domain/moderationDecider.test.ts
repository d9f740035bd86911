// The moderation decider, given/when/then: who may decide a case in review, what the timers record, and appeals.
import { moderationDecider, ModerationCommandRefused } from '../../domain/moderation/decide';
import type { ModerationEvent, ReviewTerms } from '../../domain/moderation/events';
import { foldModeration } from '../../domain/moderation/events';
import { specFor } from '../support/decider';

const spec = specFor(moderationDecider);
const terms: ReviewTerms = { escalate_after_seconds: 60, default_after_seconds: 600, default: 'block' };
const opened: ModerationEvent = { type: 'CaseOpened', data: { case_id: 'case_1', subject_id: 'video_1', stage: 'prompt', owner_id: 'user_owner', at: 1 } };
const inBand: ModerationEvent = {
  type: 'AutomatedVerdict',
  data: { verdict: 'review', categories: ['graphic_violence'], reasons: ['possibly graphic'], details: { score: 0.5 }, at: 1 },
};
const requested: ModerationEvent = { type: 'ReviewRequested', data: { reason: 'possibly graphic', ...terms, at: 1 } };
const inReview = [opened, inBand, requested];
const decided = (decision: 'allow' | 'block', moderator: string | null, at = 5, appeal = false): ModerationEvent[] => [
  { type: 'ReviewDecided', data: { decision, reason: 'looked at it', moderator_id: moderator, ...(appeal ? { appeal: true } : {}), at } },
  { type: 'CaseClosed', data: { verdict: decision, at } },
];
const appealed: ModerationEvent = { type: 'Appealed', data: { by: 'user_owner', reason: 'it is a cartoon', ...terms, at: 10 } };
const refusal = (code: string) => (err: unknown) => err instanceof ModerationCommandRefused && err.code === code;
const decide = (moderator: string, decision: 'allow' | 'block' = 'allow', at = 5) =>
  ({ type: 'DecideCase', data: { moderator_id: moderator, decision, reason: 'looked at it', at } }) as const;

describe('moderation decider', () => {
  it('given a case in review, when a moderator decides, then the decision closes it', () => {
    spec.given(inReview).when(decide('user_mod')).then(decided('allow', 'user_mod'));
    spec.given(inReview).when(decide('user_mod', 'block')).then(decided('block', 'user_mod'));
  });

  it('given a case about their own content, when its owner decides as a moderator, then it is refused', () => {
    spec.given(inReview).when(decide('user_owner')).thenThrows(refusal('own_content'));
  });

  it('given a closed case, or one never opened, when a moderator decides, then it is refused', () => {
    spec
      .given([...inReview, ...decided('allow', 'user_mod')])
      .when(decide('user_mod2'))
      .thenThrows(refusal('case_not_awaiting_review'));
    spec
      .given([
        opened,
        { type: 'AutomatedVerdict', data: { ...inBand.data, verdict: 'allow' } } as ModerationEvent,
        { type: 'CaseClosed', data: { verdict: 'allow', at: 1 } },
      ])
      .when(decide('user_mod'))
      .thenThrows(refusal('case_not_awaiting_review'));
    spec.given([]).when(decide('user_mod')).thenThrows(refusal('case_not_found'));
  });

  it('refuses a decision without a reason, or not allow/block', () => {
    spec
      .given(inReview)
      .when({ type: 'DecideCase', data: { moderator_id: 'm', decision: 'allow', reason: '  ', at: 5 } })
      .thenThrows(refusal('invalid_decision'));
    spec
      .given(inReview)
      .when({ type: 'DecideCase', data: { moderator_id: 'm', decision: 'maybe' as never, reason: 'r', at: 5 } })
      .thenThrows(refusal('invalid_decision'));
  });

  it('given nobody decided, when the first timer fires, then the case escalates once; when the second fires, it ends by the default', () => {
    spec
      .given(inReview)
      .when({ type: 'EscalateCase', data: { at: 61 } })
      .then([{ type: 'CaseEscalated', data: { after_seconds: 60, at: 61 } }]);
    const escalated: ModerationEvent = { type: 'CaseEscalated', data: { after_seconds: 60, at: 61 } };
    spec
      .given([...inReview, escalated])
      .when({ type: 'EscalateCase', data: { at: 62 } })
      .then([]);
    spec
      .given([...inReview, escalated])
      .when({ type: 'CloseByDefault', data: { at: 661 } })
      .then([
        {
          type: 'ReviewDecided',
          data: { decision: 'block', reason: "no moderator decided within 660 s: the policy's default (block)", moderator_id: null, defaulted: true, at: 661 },
        },
        { type: 'CaseClosed', data: { verdict: 'block', at: 661 } },
      ]);
    // An escalated case may still be decided by a moderator.
    spec
      .given([...inReview, escalated])
      .when(decide('user_mod', 'allow', 70))
      .then(decided('allow', 'user_mod', 70));
  });

  it('given a decision raced the timers, when they fire, then they record nothing', () => {
    const closed = [...inReview, ...decided('allow', 'user_mod')];
    spec
      .given(closed)
      .when({ type: 'EscalateCase', data: { at: 61 } })
      .then([]);
    spec
      .given(closed)
      .when({ type: 'CloseByDefault', data: { at: 661 } })
      .then([]);
  });

  it('given a blocked case, when its owner appeals, then the appeal is recorded once', () => {
    const blocked = [...inReview, ...decided('block', 'user_modA')];
    spec
      .given(blocked)
      .when({ type: 'AppealCase', data: { by: 'user_owner', statement: 'it is a cartoon', terms, at: 10 } })
      .then([appealed]);
    spec
      .given([...blocked, appealed])
      .when({ type: 'AppealCase', data: { by: 'user_owner', statement: 'again', terms, at: 11 } })
      .thenThrows(refusal('already_appealed'));
    spec
      .given(blocked)
      .when({ type: 'AppealCase', data: { by: 'user_other', statement: 'x', terms, at: 10 } })
      .thenThrows(refusal('not_owner'));
    spec
      .given([...inReview, ...decided('allow', 'user_modA')])
      .when({ type: 'AppealCase', data: { by: 'user_owner', statement: 'x', terms, at: 10 } })
      .thenThrows(refusal('not_blocked'));
    spec
      .given(inReview)
      .when({ type: 'AppealCase', data: { by: 'user_owner', statement: 'x', terms, at: 10 } })
      .thenThrows(refusal('not_blocked'));
  });

  it('given an appeal, when the moderator who blocked decides, then it is refused; another moderator decides it as an appeal', () => {
    const history = [...inReview, ...decided('block', 'user_modA'), appealed];
    spec.given(history).when(decide('user_modA')).thenThrows(refusal('same_moderator'));
    spec
      .given(history)
      .when(decide('user_modB', 'allow', 20))
      .then(decided('allow', 'user_modB', 20, true));
    // Nobody decides the appeal: the block stands.
    spec
      .given(history)
      .when({ type: 'CloseByDefault', data: { at: 700 } })
      .then([
        {
          type: 'ReviewDecided',
          data: {
            decision: 'block',
            reason: 'no moderator decided the appeal within 660 s: the block stands',
            moderator_id: null,
            defaulted: true,
            appeal: true,
            at: 700,
          },
        },
        { type: 'CaseClosed', data: { verdict: 'block', at: 700 } },
      ]);
  });

  it('given a case in review, when its video stops, then it is withdrawn undecided; a decided case is left as it is', () => {
    spec
      .given(inReview)
      .when({ type: 'WithdrawCase', data: { reason: 'cancelled', at: 9 } })
      .then([{ type: 'CaseWithdrawn', data: { reason: 'cancelled', at: 9 } }]);
    expect(foldModeration([...inReview, { type: 'CaseWithdrawn', data: { reason: 'cancelled', at: 9 } }])).toMatchObject({
      status: 'closed',
      verdict: 'review',
    });
    spec
      .given([...inReview, ...decided('allow', 'user_mod')])
      .when({ type: 'WithdrawCase', data: { reason: 'cancelled', at: 9 } })
      .then([]);
  });

  it('folds a case with its decisions, the appeal and where it stands', () => {
    const state = foldModeration([...inReview, ...decided('block', 'user_modA'), appealed, ...decided('allow', 'user_modB', 20, true)]);
    expect(state).toMatchObject({
      status: 'closed',
      verdict: 'allow',
      appealed: true,
      ownerId: 'user_owner',
      appeal: { by: 'user_owner', statement: 'it is a cartoon' },
    });
    expect(state.decisions.map((d) => [d.decision, d.moderator_id, d.appeal])).toEqual([
      ['block', 'user_modA', false],
      ['allow', 'user_modB', true],
    ]);
  });
});
