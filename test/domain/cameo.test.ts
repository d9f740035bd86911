// The cameo decider, given/when/then: who may use a verified likeness, what each consent decision records, and what
// it refuses.
import {
  CameoCommandRefused,
  consentFor,
  decide,
  evolve,
  foldCameo,
  initialCameoState,
  type CameoEvent,
  type CameoRefusalCode,
  type CameoRegisteredData,
  type Permission,
  type UseBasis,
} from '../../domain/cameo';
import { specFor } from '../support/decider';

const spec = specFor({ decide, evolve, initialState: initialCameoState });

const OWNER = 'user_owner';
const FRIEND = 'user_friend';
const MUTUAL = 'user_mutual';
const STRANGER = 'user_stranger';

const registration = (permission: Permission = 'approved'): CameoRegisteredData => ({
  cameo_id: 'cameo_1',
  owner_id: OWNER,
  display_name: 'Ada',
  permission,
  challenge_id: 'challenge_1',
  phrase: 'purple elephants dance at noon',
  recording_key: 'cameos/cameo_1/recording.webm',
  at: 1000,
});
const registered = (permission: Permission = 'approved'): CameoEvent => ({ type: 'CameoRegistered', data: registration(permission) });
const verified: CameoEvent = {
  type: 'CameoVerified',
  data: { likeness_key: 'cameos/cameo_1/likeness.bin', checks: { liveness: 0.98, phrase: true }, at: 1001 },
};
const rejected: CameoEvent = { type: 'CameoRejected', data: { reason: 'the phrase was not spoken', checks: { phrase: false }, at: 1001 } };
const permissionChanged = (permission: Permission, at = 1002): CameoEvent => ({ type: 'CameoPermissionChanged', data: { permission, by: OWNER, at } });
const granted = (user: string, at = 1003): CameoEvent => ({ type: 'CameoAccessGranted', data: { user_id: user, by: OWNER, at } });
const revoked = (user: string, at = 1004): CameoEvent => ({ type: 'CameoAccessRevoked', data: { user_id: user, by: OWNER, at } });
const used = (video: string, user: string, basis: UseBasis, grantRevision: number, at = 1005): CameoEvent => ({
  type: 'CameoUsed',
  data: { video_id: video, user_id: user, basis, grant_revision: grantRevision, at },
});
const published = (video: string, grantRevision: number, at = 1006): CameoEvent => ({
  type: 'CameoUsePublished',
  data: { video_id: video, grant_revision: grantRevision, at },
});
const useBlocked = (video: string, user: string, reason: string, at: number): CameoEvent => ({
  type: 'CameoUseBlocked',
  data: { video_id: video, user_id: user, code: 'consent_revoked', reason, at },
});
const deleted = (at = 1009): CameoEvent => ({ type: 'CameoDeleted', data: { by: OWNER, take_down: false, at } });

/** A verified cameo with `permission`: revision 0 registered, revision 1 verified. */
const live = (permission: Permission = 'approved'): CameoEvent[] => [registered(permission), verified];

/** Passes for a CameoCommandRefused with `code` whose message says, in words, what matches `words`. */
const refusal = (code: CameoRefusalCode, words?: RegExp) => (err: unknown) => {
  expect(err).toBeInstanceOf(CameoCommandRefused);
  expect((err as CameoCommandRefused).code).toBe(code);
  expect((err as CameoCommandRefused).message.length).toBeGreaterThan(10);
  if (words) expect((err as CameoCommandRefused).message).toMatch(words);
};

describe('cameo state', () => {
  it('folds a history, numbering events from revision 0', () => {
    expect(initialCameoState).toMatchObject({ exists: false, revision: -1, grants: {}, uses: {} });
    expect(Object.isFrozen(initialCameoState)).toBe(true);
    const state = foldCameo([...live('mutuals'), granted(FRIEND), used('video_1', FRIEND, 'grant', 2), published('video_1', 2)]);
    expect(state).toEqual({
      exists: true,
      cameoId: 'cameo_1',
      ownerId: OWNER,
      displayName: 'Ada',
      status: 'verified',
      permission: 'mutuals',
      phrase: 'purple elephants dance at noon',
      recordingKey: 'cameos/cameo_1/recording.webm',
      likenessKey: 'cameos/cameo_1/likeness.bin',
      rejectReason: null,
      rejectCode: null,
      verificationChecks: [],
      grants: { [FRIEND]: { revision: 2, granted_at: 1003 } },
      permissionRevision: 0,
      verifiedRevision: 1,
      uses: { video_1: { user_id: FRIEND, basis: 'grant', grant_revision: 2, reserved_at: 1005, status: 'published' } },
      revision: 4,
      createdAt: 1000,
      deletedAt: null,
      takeDown: false,
    });
    expect(initialCameoState.revision).toBe(-1);
  });

  it('keeps the revision of the last permission change and drops a revoked grant', () => {
    const state = foldCameo([...live(), permissionChanged('everyone'), granted(FRIEND), revoked(FRIEND), granted(MUTUAL)]);
    expect(state.permissionRevision).toBe(2);
    expect(state.grants).toEqual({ [MUTUAL]: { revision: 5, granted_at: 1003 } });
  });

  it('records a rejection and a deletion with take-down', () => {
    expect(foldCameo([registered(), rejected])).toMatchObject({ status: 'rejected', rejectReason: 'the phrase was not spoken', verifiedRevision: null });
    expect(foldCameo([...live(), { type: 'CameoDeleted', data: { by: OWNER, take_down: true, at: 2000 } }])).toMatchObject({
      status: 'deleted',
      deletedAt: 2000,
      takeDown: true,
    });
  });

  it('never mistakes an id named like an Object.prototype member for a grant', () => {
    const state = foldCameo(live('approved'));
    expect(consentFor(state, 'constructor', { mutual: false }).allowed).toBe(false);
    expect(consentFor(state, 'toString', { mutual: false }).allowed).toBe(false);
    spec
      .given(live())
      .when({ type: 'PublishUse', data: { video_id: 'hasOwnProperty', mutual: false, at: 1 } })
      .thenThrows(refusal('consent_missing'));
    const withProto = foldCameo([...live(), granted('__proto__')]);
    expect(consentFor(withProto, '__proto__', { mutual: false })).toEqual({ allowed: true, basis: 'grant', grant_revision: 2 });
    expect(Object.getPrototypeOf(withProto.grants)).toBe(Object.prototype);
  });
});

describe('consent', () => {
  const consent = (events: CameoEvent[], user: string, mutual = false) => consentFor(foldCameo(events), user, { mutual });

  it('lets nobody, the owner included, use a cameo that is not verified', () => {
    expect(consent([], OWNER)).toMatchObject({ allowed: false, code: 'consent_missing', reason: expect.stringMatching(/never registered/) });
    expect(consent([registered('everyone')], OWNER)).toMatchObject({ allowed: false, code: 'consent_missing', reason: expect.stringMatching(/pending/) });
    expect(consent([registered('everyone')], STRANGER)).toMatchObject({ allowed: false, reason: expect.stringMatching(/pending/) });
    expect(consent([registered('everyone'), rejected], OWNER)).toMatchObject({ allowed: false, reason: expect.stringMatching(/rejected/) });
    expect(consent([...live('everyone'), deleted()], OWNER)).toMatchObject({ allowed: false, reason: expect.stringMatching(/deleted/) });
    expect(consent([...live('everyone'), granted(FRIEND), deleted()], FRIEND, true)).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/deleted/),
    });
  });

  it('always lets the owner use their verified cameo, on the verification', () => {
    for (const permission of ['only_me', 'approved', 'mutuals', 'everyone'] as const) {
      expect(consent(live(permission), OWNER)).toEqual({ allowed: true, basis: 'owner', grant_revision: 1 });
    }
  });

  it('only_me: nobody but the owner, grants suspended but kept', () => {
    const history = [...live('approved'), granted(FRIEND), permissionChanged('only_me')];
    expect(consent(history, FRIEND)).toMatchObject({ allowed: false, code: 'consent_missing', reason: expect.stringMatching(/only_me/) });
    expect(consent(history, MUTUAL, true)).toMatchObject({ allowed: false, reason: expect.stringMatching(/only_me/) });
    expect(consent(history, STRANGER)).toMatchObject({ allowed: false });
    // Widening again restores the grant as it was given.
    expect(consent([...history, permissionChanged('approved')], FRIEND)).toEqual({ allowed: true, basis: 'grant', grant_revision: 2 });
  });

  it('approved: the owner and users holding a grant, not mutuals', () => {
    const history = [...live('approved'), granted(FRIEND)];
    expect(consent(history, FRIEND)).toEqual({ allowed: true, basis: 'grant', grant_revision: 2 });
    expect(consent(history, MUTUAL, true)).toMatchObject({ allowed: false, code: 'consent_missing', reason: expect.stringMatching(/not approved/) });
    expect(consent(history, STRANGER)).toMatchObject({ allowed: false });
    expect(consent([...history, revoked(FRIEND)], FRIEND)).toMatchObject({ allowed: false });
  });

  it('mutuals: grants, and users who follow the owner and are followed back, a grant first', () => {
    const history = [...live('approved'), granted(FRIEND), permissionChanged('mutuals')];
    expect(consent(history, MUTUAL, true)).toEqual({ allowed: true, basis: 'mutuals', grant_revision: 3 });
    expect(consent(history, FRIEND, true)).toEqual({ allowed: true, basis: 'grant', grant_revision: 2 });
    expect(consent(history, FRIEND, false)).toEqual({ allowed: true, basis: 'grant', grant_revision: 2 });
    expect(consent(history, STRANGER, false)).toMatchObject({ allowed: false, code: 'consent_missing', reason: expect.stringMatching(/mutuals/) });
    expect(consent(live('mutuals'), MUTUAL, true)).toEqual({ allowed: true, basis: 'mutuals', grant_revision: 0 });
  });

  it('everyone: any user, on their grant when they hold one', () => {
    const history = [...live('approved'), granted(FRIEND), permissionChanged('everyone')];
    expect(consent(history, STRANGER)).toEqual({ allowed: true, basis: 'everyone', grant_revision: 3 });
    expect(consent(history, MUTUAL, true)).toEqual({ allowed: true, basis: 'everyone', grant_revision: 3 });
    expect(consent(history, FRIEND)).toEqual({ allowed: true, basis: 'grant', grant_revision: 2 });
  });
});

describe('cameo decider', () => {
  describe('RegisterCameo', () => {
    it('registers a cameo once', () => {
      spec.given([]).when({ type: 'RegisterCameo', data: registration() }).then([registered()]);
      spec
        .given([registered()])
        .when({ type: 'RegisterCameo', data: registration() })
        .thenThrows(refusal('already_exists', /cameo_1 was already registered/));
    });

    it('refuses an unknown permission or a missing owner', () => {
      spec
        .given([])
        .when({ type: 'RegisterCameo', data: { ...registration(), permission: 'friends' as Permission } })
        .thenThrows(refusal('invalid', /friends is not a permission/));
      spec
        .given([])
        .when({ type: 'RegisterCameo', data: { ...registration(), owner_id: '' } })
        .thenThrows(refusal('invalid', /owner id/));
    });
  });

  describe('RecordVerification', () => {
    const accept = { accepted: true, likeness_key: 'cameos/cameo_1/likeness.bin', reason: null, checks: { liveness: 0.98, phrase: true }, at: 1001 };

    it('verifies a pending cameo with its likeness', () => {
      spec.given([registered()]).when({ type: 'RecordVerification', data: accept }).then([verified]);
    });

    it('rejects a pending cameo with the reason', () => {
      spec
        .given([registered()])
        .when({
          type: 'RecordVerification',
          data: { accepted: false, likeness_key: null, reason: 'the phrase was not spoken', checks: { phrase: false }, at: 1001 },
        })
        .then([rejected]);
      spec
        .given([registered()])
        .when({ type: 'RecordVerification', data: { accepted: false, likeness_key: null, reason: null, checks: {}, at: 1001 } })
        .then([{ type: 'CameoRejected', data: { reason: 'the recording did not pass verification', checks: {}, at: 1001 } }]);
    });

    const faceCheck = {
      check: 'face' as const,
      passed: false,
      code: 'no_live_face' as const,
      model: 'blazeface-front-128',
      scores: { one_face_fraction: 1, nonrigid_motion: 0.01 },
      thresholds: { min_nonrigid_motion: 0.02 },
    };
    const speechCheck = {
      check: 'speech' as const,
      passed: true,
      code: null,
      model: 'silero-vad-v5',
      scores: { speech_fraction: 0.8 },
      thresholds: { min_speech_fraction: 0.5 },
    };

    it('records each detector verdict, with its scores and thresholds, before the rejection and its code', () => {
      const reason = 'the face does not move like a live face';
      spec
        .given([registered()])
        .when({
          type: 'RecordVerification',
          data: { accepted: false, likeness_key: null, reason, code: 'no_live_face', checks: {}, detections: [faceCheck, speechCheck], at: 1001 },
        })
        .then([
          { type: 'CameoVerificationChecked', data: { ...faceCheck, at: 1001 } },
          { type: 'CameoVerificationChecked', data: { ...speechCheck, at: 1001 } },
          { type: 'CameoRejected', data: { reason, code: 'no_live_face', checks: {}, at: 1001 } },
        ]);
      const state = foldCameo([
        registered(),
        { type: 'CameoVerificationChecked', data: { ...faceCheck, at: 1001 } },
        { type: 'CameoRejected', data: { reason, code: 'no_live_face', checks: {}, at: 1001 } },
      ]);
      expect(state).toMatchObject({ status: 'rejected', rejectReason: reason, rejectCode: 'no_live_face', verificationChecks: [{ ...faceCheck, at: 1001 }] });
    });

    it('refuses an accepted verification with a failed check: the record could not explain the acceptance', () => {
      spec
        .given([registered()])
        .when({ type: 'RecordVerification', data: { ...accept, detections: [faceCheck] } })
        .thenThrows(refusal('invalid', /failed face check/));
      spec
        .given([registered()])
        .when({ type: 'RecordVerification', data: { ...accept, detections: [speechCheck] } })
        .then([{ type: 'CameoVerificationChecked', data: { ...speechCheck, at: 1001 } }, verified]);
    });

    it('refuses an accepted verification without a likeness', () => {
      spec
        .given([registered()])
        .when({ type: 'RecordVerification', data: { ...accept, likeness_key: null } })
        .thenThrows(refusal('invalid', /likeness/));
    });

    it('verifies only a pending cameo that exists', () => {
      spec
        .given([])
        .when({ type: 'RecordVerification', data: accept })
        .thenThrows(refusal('not_found', /never registered/));
      spec
        .given(live())
        .when({ type: 'RecordVerification', data: accept })
        .thenThrows(refusal('wrong_state', /already verified/));
      spec
        .given([registered(), rejected])
        .when({ type: 'RecordVerification', data: accept })
        .thenThrows(refusal('wrong_state', /already rejected/));
      spec
        .given([...live(), deleted()])
        .when({ type: 'RecordVerification', data: accept })
        .thenThrows(refusal('wrong_state', /already deleted/));
    });
  });

  describe('RecordReverification', () => {
    const check = (passed: boolean) => ({
      check: 'human_likeness' as const,
      passed,
      code: passed ? null : ('human_likeness_requires_cameo' as const),
      model: 'blazeface-front-128',
      scores: { face_fraction: passed ? 0 : 0.9 },
      thresholds: { max_face_fraction: 0.2 },
    });
    const verdict = (accepted: boolean) => ({
      type: 'RecordReverification' as const,
      data: {
        accepted,
        reason: accepted ? null : 'a character must not be a person',
        code: accepted ? null : ('human_likeness_requires_cameo' as const),
        checks: {},
        detections: [check(accepted)],
        at: 3000,
      },
    });

    it('records the checks of a recording that passes again, and nothing else changes', () => {
      spec
        .given(live('everyone'))
        .when(verdict(true))
        .then([{ type: 'CameoVerificationChecked', data: { ...check(true), at: 3000 } }]);
    });

    it('a refusal rejects the likeness and blocks every use not yet published, saying why', () => {
      const reason = 'verified again, the recording was refused: a character must not be a person';
      spec
        .given([...live('everyone'), used('v_rendering', STRANGER, 'everyone', 0), used('v_done', OWNER, 'owner', 1), published('v_done', 1)])
        .when(verdict(false))
        .then([
          { type: 'CameoVerificationChecked', data: { ...check(false), at: 3000 } },
          { type: 'CameoRejected', data: { reason, code: 'human_likeness_requires_cameo', checks: {}, at: 3000 } },
          useBlocked('v_rendering', STRANGER, reason, 3000),
        ]);
    });

    it('records nothing for a cameo no longer verified', () => {
      spec.given([registered(), rejected]).when(verdict(false)).then([]);
    });
  });

  describe('ChangePermission', () => {
    it('records a new permission, and nothing for the same one again', () => {
      spec
        .given(live())
        .when({ type: 'ChangePermission', data: { by: OWNER, permission: 'everyone', at: 1002 } })
        .then([permissionChanged('everyone')]);
      spec
        .given(live('everyone'))
        .when({ type: 'ChangePermission', data: { by: OWNER, permission: 'everyone', at: 1002 } })
        .then([]);
      // Allowed before verification too: the owner chooses who may use the cameo once it is verified.
      spec
        .given([registered()])
        .when({ type: 'ChangePermission', data: { by: OWNER, permission: 'only_me', at: 1002 } })
        .then([permissionChanged('only_me')]);
    });

    it('refuses anyone but the owner, a deleted cameo, an unknown permission and an unknown cameo', () => {
      spec
        .given(live())
        .when({ type: 'ChangePermission', data: { by: STRANGER, permission: 'everyone', at: 1 } })
        .thenThrows(refusal('forbidden', /only the cameo's owner/));
      spec
        .given([...live(), deleted()])
        .when({ type: 'ChangePermission', data: { by: OWNER, permission: 'everyone', at: 1 } })
        .thenThrows(refusal('deleted', /deleted/));
      spec
        .given(live())
        .when({ type: 'ChangePermission', data: { by: OWNER, permission: 'public' as Permission, at: 1 } })
        .thenThrows(refusal('invalid', /public is not a permission/));
      spec
        .given([])
        .when({ type: 'ChangePermission', data: { by: OWNER, permission: 'everyone', at: 1 } })
        .thenThrows(refusal('not_found'));
    });

    // Under mutuals: rev 2 grant to FRIEND, uses by the owner (rev 3), FRIEND on the grant (rev 4), MUTUAL as a mutual
    // (rev 5); then everyone (rev 6) and a use by a STRANGER on everyone (rev 7).
    const everyBasis: CameoEvent[] = [
      ...live('mutuals'),
      granted(FRIEND),
      used('v_owner', OWNER, 'owner', 1),
      used('v_grant', FRIEND, 'grant', 2),
      used('v_mutual', MUTUAL, 'mutuals', 0),
      permissionChanged('everyone'),
      used('v_everyone', STRANGER, 'everyone', 6),
    ];

    it.each([
      ['mutuals', ['v_everyone']],
      ['approved', ['v_mutual', 'v_everyone']],
      ['only_me', ['v_grant', 'v_mutual', 'v_everyone']],
    ] as const)('narrowing to %s blocks the active uses it no longer covers: %j', (permission, blockedVideos) => {
      const events = decide({ type: 'ChangePermission', data: { by: OWNER, permission, at: 2000 } }, foldCameo(everyBasis));
      expect(events[0]).toEqual(permissionChanged(permission, 2000));
      expect(
        events
          .slice(1)
          .map((e) => e.type === 'CameoUseBlocked' && e.data.video_id)
          .sort(),
      ).toEqual([...blockedVideos].sort());
      for (const e of events.slice(1)) {
        expect(e).toMatchObject({
          type: 'CameoUseBlocked',
          data: { code: 'consent_revoked', at: 2000, reason: expect.stringMatching(new RegExp(`everyone to ${permission}`)) },
        });
      }
      const after = foldCameo([...everyBasis, ...events]);
      expect(after.uses.v_owner!.status).toBe('active');
      for (const video of blockedVideos) expect(after.uses[video]).toMatchObject({ status: 'blocked', code: 'consent_revoked' });
    });

    it('leaves published and already blocked uses alone', () => {
      const history = [
        ...live('everyone'),
        used('v_published', STRANGER, 'everyone', 0),
        published('v_published', 0),
        used('v_blocked', MUTUAL, 'everyone', 0),
        useBlocked('v_blocked', MUTUAL, 'x', 1007),
      ];
      spec
        .given(history)
        .when({ type: 'ChangePermission', data: { by: OWNER, permission: 'only_me', at: 2000 } })
        .then([permissionChanged('only_me', 2000)]);
    });

    it('blocks nothing when widening', () => {
      spec
        .given([...live('mutuals'), used('v_mutual', MUTUAL, 'mutuals', 0)])
        .when({ type: 'ChangePermission', data: { by: OWNER, permission: 'everyone', at: 2000 } })
        .then([permissionChanged('everyone', 2000)]);
    });
  });

  describe('EndMutual', () => {
    const reason = `the mutual follow it rested on ended: ${MUTUAL} unfollowed ${OWNER}`;
    const end = (user = MUTUAL) => ({ type: 'EndMutual' as const, data: { by: MUTUAL, user_id: user, reason, at: 3000 } });

    it("blocks that user's uses resting on the mutual follow, not yet published; not their published ones, nor anyone else's", () => {
      spec
        .given([
          ...live('mutuals'),
          used('v_rendering', MUTUAL, 'mutuals', 0),
          used('v_done', MUTUAL, 'mutuals', 0),
          published('v_done', 0),
          used('v_other', STRANGER, 'mutuals', 0),
        ])
        .when(end())
        .then([useBlocked('v_rendering', MUTUAL, reason, 3000)]);
    });

    it('blocks nothing the user is still allowed without the mutual follow: a grant since, or a permission of everyone', () => {
      spec
        .given([...live('mutuals'), used('v_rendering', MUTUAL, 'mutuals', 0), granted(MUTUAL)])
        .when(end())
        .then([]);
      spec
        .given([...live('mutuals'), used('v_rendering', MUTUAL, 'mutuals', 0), permissionChanged('everyone')])
        .when(end())
        .then([]);
    });

    it('refuses an unknown cameo', () => {
      spec.given([]).when(end()).thenThrows(refusal('not_found'));
    });
  });

  describe('GrantAccess', () => {
    const grant = (user_id: string, by = OWNER) => ({ type: 'GrantAccess' as const, data: { by, user_id, at: 1003 } });

    it('grants a user once', () => {
      spec
        .given(live())
        .when(grant(FRIEND))
        .then([granted(FRIEND)]);
      spec
        .given([...live(), granted(FRIEND)])
        .when(grant(FRIEND))
        .then([]);
      spec
        .given([...live(), granted(FRIEND), revoked(FRIEND)])
        .when(grant(FRIEND))
        .then([granted(FRIEND)]);
    });

    it('refuses anyone but the owner, the owner as grantee, no user, a deleted or unknown cameo', () => {
      spec
        .given(live())
        .when(grant(FRIEND, STRANGER))
        .thenThrows(refusal('forbidden', /user_stranger is not the owner/));
      spec
        .given(live())
        .when(grant(OWNER))
        .thenThrows(refusal('invalid', /owner's own access/));
      spec
        .given(live())
        .when(grant(''))
        .thenThrows(refusal('invalid', /no user id/));
      spec
        .given([...live(), deleted()])
        .when(grant(FRIEND))
        .thenThrows(refusal('deleted', /deleted/));
      spec
        .given([])
        .when(grant(FRIEND))
        .thenThrows(refusal('not_found', /never registered/));
    });
  });

  describe('RevokeAccess', () => {
    const revoke = (user_id: string, by = OWNER, at = 2000) => ({ type: 'RevokeAccess' as const, data: { by, user_id, at } });
    const revokedBlock = (video: string, user: string) => useBlocked(video, user, `the owner revoked user ${user}'s access to the cameo`, 2000);

    it('revokes a grant', () => {
      spec
        .given([...live(), granted(FRIEND)])
        .when(revoke(FRIEND))
        .then([revoked(FRIEND, 2000)]);
    });

    it("revocation during rendering blocks that user's active uses, not their published ones", () => {
      const history = [
        ...live(),
        granted(FRIEND),
        used('v_1', FRIEND, 'grant', 2),
        used('v_2', FRIEND, 'grant', 2),
        published('v_2', 2),
        used('v_3', FRIEND, 'grant', 2),
      ];
      spec
        .given(history)
        .when(revoke(FRIEND))
        .then([revoked(FRIEND, 2000), revokedBlock('v_1', FRIEND), revokedBlock('v_3', FRIEND)]);
    });

    it('revocation wins over mutuals and everyone', () => {
      // A mutual without a grant: revoking stops them now, although the permission would let them in.
      spec
        .given([...live('mutuals'), used('v_1', MUTUAL, 'mutuals', 0)])
        .when(revoke(MUTUAL))
        .then([revoked(MUTUAL, 2000), revokedBlock('v_1', MUTUAL)]);
      spec
        .given([...live('everyone'), used('v_1', STRANGER, 'everyone', 0)])
        .when(revoke(STRANGER))
        .then([revoked(STRANGER, 2000), revokedBlock('v_1', STRANGER)]);
      // A user holding a grant under everyone: the use on the grant is blocked as well.
      spec
        .given([...live('everyone'), granted(FRIEND), used('v_1', FRIEND, 'grant', 2), used('v_other', STRANGER, 'everyone', 0)])
        .when(revoke(FRIEND))
        .then([revoked(FRIEND, 2000), revokedBlock('v_1', FRIEND)]);
    });

    it('a blocked use stays blocked after the user is granted again', () => {
      const history = [...live(), granted(FRIEND), used('v_1', FRIEND, 'grant', 2), revoked(FRIEND, 2000), revokedBlock('v_1', FRIEND), granted(FRIEND, 2001)];
      spec
        .given(history)
        .when({ type: 'PublishUse', data: { video_id: 'v_1', mutual: false, at: 2002 } })
        .thenThrows(refusal('consent_revoked', /blocked/));
      spec
        .given(history)
        .when({ type: 'CheckUse', data: { video_id: 'v_1', mutual: false } })
        .thenThrows(refusal('consent_revoked', /blocked/));
      spec
        .given(history)
        .when({ type: 'ReserveUse', data: { video_id: 'v_1', user_id: FRIEND, mutual: false, at: 2002 } })
        .thenThrows(refusal('consent_revoked', /blocked/));
      // A new video may use the new grant.
      spec
        .given(history)
        .when({ type: 'ReserveUse', data: { video_id: 'v_2', user_id: FRIEND, mutual: false, at: 2002 } })
        .then([used('v_2', FRIEND, 'grant', 6, 2002)]);
    });

    it('refuses a user with neither a grant nor a use in progress', () => {
      spec
        .given(live('everyone'))
        .when(revoke(STRANGER))
        .thenThrows(refusal('not_granted', /holds no grant and has no use/));
      spec
        .given([...live('everyone'), used('v_1', STRANGER, 'everyone', 0), published('v_1', 0)])
        .when(revoke(STRANGER))
        .thenThrows(refusal('not_granted'));
      spec
        .given([...live(), granted(FRIEND), revoked(FRIEND)])
        .when(revoke(FRIEND))
        .thenThrows(refusal('not_granted'));
    });

    it('refuses anyone but the owner, the owner as revokee, a deleted or unknown cameo', () => {
      spec
        .given([...live(), granted(FRIEND)])
        .when(revoke(FRIEND, FRIEND))
        .thenThrows(refusal('forbidden', /not the owner/));
      spec
        .given([...live(), used('v_1', OWNER, 'owner', 1)])
        .when(revoke(OWNER))
        .thenThrows(refusal('invalid', /owner's own access/));
      spec
        .given([...live(), granted(FRIEND), deleted()])
        .when(revoke(FRIEND))
        .thenThrows(refusal('deleted', /deleted/));
      spec.given([]).when(revoke(FRIEND)).thenThrows(refusal('not_found'));
    });
  });

  describe('ReserveUse', () => {
    const reserve = (video_id: string, user_id: string, mutual = false) => ({ type: 'ReserveUse' as const, data: { video_id, user_id, mutual, at: 1005 } });

    it('records the basis of the consent and the revision that gave it', () => {
      spec
        .given(live('only_me'))
        .when(reserve('v_1', OWNER))
        .then([used('v_1', OWNER, 'owner', 1)]);
      spec
        .given([...live(), granted(FRIEND)])
        .when(reserve('v_1', FRIEND))
        .then([used('v_1', FRIEND, 'grant', 2)]);
      spec
        .given([...live(), permissionChanged('mutuals')])
        .when(reserve('v_1', MUTUAL, true))
        .then([used('v_1', MUTUAL, 'mutuals', 2)]);
      spec
        .given([...live(), permissionChanged('everyone')])
        .when(reserve('v_1', STRANGER))
        .then([used('v_1', STRANGER, 'everyone', 2)]);
    });

    it('refuses without consent, saying why', () => {
      spec
        .given(live())
        .when(reserve('v_1', STRANGER))
        .thenThrows(refusal('consent_missing', /user_stranger was not approved/));
      spec
        .given(live('mutuals'))
        .when(reserve('v_1', STRANGER, false))
        .thenThrows(refusal('consent_missing', /follows/));
      spec
        .given(live('only_me'))
        .when(reserve('v_1', MUTUAL, true))
        .thenThrows(refusal('consent_missing', /only_me/));
      spec
        .given([registered('everyone')])
        .when(reserve('v_1', OWNER))
        .thenThrows(refusal('consent_missing', /pending/));
      spec
        .given([...live(), deleted()])
        .when(reserve('v_1', OWNER))
        .thenThrows(refusal('consent_missing', /deleted/));
      spec
        .given([])
        .when(reserve('v_1', OWNER))
        .thenThrows(refusal('consent_missing', /never registered/));
    });

    it('records a retried reservation once', () => {
      const history = [...live(), granted(FRIEND), used('v_1', FRIEND, 'grant', 2)];
      spec.given(history).when(reserve('v_1', FRIEND)).then([]);
      spec
        .given([...history, published('v_1', 2)])
        .when(reserve('v_1', FRIEND))
        .then([]);
      // Even after a revocation that did not catch it (published), the retry records nothing new.
      spec
        .given([...history, published('v_1', 2), revoked(FRIEND)])
        .when(reserve('v_1', FRIEND))
        .then([]);
    });

    it('refuses to reserve again for a video whose use was blocked', () => {
      const history = [...live('everyone'), used('v_1', STRANGER, 'everyone', 0), useBlocked('v_1', STRANGER, 'x', 1006)];
      spec
        .given(history)
        .when(reserve('v_1', STRANGER))
        .thenThrows(refusal('consent_revoked', /v_1 was blocked/));
    });

    it('refuses a video reserved for another user, or no ids', () => {
      spec
        .given([...live(), used('v_1', OWNER, 'owner', 1)])
        .when(reserve('v_1', FRIEND))
        .thenThrows(refusal('invalid', /already reserved the cameo for user user_owner/));
      spec
        .given(live())
        .when(reserve('', OWNER))
        .thenThrows(refusal('invalid', /video id/));
      spec
        .given(live('everyone'))
        .when(reserve('v_1', ''))
        .thenThrows(refusal('invalid', /user id/));
    });
  });

  describe('PublishUse', () => {
    const publish = (video_id: string, mutual = false) => ({ type: 'PublishUse' as const, data: { video_id, mutual, at: 1006 } });

    it('confirms an active use with the revision of its reservation', () => {
      const history = [...live(), granted(FRIEND), used('v_1', FRIEND, 'grant', 2), permissionChanged('everyone')];
      spec
        .given(history)
        .when(publish('v_1'))
        .then([published('v_1', 2)]);
      spec
        .given([...history, published('v_1', 2)])
        .when(publish('v_1'))
        .then([]);
    });

    it('refuses a blocked use, an unknown use and a use whose consent lapsed', () => {
      spec
        .given([...live(), granted(FRIEND), used('v_1', FRIEND, 'grant', 2), revoked(FRIEND), useBlocked('v_1', FRIEND, 'revoked', 1007)])
        .when(publish('v_1'))
        .thenThrows(refusal('consent_revoked', /blocked/));
      spec
        .given(live())
        .when(publish('v_9'))
        .thenThrows(refusal('consent_missing', /v_9 never reserved/));
      spec
        .given([])
        .when(publish('v_9'))
        .thenThrows(refusal('consent_missing', /never registered/));
      // The user stopped being a mutual since the reservation: nothing is recorded and the publication is refused.
      spec
        .given([...live('mutuals'), used('v_1', MUTUAL, 'mutuals', 0)])
        .when(publish('v_1', false))
        .thenThrows(refusal('consent_revoked', /no longer holds/));
      spec
        .given([...live('mutuals'), used('v_1', MUTUAL, 'mutuals', 0)])
        .when(publish('v_1', true))
        .then([published('v_1', 0)]);
    });

    it('a published use survives a later revocation', () => {
      const history = [...live(), granted(FRIEND), used('v_1', FRIEND, 'grant', 2), published('v_1', 2)];
      const revocation = decide({ type: 'RevokeAccess', data: { by: OWNER, user_id: FRIEND, at: 2000 } }, foldCameo(history));
      expect(revocation).toEqual([revoked(FRIEND, 2000)]);
      expect(foldCameo([...history, ...revocation]).uses.v_1!.status).toBe('published');
      spec
        .given([...history, ...revocation])
        .when(publish('v_1'))
        .then([]);
    });
  });

  describe('CheckUse', () => {
    const check = (video_id: string, mutual = false) => ({ type: 'CheckUse' as const, data: { video_id, mutual } });

    it('passes an active use whose consent holds, and a published one', () => {
      spec
        .given([...live(), granted(FRIEND), used('v_1', FRIEND, 'grant', 2)])
        .when(check('v_1'))
        .then([]);
      spec
        .given([...live('mutuals'), used('v_1', MUTUAL, 'mutuals', 0)])
        .when(check('v_1', true))
        .then([]);
      spec
        .given([...live(), granted(FRIEND), used('v_1', FRIEND, 'grant', 2), published('v_1', 2), revoked(FRIEND)])
        .when(check('v_1'))
        .then([]);
    });

    it('refuses a blocked use, a lapsed consent and an unknown use', () => {
      spec
        .given([...live('everyone'), used('v_1', STRANGER, 'everyone', 0), useBlocked('v_1', STRANGER, 'x', 1007)])
        .when(check('v_1'))
        .thenThrows(refusal('consent_revoked', /blocked/));
      spec
        .given([...live('mutuals'), used('v_1', MUTUAL, 'mutuals', 0)])
        .when(check('v_1', false))
        .thenThrows(refusal('consent_revoked', /no longer holds/));
      spec
        .given(live())
        .when(check('v_1'))
        .thenThrows(refusal('consent_missing', /never reserved/));
    });
  });

  describe('BlockUse', () => {
    const block = (video_id: string) => ({
      type: 'BlockUse' as const,
      data: { video_id, code: 'consent_missing' as const, reason: 'the cameo was not in the prompt', at: 1007 },
    });
    const history = [...live('everyone'), used('v_1', STRANGER, 'everyone', 0)];

    it('blocks an active use once', () => {
      spec
        .given(history)
        .when(block('v_1'))
        .then([
          {
            type: 'CameoUseBlocked',
            data: { video_id: 'v_1', user_id: STRANGER, code: 'consent_missing', reason: 'the cameo was not in the prompt', at: 1007 },
          },
        ]);
      const after = foldCameo([...history, ...decide(block('v_1'), foldCameo(history))]);
      expect(after.uses.v_1).toMatchObject({ status: 'blocked', code: 'consent_missing' });
      spec
        .given([...history, useBlocked('v_1', STRANGER, 'x', 1007)])
        .when(block('v_1'))
        .then([]);
    });

    it('refuses an unknown use and a published one', () => {
      spec
        .given(history)
        .when(block('v_9'))
        .thenThrows(refusal('not_found', /v_9 holds no use/));
      spec
        .given([])
        .when(block('v_9'))
        .thenThrows(refusal('not_found', /never registered/));
      spec
        .given([...history, published('v_1', 0)])
        .when(block('v_1'))
        .thenThrows(refusal('wrong_state', /already published/));
    });
  });

  describe('DeleteCameo', () => {
    const del = (by = OWNER, take_down = true) => ({ type: 'DeleteCameo' as const, data: { by, take_down, at: 3000 } });

    it('takes a deletion from an admin, recorded as one', () => {
      spec
        .given(live())
        .when({ type: 'DeleteCameo', data: { by: 'user_admin', take_down: true, as_admin: true, at: 3000 } })
        .then([{ type: 'CameoDeleted', data: { by: 'user_admin', take_down: true, as_admin: true, at: 3000 } }]);
    });

    it('deletes the cameo and blocks every use in progress, not the published ones', () => {
      const history = [
        ...live('everyone'),
        used('v_owner', OWNER, 'owner', 1),
        used('v_pub', STRANGER, 'everyone', 0),
        published('v_pub', 0),
        used('v_2', MUTUAL, 'everyone', 0),
      ];
      spec
        .given(history)
        .when(del())
        .then([
          { type: 'CameoDeleted', data: { by: OWNER, take_down: true, at: 3000 } },
          useBlocked('v_owner', OWNER, 'the owner deleted the cameo', 3000),
          useBlocked('v_2', MUTUAL, 'the owner deleted the cameo', 3000),
        ]);
    });

    it('deletes once, only by the owner', () => {
      spec
        .given([...live(), deleted()])
        .when(del())
        .then([]);
      spec
        .given(live())
        .when(del(STRANGER))
        .thenThrows(refusal('forbidden', /only the cameo's owner/));
      spec.given([]).when(del()).thenThrows(refusal('not_found'));
      // A pending or rejected cameo can be deleted too.
      spec
        .given([registered(), rejected])
        .when(del(OWNER, false))
        .then([{ type: 'CameoDeleted', data: { by: OWNER, take_down: false, at: 3000 } }]);
    });
  });
});
