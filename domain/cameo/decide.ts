// The cameo decider: who may put a verified likeness into a video, and what each consent decision records.
// Pure: time, the acting user and the follow graph (`mutual`) come in with the command.
import {
  PERMISSIONS,
  type CameoEvent,
  type CameoRegisteredData,
  type ConsentCode,
  type Permission,
  type UseBasis,
  type VerificationCheckData,
  type VerificationCode,
} from './events';
import { activeUses, grantOf, useOf, type CameoState, type CameoUse } from './state';

export type CameoCommand =
  | { type: 'RegisterCameo'; data: CameoRegisteredData }
  | {
      type: 'RecordVerification';
      data: {
        accepted: boolean;
        likeness_key: string | null;
        reason: string | null;
        /** Why it was refused; absent from commands of workflows started before refusal codes. */
        code?: VerificationCode | null;
        checks: Record<string, unknown>;
        /** Each detector's verdict, recorded as CameoVerificationChecked before the outcome. */
        detections?: ReadonlyArray<Omit<VerificationCheckData, 'at'>>;
        at: number;
      };
    }
  /**
   * The verdict of verifying a verified cameo's recording again (a character whose permission is widened): each
   * detector's check is recorded; a refusal rejects the likeness and blocks every use not yet published, as a
   * revocation does.
   */
  | {
      type: 'RecordReverification';
      data: {
        accepted: boolean;
        reason: string | null;
        code: VerificationCode | null;
        checks: Record<string, unknown>;
        detections: ReadonlyArray<Omit<VerificationCheckData, 'at'>>;
        at: number;
      };
    }
  | { type: 'ChangePermission'; data: { by: string; permission: Permission; at: number } }
  | { type: 'GrantAccess'; data: { by: string; user_id: string; at: number } }
  | { type: 'RevokeAccess'; data: { by: string; user_id: string; at: number } }
  /** `mutual`: the user follows the owner and the owner follows them, as the user streams say now. */
  | { type: 'ReserveUse'; data: { video_id: string; user_id: string; mutual: boolean; at: number } }
  | { type: 'PublishUse'; data: { video_id: string; mutual: boolean; at: number } }
  /** Read-only: records nothing, refuses when the use may not go on. `at` is accepted but not needed. */
  | { type: 'CheckUse'; data: { video_id: string; mutual: boolean; at?: number } }
  | { type: 'BlockUse'; data: { video_id: string; code: ConsentCode; reason: string; at: number } }
  /**
   * The mutual follow between `user_id` and the owner ended (one of them unfollowed the other): the uses by that user
   * resting on it, not yet published, are blocked, as narrowing the permission blocks them; a use the user's consent
   * still covers without the mutual follow (a grant since, a permission of everyone) stands. `by`: who unfollowed.
   */
  | { type: 'EndMutual'; data: { by: string; user_id: string; reason: string; at: number } }
  /** By its owner, or by an admin (`as_admin`: the platform's staff removing it; recorded as such). */
  | { type: 'DeleteCameo'; data: { by: string; take_down: boolean; as_admin?: boolean; at: number } };

export type CameoRefusalCode =
  | 'already_exists'
  | 'not_found'
  | 'wrong_state'
  | 'forbidden'
  | 'invalid'
  | 'deleted'
  | 'not_granted'
  | 'consent_missing'
  | 'consent_revoked';

export class CameoCommandRefused extends Error {
  constructor(
    readonly code: CameoRefusalCode,
    message: string,
  ) {
    super(message);
    this.name = 'CameoCommandRefused';
  }
}

function refuse(code: CameoRefusalCode, message: string): never {
  throw new CameoCommandRefused(code, message);
}

export type Consent = { allowed: true; basis: UseBasis; grant_revision: number } | { allowed: false; code: 'consent_missing'; reason: string };

/** Whether `userId` may put the cameo into a new video now, and on what basis. */
export function consentFor(state: CameoState, userId: string, opts: { mutual: boolean }): Consent {
  const missing = (reason: string): Consent => ({ allowed: false, code: 'consent_missing', reason });
  if (!state.exists) return missing('the cameo was never registered');
  // Checked before ownership: not even the owner may use a likeness that is not (or no longer) verified.
  if (state.status !== 'verified') return missing(`the cameo is ${state.status}, not verified`);
  if (userId === state.ownerId) return { allowed: true, basis: 'owner', grant_revision: state.verifiedRevision! };
  // Under only_me the grants stay recorded but count for nothing: widening the permission again restores them.
  if (state.permission === 'only_me') return missing(`the owner allows only themselves to use this cameo (permission only_me)`);
  const grant = grantOf(state, userId);
  if (grant) return { allowed: true, basis: 'grant', grant_revision: grant.revision };
  switch (state.permission) {
    case 'approved':
      return missing(`user ${userId} was not approved by the owner (permission approved)`);
    case 'mutuals':
      if (opts.mutual) return { allowed: true, basis: 'mutuals', grant_revision: state.permissionRevision };
      return missing(`user ${userId} neither holds a grant nor follows and is followed by the owner (permission mutuals)`);
    case 'everyone':
      return { allowed: true, basis: 'everyone', grant_revision: state.permissionRevision };
  }
}

/** Whether a permission still covers a use reserved on `basis`: a narrower permission blocks it before publication. */
function permissionCovers(permission: Permission, basis: UseBasis): boolean {
  switch (basis) {
    case 'owner':
      return true;
    case 'grant':
      return permission !== 'only_me';
    case 'mutuals':
      return permission === 'mutuals' || permission === 'everyone';
    case 'everyone':
      return permission === 'everyone';
  }
}

function blocked(videoId: string, use: CameoUse, reason: string, at: number): CameoEvent {
  return { type: 'CameoUseBlocked', data: { video_id: videoId, user_id: use.user_id, code: 'consent_revoked', reason, at } };
}

function requireExists(state: CameoState, command: string): void {
  if (!state.exists) refuse('not_found', `${command}: the cameo was never registered`);
}

function requireOwner(state: CameoState, by: string, command: string): void {
  requireExists(state, command);
  if (by !== state.ownerId) refuse('forbidden', `${command}: only the cameo's owner may do this, and ${by || 'an anonymous user'} is not the owner`);
}

function requireNotDeleted(state: CameoState, command: string): void {
  if (state.status === 'deleted') refuse('deleted', `${command}: the cameo was deleted`);
}

function requireOtherUser(state: CameoState, userId: string, command: string): void {
  if (!userId) refuse('invalid', `${command}: no user id was given`);
  if (userId === state.ownerId) refuse('invalid', `${command}: the owner's own access cannot be granted or revoked`);
}

export function decide(command: CameoCommand, state: CameoState): CameoEvent[] {
  switch (command.type) {
    case 'RegisterCameo': {
      const d = command.data;
      if (state.exists) refuse('already_exists', `cameo ${d.cameo_id} was already registered`);
      if (!d.cameo_id || !d.owner_id) refuse('invalid', 'RegisterCameo: a cameo needs a cameo id and an owner id');
      if (!PERMISSIONS.includes(d.permission))
        refuse('invalid', `RegisterCameo: ${String(d.permission)} is not a permission (one of ${PERMISSIONS.join(', ')})`);
      return [{ type: 'CameoRegistered', data: d }];
    }

    case 'RecordVerification': {
      const d = command.data;
      requireExists(state, 'RecordVerification');
      if (state.status !== 'pending') refuse('wrong_state', `RecordVerification: the cameo is already ${state.status}, only a pending cameo is verified`);
      const checked: CameoEvent[] = (d.detections ?? []).map((c) => ({ type: 'CameoVerificationChecked', data: { ...c, at: d.at } }));
      if (d.accepted) {
        if (!d.likeness_key) refuse('invalid', 'RecordVerification: an accepted recording needs the key of its likeness');
        const failed = checked.find((e) => e.type === 'CameoVerificationChecked' && !e.data.passed);
        if (failed) refuse('invalid', `RecordVerification: an accepted recording cannot have a failed ${(failed.data as VerificationCheckData).check} check`);
        return [...checked, { type: 'CameoVerified', data: { likeness_key: d.likeness_key, checks: d.checks, at: d.at } }];
      }
      const reason = d.reason || 'the recording did not pass verification';
      return [
        ...checked,
        { type: 'CameoRejected', data: d.code ? { reason, code: d.code, checks: d.checks, at: d.at } : { reason, checks: d.checks, at: d.at } },
      ];
    }

    case 'RecordReverification': {
      const d = command.data;
      requireExists(state, 'RecordReverification');
      // Only a likeness in use can be taken back; a cameo rejected or deleted meanwhile has nothing more to record.
      if (state.status !== 'verified') return [];
      const checked: CameoEvent[] = d.detections.map((c) => ({ type: 'CameoVerificationChecked', data: { ...c, at: d.at } }));
      if (d.accepted) return checked;
      const reason = `verified again, the recording was refused: ${d.reason || 'it did not pass verification'}`;
      return [
        ...checked,
        { type: 'CameoRejected', data: d.code ? { reason, code: d.code, checks: d.checks, at: d.at } : { reason, checks: d.checks, at: d.at } },
        ...activeUses(state).map(([videoId, use]) => blocked(videoId, use, reason, d.at)),
      ];
    }

    case 'ChangePermission': {
      const d = command.data;
      requireOwner(state, d.by, 'ChangePermission');
      requireNotDeleted(state, 'ChangePermission');
      if (!PERMISSIONS.includes(d.permission))
        refuse('invalid', `ChangePermission: ${String(d.permission)} is not a permission (one of ${PERMISSIONS.join(', ')})`);
      if (d.permission === state.permission) return [];
      // Judged by the basis each use was reserved on, not by whether the user could reserve again: a use keeps
      // pointing at the consent it was given, so a narrower permission stops every use that consent no longer covers.
      const blocks = activeUses(state)
        .filter(([, use]) => !permissionCovers(d.permission, use.basis))
        .map(([videoId, use]) =>
          blocked(
            videoId,
            use,
            `the owner narrowed the cameo's permission from ${state.permission} to ${d.permission}, which no longer covers a use on the basis '${use.basis}'`,
            d.at,
          ),
        );
      return [{ type: 'CameoPermissionChanged', data: { permission: d.permission, by: d.by, at: d.at } }, ...blocks];
    }

    case 'GrantAccess': {
      const d = command.data;
      requireOwner(state, d.by, 'GrantAccess');
      requireNotDeleted(state, 'GrantAccess');
      requireOtherUser(state, d.user_id, 'GrantAccess');
      if (grantOf(state, d.user_id)) return [];
      return [{ type: 'CameoAccessGranted', data: { user_id: d.user_id, by: d.by, at: d.at } }];
    }

    case 'RevokeAccess': {
      const d = command.data;
      requireOwner(state, d.by, 'RevokeAccess');
      requireNotDeleted(state, 'RevokeAccess');
      requireOtherUser(state, d.user_id, 'RevokeAccess');
      // Revocation wins over every basis: "stop this person now", even where mutuals or everyone would let them in.
      const uses = activeUses(state).filter(([, use]) => use.user_id === d.user_id && use.basis !== 'owner');
      if (!grantOf(state, d.user_id) && uses.length === 0)
        refuse('not_granted', `RevokeAccess: user ${d.user_id} holds no grant and has no use of the cameo in progress`);
      return [
        { type: 'CameoAccessRevoked', data: { user_id: d.user_id, by: d.by, at: d.at } },
        ...uses.map(([videoId, use]) => blocked(videoId, use, `the owner revoked user ${d.user_id}'s access to the cameo`, d.at)),
      ];
    }

    case 'ReserveUse': {
      const d = command.data;
      if (!d.video_id || !d.user_id) refuse('invalid', 'ReserveUse: a use needs a video id and a user id');
      const existing = useOf(state, d.video_id);
      if (existing) {
        if (existing.user_id !== d.user_id)
          refuse('invalid', `ReserveUse: video ${d.video_id} already reserved the cameo for user ${existing.user_id}, not ${d.user_id}`);
        if (existing.status === 'blocked')
          refuse('consent_revoked', `ReserveUse: the use of the cameo by video ${d.video_id} was blocked (${existing.code ?? 'consent_revoked'})`);
        return [];
      }
      const consent = consentFor(state, d.user_id, { mutual: d.mutual });
      if (!consent.allowed) refuse('consent_missing', `ReserveUse: ${consent.reason}`);
      return [
        { type: 'CameoUsed', data: { video_id: d.video_id, user_id: d.user_id, basis: consent.basis, grant_revision: consent.grant_revision, at: d.at } },
      ];
    }

    case 'PublishUse': {
      const d = command.data;
      const use = requireUse(state, d.video_id, 'PublishUse');
      if (use.status === 'published') return [];
      requireConsentHolds(state, d.video_id, use, d.mutual, 'PublishUse');
      return [{ type: 'CameoUsePublished', data: { video_id: d.video_id, grant_revision: use.grant_revision, at: d.at } }];
    }

    case 'CheckUse': {
      const d = command.data;
      const use = requireUse(state, d.video_id, 'CheckUse');
      // A published use was confirmed with the consent of that moment; later decisions no longer stop it.
      if (use.status === 'published') return [];
      requireConsentHolds(state, d.video_id, use, d.mutual, 'CheckUse');
      return [];
    }

    case 'BlockUse': {
      const d = command.data;
      requireExists(state, 'BlockUse');
      const use = useOf(state, d.video_id);
      if (!use) refuse('not_found', `BlockUse: video ${d.video_id} holds no use of the cameo`);
      if (use.status === 'blocked') return [];
      if (use.status === 'published') refuse('wrong_state', `BlockUse: the use by video ${d.video_id} was already published and can no longer be blocked`);
      return [{ type: 'CameoUseBlocked', data: { video_id: d.video_id, user_id: use.user_id, code: d.code, reason: d.reason, at: d.at } }];
    }

    case 'EndMutual': {
      const d = command.data;
      requireExists(state, 'EndMutual');
      if (consentFor(state, d.user_id, { mutual: false }).allowed) return [];
      return activeUses(state)
        .filter(([, use]) => use.user_id === d.user_id && use.basis === 'mutuals')
        .map(([videoId, use]) => blocked(videoId, use, d.reason, d.at));
    }

    case 'DeleteCameo': {
      const d = command.data;
      if (d.as_admin) requireExists(state, 'DeleteCameo');
      else requireOwner(state, d.by, 'DeleteCameo');
      if (state.status === 'deleted') return [];
      return [
        { type: 'CameoDeleted', data: { by: d.by, take_down: d.take_down, ...(d.as_admin ? { as_admin: true } : {}), at: d.at } },
        ...activeUses(state).map(([videoId, use]) => blocked(videoId, use, 'the owner deleted the cameo', d.at)),
      ];
    }
  }
}

function requireUse(state: CameoState, videoId: string, command: string): CameoUse {
  if (!state.exists) refuse('consent_missing', `${command}: the cameo was never registered`);
  const use = useOf(state, videoId);
  if (!use) refuse('consent_missing', `${command}: video ${videoId} never reserved a use of the cameo`);
  return use;
}

/** An active use may go on only while it is not blocked and the user would still be allowed in now. */
function requireConsentHolds(state: CameoState, videoId: string, use: CameoUse, mutual: boolean, command: string): void {
  if (use.status === 'blocked')
    refuse('consent_revoked', `${command}: the use of the cameo by video ${videoId} was blocked (${use.code ?? 'consent_revoked'})`);
  const consent = consentFor(state, use.user_id, { mutual });
  if (!consent.allowed) refuse('consent_revoked', `${command}: consent for video ${videoId} no longer holds: ${consent.reason}`);
}
