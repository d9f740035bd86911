// The Cameos resource's wire shapes as TypeBox schemas (API.md "Cameos and consent"): the routes' validation, their
// serialization and the OpenAPI document read these one definitions.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { PERMISSIONS, VERIFICATION_CODES } from '../../domain/cameo/events';
import { VISIBLE_TEXT_PATTERN } from '../../domain/text';
import { DISPLAY_NAME_MAX_CHARS } from './upload';

/** A challenge id as POST /v1/cameos/challenges makes them. */
export const CHALLENGE_ID_PATTERN = '^chal_[0-9a-f]{32}$';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
// One `enum` rather than a union of literals: one error ("must be equal to one of the allowed values") per field.
const StringEnum = <T extends readonly string[]>(values: T, options: { description?: string; default?: T[number] } = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });

export const CAMEO_STATUSES = ['pending', 'verified', 'rejected', 'deleted'] as const;
export const USE_STATUSES = ['active', 'blocked', 'published'] as const;

export const PermissionSchema = StringEnum(PERMISSIONS, {
  description: 'Who may put the cameo into a video: only the owner, users the owner granted, mutual followers (and grantees), or everyone',
});

export const ChallengeObject = Type.Object(
  {
    challenge_id: Type.String({ description: '`chal_` + 32 hex digits; single use, for the user who asked for it' }),
    phrase: Type.String({ description: 'What the person must say on camera in the recording' }),
    expires_at: Type.Integer({ description: 'Unix seconds; a registration after this refuses the challenge' }),
  },
  { title: 'CameoChallenge' },
);
export type ChallengeObject = Static<typeof ChallengeObject>;

export const GrantObject = Type.Object(
  {
    user_id: Type.String(),
    revision: Type.Integer({ description: "Revision of the CameoAccessGranted event in the cameo's stream: the consent a use points back to" }),
    granted_at: Type.Integer({ description: 'Unix seconds' }),
  },
  { title: 'CameoGrant' },
);
export type GrantObject = Static<typeof GrantObject>;

export const CameoObject = Type.Object(
  {
    id: Type.String({ description: '`cameo_` + 32 hex digits' }),
    object: Type.Literal('cameo'),
    owner_id: Type.String(),
    display_name: Type.String(),
    status: StringEnum(CAMEO_STATUSES, { description: '`pending` until the recording is verified (asynchronously), then `verified` or `rejected`' }),
    permission: PermissionSchema,
    grants: Type.Array(GrantObject, { description: 'Grants held now, oldest first; a user other than the owner (or staff) sees only their own' }),
    created_at: Type.Integer({ description: 'Unix seconds' }),
    reject_reason: Nullable(Type.String({ description: 'Why the recording was rejected; null unless `rejected`' })),
    reject_code: Nullable(
      StringEnum(VERIFICATION_CODES, {
        description:
          'The refusal code of a rejected recording: `invalid_recording`, `no_face`, `no_live_face`, `no_speech`, `phrase_mismatch`, `verification_failed` or, for a character, `human_likeness_requires_cameo`; null unless `rejected` (and for cameos rejected before codes were recorded)',
      }),
    ),
    deleted_at: Nullable(Type.Integer({ description: 'Unix seconds; null unless `deleted`' })),
  },
  { title: 'Cameo' },
);
export type CameoObject = Static<typeof CameoObject>;

export const CharacterObject = Type.Object(
  {
    id: Type.String({ description: 'The cameo id (`cameo_...`): a character is a cameo of the caller' }),
    object: Type.Literal('character'),
    name: Type.String(),
    created_at: Type.Integer({ description: 'Unix seconds' }),
    status: StringEnum(CAMEO_STATUSES, { description: 'The cameo status: usable in videos once `verified`' }),
  },
  { title: 'Character' },
);
export type CharacterObject = Static<typeof CharacterObject>;

export const CameoIdParams = Type.Object({ id: Type.String({ description: 'The cameo id, `cameo_...`' }) });
export type CameoIdParams = Static<typeof CameoIdParams>;

export const GrantParams = Type.Object({
  id: Type.String({ description: 'The cameo id, `cameo_...`' }),
  user_id: Type.String({ description: 'The user whose grant is revoked' }),
});
export type GrantParams = Static<typeof GrantParams>;

export const UserIdParams = Type.Object({ id: Type.String({ description: 'The user id, `user_...`' }) });
export type UserIdParams = Static<typeof UserIdParams>;

export const ChangePermissionBody = Type.Object({ permission: PermissionSchema }, { title: 'ChangeCameoPermission', additionalProperties: false });
export type ChangePermissionBody = Static<typeof ChangePermissionBody>;

export const GrantBody = Type.Object(
  { user_id: Type.String({ minLength: 1, maxLength: 100, description: 'The user to allow (an existing user, not the owner)' }) },
  { title: 'GrantCameoAccess', additionalProperties: false },
);
export type GrantBody = Static<typeof GrantBody>;

export const RevokedGrant = Type.Object(
  {
    revision: Type.Integer({ description: 'Revision of the CameoAccessRevoked event' }),
    revoked_at: Type.Integer({ description: 'Unix seconds' }),
  },
  { title: 'CameoGrantRevoked' },
);
export type RevokedGrant = Static<typeof RevokedGrant>;

export const DeleteCameoQuery = Type.Object({
  take_down: Type.Optional(
    Type.Boolean({ default: false, description: 'Also take down every finished video that uses the cameo; uses not yet published are blocked either way' }),
  ),
});
export type DeleteCameoQuery = Static<typeof DeleteCameoQuery>;

export const DeletedCameo = Type.Object({ id: Type.String(), object: Type.Literal('cameo.deleted'), deleted: Type.Literal(true) }, { title: 'DeletedCameo' });
export type DeletedCameo = Static<typeof DeletedCameo>;

export const AppearanceObject = Type.Object(
  {
    video_id: Type.String(),
    user_id: Type.String({ description: 'Who put the cameo into the video' }),
    use_status: StringEnum(USE_STATUSES, {
      description: '`active` while the video is made, `blocked` when consent stopped it, `published` once confirmed at publication',
    }),
    blocked_code: Nullable(Type.String({ description: 'Why the use was blocked (`consent_revoked`, `consent_missing`); null unless blocked' })),
    basis: Type.String({ description: 'What allowed the use: owner, grant, mutuals or everyone' }),
    grant_revision: Type.Integer({ description: 'The revision of the consent the use rests on' }),
    reserved_at: Type.Integer({ description: 'Unix seconds' }),
    status: Nullable(Type.String({ description: 'The video status; null while the videos read model has not caught up (or the video was deleted)' })),
    stage: Nullable(Type.String()),
    visibility: Nullable(Type.String({ description: '`private`, `published` or `taken_down`' })),
  },
  { title: 'CameoAppearance' },
);
export type AppearanceObject = Static<typeof AppearanceObject>;

export const AppearanceList = Type.Object({ object: Type.Literal('list'), data: Type.Array(AppearanceObject) }, { title: 'CameoAppearanceList' });
export type AppearanceList = Static<typeof AppearanceList>;

export const ConsentEventObject = Type.Object(
  {
    revision: Type.Integer({ description: "The event's revision in the `cameo-<id>` stream, from 0" }),
    type: Type.String(),
    actor_id: Nullable(Type.String({ description: 'Who made the decision: `by` of the event when it names one, else the recorded actor' })),
    at: Nullable(Type.Integer({ description: 'Unix seconds' })),
    data: Type.Unknown(),
    hash: Nullable(Type.String({ description: 'SHA-256 of {prev_hash, revision, type, data} as recorded' })),
    prev_hash: Nullable(Type.String({ description: 'The hash of the event before (64 zeros for the first)' })),
  },
  { title: 'CameoConsentEvent' },
);
export type ConsentEventObject = Static<typeof ConsentEventObject>;

export const ChainReportObject = Type.Object(
  {
    valid: Type.Boolean({ description: 'Every link and hash checks out, no revision missing' }),
    head_hash: Type.String({ description: 'The hash of the last event' }),
    checked: Type.Integer(),
    problems: Type.Array(Type.Object({ revision: Type.Integer(), problem: Type.String() })),
  },
  { title: 'CameoChainReport' },
);
export type ChainReportObject = Static<typeof ChainReportObject>;

export const ConsentHistory = Type.Object({ events: Type.Array(ConsentEventObject), chain: ChainReportObject }, { title: 'CameoConsentHistory' });
export type ConsentHistory = Static<typeof ConsentHistory>;

export const ConsentHistoryQuery = Type.Object({
  format: Type.Optional(
    StringEnum(['json', 'jsonl'] as const, {
      description: '`jsonl` (or `Accept: application/x-ndjson`): one event per line, then a `{"chain": ...}` line, for export',
    }),
  ),
});
export type ConsentHistoryQuery = Static<typeof ConsentHistoryQuery>;

export const FollowState = Type.Object({ following: Type.Boolean() }, { title: 'FollowState' });
export type FollowState = Static<typeof FollowState>;

/** POST /v1/cameos as multipart/form-data. Documentation: the handler reads the form part by part (upload.ts). */
export const RegisterCameoForm = Type.Object(
  {
    challenge_id: Type.String({ pattern: CHALLENGE_ID_PATTERN, description: "From POST /v1/cameos/challenges: unused, not expired, the caller's" }),
    recording: Type.String({ format: 'binary', description: 'A video with audio of the person saying the phrase (checked by its content, not its name)' }),
    display_name: Type.String({ minLength: 1, maxLength: DISPLAY_NAME_MAX_CHARS, pattern: VISIBLE_TEXT_PATTERN }),
    permission: Type.Optional(StringEnum(PERMISSIONS, { default: 'only_me' })),
  },
  { title: 'RegisterCameoForm', additionalProperties: false },
);

/** POST /v1/videos/characters as multipart/form-data (what the OpenAI SDK's createCharacter sends). */
export const CreateCharacterForm = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: DISPLAY_NAME_MAX_CHARS, pattern: VISIBLE_TEXT_PATTERN, description: 'The display name' }),
    video: Type.String({ format: 'binary', description: 'A video with audio of the person (checked by its content)' }),
  },
  { title: 'CreateCharacterForm', additionalProperties: false },
);
