// The cameo's state folded from its `cameo-<id>` stream: who owns the likeness, who may use it, and every use a
// video reserved. The decider judges consent on it; the workflow and the read models fold it the same way.
import type { CameoEvent, CameoStatus, ConsentCode, Permission, UseBasis, VerificationCheckData, VerificationCode } from './events';

export interface CameoGrant {
  /** Revision of the CameoAccessGranted event: what a use on this grant points back to. */
  revision: number;
  granted_at: number;
}

export type CameoUseStatus = 'active' | 'blocked' | 'published';

export interface CameoUse {
  user_id: string;
  basis: UseBasis;
  grant_revision: number;
  reserved_at: number;
  status: CameoUseStatus;
  /** Why the use was blocked; present only once it is. */
  code?: ConsentCode;
}

export interface CameoState {
  exists: boolean;
  cameoId: string | null;
  ownerId: string | null;
  displayName: string | null;
  status: CameoStatus;
  permission: Permission;
  phrase: string | null;
  recordingKey: string | null;
  likenessKey: string | null;
  rejectReason: string | null;
  /** The refusal code of a rejected cameo (null when accepted, pending, or rejected before codes were recorded). */
  rejectCode: VerificationCode | null;
  /** The detectors' verdicts of the verification (CameoVerificationChecked), for the audit: why it was accepted or refused. */
  verificationChecks: VerificationCheckData[];
  /** Grants held now, by user id; a revocation removes the entry. */
  grants: Record<string, CameoGrant>;
  /** Revision of the event that set the current permission: CameoRegistered (0) or the last CameoPermissionChanged. */
  permissionRevision: number;
  verifiedRevision: number | null;
  /** Uses reserved by videos, by video id. */
  uses: Record<string, CameoUse>;
  /** Revision of the last event folded; -1 before the first. */
  revision: number;
  createdAt: number | null;
  deletedAt: number | null;
  takeDown: boolean;
}

export const initialCameoState: CameoState = Object.freeze({
  exists: false,
  cameoId: null,
  ownerId: null,
  displayName: null,
  status: 'pending',
  permission: 'only_me',
  phrase: null,
  recordingKey: null,
  likenessKey: null,
  rejectReason: null,
  rejectCode: null,
  verificationChecks: Object.freeze([]) as unknown as VerificationCheckData[],
  grants: Object.freeze({}) as Record<string, CameoGrant>,
  permissionRevision: -1,
  verifiedRevision: null,
  uses: Object.freeze({}) as Record<string, CameoUse>,
  revision: -1,
  createdAt: null,
  deletedAt: null,
  takeDown: false,
}) as CameoState;

// User and video ids come from outside: look them up as own keys only, so an id like `constructor` or
// `toString` never finds something on Object.prototype.
export function grantOf(state: CameoState, userId: string): CameoGrant | undefined {
  return Object.hasOwn(state.grants, userId) ? state.grants[userId] : undefined;
}

export function useOf(state: CameoState, videoId: string): CameoUse | undefined {
  return Object.hasOwn(state.uses, videoId) ? state.uses[videoId] : undefined;
}

/** The uses still waiting for publication, with their video ids (in key order: the same on every fold). */
export function activeUses(state: CameoState): Array<[videoId: string, use: CameoUse]> {
  return Object.entries(state.uses).filter(([, use]) => use.status === 'active');
}

/** Folds one event; its revision is the one after the state's, since a stream is folded in order from revision 0. */
export function evolve(state: CameoState, event: CameoEvent): CameoState {
  const revision = state.revision + 1;
  const next = { ...state, revision };
  switch (event.type) {
    case 'CameoRegistered': {
      const d = event.data;
      return {
        ...next,
        exists: true,
        cameoId: d.cameo_id,
        ownerId: d.owner_id,
        displayName: d.display_name,
        status: 'pending',
        permission: d.permission,
        permissionRevision: revision,
        phrase: d.phrase,
        recordingKey: d.recording_key,
        createdAt: d.at,
      };
    }
    case 'CameoVerified':
      return { ...next, status: 'verified', likenessKey: event.data.likeness_key, verifiedRevision: revision };
    case 'CameoRejected':
      return { ...next, status: 'rejected', rejectReason: event.data.reason, rejectCode: event.data.code ?? null };
    case 'CameoVerificationChecked':
      return { ...next, verificationChecks: [...state.verificationChecks, event.data] };
    case 'CameoPermissionChanged':
      return { ...next, permission: event.data.permission, permissionRevision: revision };
    case 'CameoAccessGranted':
      return { ...next, grants: { ...state.grants, [event.data.user_id]: { revision, granted_at: event.data.at } } };
    case 'CameoAccessRevoked': {
      const grants = { ...state.grants };
      delete grants[event.data.user_id];
      return { ...next, grants };
    }
    case 'CameoUsed': {
      const d = event.data;
      const use: CameoUse = { user_id: d.user_id, basis: d.basis, grant_revision: d.grant_revision, reserved_at: d.at, status: 'active' };
      return { ...next, uses: { ...state.uses, [d.video_id]: use } };
    }
    case 'CameoUseBlocked': {
      const use = useOf(state, event.data.video_id);
      if (!use) return next;
      return { ...next, uses: { ...state.uses, [event.data.video_id]: { ...use, status: 'blocked', code: event.data.code } } };
    }
    case 'CameoUsePublished': {
      const use = useOf(state, event.data.video_id);
      if (!use) return next;
      return { ...next, uses: { ...state.uses, [event.data.video_id]: { ...use, status: 'published', grant_revision: event.data.grant_revision } } };
    }
    case 'CameoDeleted':
      return { ...next, status: 'deleted', deletedAt: event.data.at, takeDown: event.data.take_down };
  }
}

export function foldCameo(events: readonly CameoEvent[]): CameoState {
  return events.reduce(evolve, initialCameoState);
}
