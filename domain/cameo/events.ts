// The events of the `cameo-<id>` stream: a person's verified likeness and every consent decision about it.
// Each stored event also carries, in its metadata, the hash of the one before (see chain.ts): the consent history
// is tamper-evident. Times are Unix seconds.

export type Permission = 'only_me' | 'approved' | 'mutuals' | 'everyone';
export const PERMISSIONS: readonly Permission[] = ['only_me', 'approved', 'mutuals', 'everyone'];

export type CameoStatus = 'pending' | 'verified' | 'rejected' | 'deleted';

/** Why a user may put the cameo into a video: they own it, hold a grant, follow and are followed, or anyone may. */
export type UseBasis = 'owner' | 'grant' | 'mutuals' | 'everyone';

export type ConsentCode = 'consent_missing' | 'consent_revoked';

export interface CameoRegisteredData {
  cameo_id: string;
  owner_id: string;
  display_name: string;
  permission: Permission;
  /** The challenge the recording answers; null for `POST /v1/videos/characters`. */
  challenge_id: string | null;
  /** The phrase the person was asked to say (null without a challenge). */
  phrase: string | null;
  recording_key: string;
  at: number;
}

export type CameoEvent =
  | { type: 'CameoRegistered'; data: CameoRegisteredData }
  | { type: 'CameoVerified'; data: { likeness_key: string; checks: Record<string, unknown>; at: number } }
  | { type: 'CameoRejected'; data: { reason: string; checks: Record<string, unknown>; at: number } }
  | { type: 'CameoPermissionChanged'; data: { permission: Permission; by: string; at: number } }
  | { type: 'CameoAccessGranted'; data: { user_id: string; by: string; at: number } }
  | { type: 'CameoAccessRevoked'; data: { user_id: string; by: string; at: number } }
  /** A video reserved a use: who, on what basis, and the revision of the event that gave that consent. */
  | { type: 'CameoUsed'; data: { video_id: string; user_id: string; basis: UseBasis; grant_revision: number; at: number } }
  /** A reserved use stopped by a revocation, a narrower permission or the cameo's deletion, before publication. */
  | { type: 'CameoUseBlocked'; data: { video_id: string; user_id: string; code: ConsentCode; reason: string; at: number } }
  /** The use was confirmed at publication: consent held at that moment; later revocations no longer stop it. */
  | { type: 'CameoUsePublished'; data: { video_id: string; grant_revision: number; at: number } }
  | { type: 'CameoDeleted'; data: { by: string; take_down: boolean; as_admin?: boolean; at: number } };

export type CameoEventType = CameoEvent['type'];

/** Events of the `user-<id>` stream that consent depends on. */
export type UserEvent =
  | { type: 'UserFollowed'; data: { followee_id: string; at: number } }
  | { type: 'UserUnfollowed'; data: { followee_id: string; at: number } };
