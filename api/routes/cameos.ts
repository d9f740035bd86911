// The Cameos resource (API.md "Cameos and consent"): liveness challenges, registration (and the OpenAI-compatible
// `characters`), reads folded from the `cameo-<id>` stream, consent changes as Updates on the cameo's workflow, its
// appearances and its hash-chained consent history, and follows (which `mutuals` permission rests on).
//
// Who may do what, decided here because it needs the cameo's state:
// - see a cameo: its owner, admins, auditors, moderators, and a user who holds a grant or whom consent lets use it now;
//   anyone else gets exactly what an unknown id gets (404 `cameo_not_found`), so existence does not leak;
// - change it (permission, grants, deletion): its owner; a caller who may see it but not change it gets 403 `forbidden`;
// - its appearances: owner and admins; its consent history: owner, auditors and admins (others 404).
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { areMutuals, readCameo } from '../../infra/streams/cameos';
import { verifyChain } from '../../domain/cameo/chain';
import { consentFor } from '../../domain/cameo/decide';
import type { CameoRegisteredData, Permission, UserEvent } from '../../domain/cameo/events';
import { PERMISSIONS } from '../../domain/cameo/events';
import { cameoStream, followeesEvolver, userStream } from '../../domain/cameo/follows';
import { evolve, grantOf, initialCameoState, type CameoState } from '../../domain/cameo/state';
import type { BlobStore } from '../../infra/blobs';
import { commandHandler } from '../../infra/eventstore/commandHandler';
import { StreamNotFound } from '../../infra/eventstore/errors';
import type { EventStore, RecordedEvent } from '../../infra/eventstore/port';
import { executeUpdateOrRefusal } from '../../infra/temporal/updates';
import type { User, UserStore } from '../../infra/users/port';
import type { cameoWorkflow } from '../../workflows/cameo';
import { changePermissionUpdate, deleteCameoUpdate, grantAccessUpdate, revokeAccessUpdate } from '../../workflows/definitions';
import type { ChallengeStore } from '../cameos/challenges';
import {
  AppearanceList,
  CameoIdParams,
  CameoObject,
  ChallengeObject,
  ChangePermissionBody,
  CharacterObject,
  ConsentHistory,
  ConsentHistoryQuery,
  CreateCharacterForm,
  DeleteCameoQuery,
  CHALLENGE_ID_PATTERN,
  DeletedCameo,
  FollowState,
  GrantBody,
  GrantObject,
  GrantParams,
  RegisterCameoForm,
  RevokedGrant,
  UserIdParams,
  type AppearanceObject,
  type ConsentEventObject,
} from '../cameos/schemas';
import { checkDisplayName, readUpload } from '../cameos/upload';
import { callerOf, hasRole, problemResponse } from '../plugins/auth';
import { contentRefusal, ProblemError, unprocessableResponse } from '../plugins/errors';
import { invalidParams, type FieldError } from '../videos/params';
import type { VideoReadModel } from '../videos/readModel';

export interface CameosConfig {
  /** Where cameo workflows run: the orchestration queue, as generation workflows (tests use their own). */
  taskQueue: string;
  /** Largest recording accepted (413 beyond it). */
  recordingMaxBytes: number;
  /** How long registration waits for the workflow to record the cameo before answering it built from the request. */
  readWaitMs?: number;
}

export interface CameosRoutesOptions {
  temporal: { client: Client };
  eventStore: EventStore;
  blobs: BlobStore;
  users: Pick<UserStore, 'findById'>;
  /** The videos read model: the status of the videos a cameo appears in. */
  videos: VideoReadModel;
  challenges: ChallengeStore;
  config: CameosConfig;
}

/** As params.ts accepts cameo ids in video requests; ids minted here are `cameo_` + 32 hex digits. */
const CAMEO_ID = /^cameo_[A-Za-z0-9]{1,64}$/;
const CHALLENGE_ID = new RegExp(CHALLENGE_ID_PATTERN);
/** Roles that may see every cameo (not change it). */
const STAFF = ['admin', 'auditor', 'moderator'] as const;
const NDJSON = 'application/x-ndjson';

const nowS = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function newCameoId(): string {
  return `cameo_${randomBytes(16).toString('hex')}`;
}

export function recordingKey(cameoId: string): string {
  return `cameos/${cameoId}/recording`;
}

function cameoNotFound(id: string): ProblemError {
  return new ProblemError({ status: 404, code: 'cameo_not_found', detail: `no cameo ${id}` });
}

function forbidden(id: string, what: string): ProblemError {
  return new ProblemError({ status: 403, code: 'forbidden', detail: `only the owner of cameo ${id} may ${what}` });
}

/** The Cameo as its viewer may see it: the owner and staff see every grant, anyone else only their own. */
function toCameo(state: CameoState, viewer: User): CameoObject {
  const allGrants = viewer.id === state.ownerId || hasRole(viewer, ...STAFF);
  const grants = Object.entries(state.grants)
    .filter(([userId]) => allGrants || userId === viewer.id)
    .map(([userId, g]) => ({ user_id: userId, revision: g.revision, granted_at: g.granted_at }))
    .sort((a, b) => a.revision - b.revision);
  return {
    id: state.cameoId!,
    object: 'cameo',
    owner_id: state.ownerId!,
    display_name: state.displayName!,
    status: state.status,
    permission: state.permission,
    grants,
    created_at: state.createdAt!,
    reject_reason: state.status === 'rejected' ? state.rejectReason : null,
    deleted_at: state.deletedAt,
  };
}

function toCharacter(state: CameoState): CharacterObject {
  return { id: state.cameoId!, object: 'character', name: state.displayName!, created_at: state.createdAt!, status: state.status };
}

/** Who made the decision an event records: `by` where the event names it, the video's user for a use, else the actor. */
function actorOf(event: RecordedEvent): string | null {
  const data = event.data as Record<string, unknown> | null;
  if (data && typeof data.by === 'string') return data.by;
  if (event.type === 'CameoUsed' && data && typeof data.user_id === 'string') return data.user_id;
  if (event.type === 'CameoRegistered' && data && typeof data.owner_id === 'string') return data.owner_id;
  return typeof event.metadata.actor === 'string' ? event.metadata.actor : null;
}

function toConsentEvent(event: RecordedEvent): ConsentEventObject {
  const data = event.data as Record<string, unknown> | null;
  return {
    revision: Number(event.revision),
    type: event.type,
    actor_id: actorOf(event),
    at: data && typeof data.at === 'number' ? data.at : null,
    data: event.data,
    hash: typeof event.metadata.hash === 'string' ? event.metadata.hash : null,
    prev_hash: typeof event.metadata.prev_hash === 'string' ? event.metadata.prev_hash : null,
  };
}

function wantsNdjson(request: FastifyRequest<{ Querystring: ConsentHistoryQuery }>): boolean {
  if (request.query.format === 'jsonl') return true;
  if (request.query.format === 'json') return false;
  return (request.headers.accept ?? '').split(',').some((part) => part.split(';')[0]!.trim().toLowerCase() === NDJSON);
}

export const cameosRoutes: FastifyPluginAsync<CameosRoutesOptions> = async (app, options) => {
  const { eventStore, blobs, users, videos, challenges, config } = options;
  const workflows = options.temporal.client.workflow;
  const handleFollows = commandHandler(eventStore, followeesEvolver);
  const readWaitMs = config.readWaitMs ?? 5000;

  // As in the videos routes: a malformed JSON body is a 400 naming `body`, and an empty body with a JSON content type
  // is no body (DELETE and POST without parameters). Scoped to this plugin.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') return done(null, undefined);
    defaultJson(request, body as string, (err, value) => {
      if (!err) return done(null, value);
      const message = `is not valid JSON: ${err.message}`;
      done(new ProblemError({ status: 400, code: 'invalid_json', title: 'Malformed JSON', detail: `body ${message}`, errors: [{ field: 'body', message }] }), undefined);
    });
  });

  // ---- who may see and change a cameo -------------------------------------------------------------------------------

  async function maySee(caller: User, state: CameoState): Promise<boolean> {
    if (!state.exists) return false;
    if (caller.id === state.ownerId || hasRole(caller, ...STAFF)) return true;
    // A deleted cameo is gone for everyone but its owner and staff.
    if (state.status === 'deleted') return false;
    if (grantOf(state, caller.id)) return true;
    const mutual = state.permission === 'mutuals' ? await areMutuals(eventStore, caller.id, state.ownerId!) : false;
    return consentFor(state, caller.id, { mutual }).allowed;
  }

  /** The cameo if the caller may see it; otherwise exactly what an unknown id answers. */
  async function visibleCameo(caller: User, id: string): Promise<CameoState> {
    const state = CAMEO_ID.test(id) ? await readCameo(eventStore, id) : initialCameoState;
    if (!(await maySee(caller, state))) throw cameoNotFound(id);
    return state;
  }

  /** The cameo for a change only its owner may make: 404 for who may not see it, 403 for who may see but not change. */
  async function ownedCameo(caller: User, id: string, what: string): Promise<CameoState> {
    const state = await visibleCameo(caller, id);
    if (caller.id !== state.ownerId) throw forbidden(id, what);
    return state;
  }

  /** The cameo for a read limited to its owner and some roles; anyone else gets 404 as for an unknown id. */
  async function cameoFor(caller: User, id: string, ...roles: Array<'admin' | 'auditor'>): Promise<CameoState> {
    const state = CAMEO_ID.test(id) ? await readCameo(eventStore, id) : initialCameoState;
    if (!state.exists || (caller.id !== state.ownerId && !hasRole(caller, ...roles))) throw cameoNotFound(id);
    return state;
  }

  // ---- consent changes: Updates on the cameo's workflow ----------------------------------------------------------

  /** Runs an Update; a refusal by the decider (or a workflow that is gone) becomes the problem a client can act on. */
  async function update<R, A extends [unknown, ...unknown[]]>(state: CameoState, definition: UpdateDefinition<R, A>, args: A): Promise<R> {
    const id = state.cameoId!;
    const outcome = await executeUpdateOrRefusal(workflows.getHandle(cameoStream(id)), definition, args);
    if (outcome.ok) return outcome.result;
    const { code, message } = outcome;
    switch (code) {
      case 'forbidden':
        throw new ProblemError({ status: 403, code: 'forbidden', detail: message });
      case 'invalid':
        throw new ProblemError({ status: 400, code: 'validation_failed', title: 'Invalid request', detail: message });
      case 'not_granted':
        throw new ProblemError({ status: 404, code: 'grant_not_found', detail: message });
      case 'not_found':
        throw cameoNotFound(id);
      case 'deleted':
      case 'not_running':
        // A deleted cameo's workflow has completed: whatever the request, the cameo is no longer there to change.
        throw new ProblemError({ status: 409, code: 'cameo_deleted', detail: `cameo ${id} was deleted (or its workflow is no longer running): ${message}` });
      default:
        throw new ProblemError({ status: 409, code, detail: message });
    }
  }

  function refuseIfDeleted(state: CameoState): void {
    if (state.status === 'deleted') throw new ProblemError({ status: 409, code: 'cameo_deleted', detail: `cameo ${state.cameoId} was deleted` });
  }

  // ---- registration ---------------------------------------------------------------------------------------------

  /**
   * The cameo as registered (`pending`, as API.md answers a registration), once its workflow has recorded it, so the
   * client's next GET finds it; past the deadline, built from the request. Only the registration is folded: a quick
   * verification recorded meanwhile is for the next GET to tell.
   */
  async function registeredState(registration: CameoRegisteredData): Promise<CameoState> {
    const registered = evolve(initialCameoState, { type: 'CameoRegistered', data: registration });
    const deadline = Date.now() + readWaitMs;
    for (;;) {
      try {
        if ((await eventStore.readStream(cameoStream(registration.cameo_id), { maxCount: 1 })).length > 0) return registered;
      } catch (err) {
        if (!(err instanceof StreamNotFound)) throw err;
      }
      if (Date.now() >= deadline) return registered;
      await sleep(50);
    }
  }

  /**
   * Stores the recording and starts the cameo's workflow. The challenge (if any) is spent first, so of two uploads
   * racing for one challenge only one goes on; when anything after that fails, the recording is removed and the
   * challenge given back: a failed registration leaves nothing behind and can be retried.
   */
  async function register(
    caller: User,
    input: { displayName: string; permission: Permission; challenge: { id: string; phrase: string } | null; recording: Buffer },
    request: FastifyRequest,
  ): Promise<CameoState> {
    const cameoId = newCameoId();
    const log = request.log.child({ cameoId });
    if (input.challenge && !(await challenges.claim(input.challenge.id, caller.id))) {
      throw invalidParams([contentRefusal('challenge_id', 'was already used (or expired) meanwhile; ask for a new challenge')]);
    }
    const registration: CameoRegisteredData = {
      cameo_id: cameoId,
      owner_id: caller.id,
      display_name: input.displayName,
      permission: input.permission,
      challenge_id: input.challenge?.id ?? null,
      phrase: input.challenge?.phrase ?? null,
      recording_key: recordingKey(cameoId),
      at: nowS(),
    };
    try {
      await blobs.put(registration.recording_key, input.recording);
    } catch (err) {
      if (input.challenge) await challenges.release(input.challenge.id).catch(() => undefined);
      throw err;
    }
    try {
      await workflows.start<typeof cameoWorkflow>('cameoWorkflow', {
        taskQueue: config.taskQueue,
        workflowId: cameoStream(cameoId),
        args: [{ cameoId, actor: caller.id, registration }],
        // One workflow per cameo, ever: its id is the stream it writes.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (err) {
      await blobs.deletePrefix(`cameos/${cameoId}/`).catch(() => undefined);
      if (input.challenge) await challenges.release(input.challenge.id).catch(() => undefined);
      log.error({ err }, 'cameo registration not started');
      throw new ProblemError({ status: 503, code: 'temporal_unavailable', detail: 'the cameo could not be registered now; retry (the challenge is still valid)' });
    }
    log.info({ permission: input.permission, challenge: registration.challenge_id !== null }, 'cameo registration started');
    return registeredState(registration);
  }

  const uploadResponses = {
    400: problemResponse('A field is invalid; `errors` names each one'),
    422: unprocessableResponse('the recording is a still image or not a video at all, or the challenge is not the caller\'s, expired or used'),
    413: problemResponse('The recording is larger than the configured limit (`error.param`: the file field)'),
    415: problemResponse('The body is not multipart/form-data'),
    503: problemResponse('Temporal did not take the registration; nothing was recorded and the challenge is still valid'),
  };

  app.post(
    '/v1/cameos/challenges',
    {
      schema: {
        tags: ['cameos'],
        summary: 'Ask for a liveness challenge: the phrase to say in the registration recording',
        description: 'Single use, for the caller only, valid for 10 minutes.',
        response: { 201: ChallengeObject },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const challenge = await challenges.create(caller.id);
      reply.status(201);
      return { challenge_id: challenge.id, phrase: challenge.phrase, expires_at: Math.floor(challenge.expiresAt.getTime() / 1000) } satisfies ChallengeObject;
    },
  );

  app.post(
    '/v1/cameos',
    {
      // The form is read part by part (api/cameos/upload.ts); the schema below documents it.
      validatorCompiler: () => () => true,
      schema: {
        tags: ['cameos'],
        summary: 'Register a cameo: a recording of the person saying the challenge phrase',
        description: 'Accepted: the cameo is `pending` while the recording is verified; poll GET /v1/cameos/{id} for `verified` or `rejected`.',
        body: { content: { 'multipart/form-data': { schema: RegisterCameoForm } } },
        response: { 202: CameoObject, ...uploadResponses },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const form = await readUpload(request, { fileField: 'recording', textFields: ['challenge_id', 'display_name', 'permission'], maxBytes: config.recordingMaxBytes });
      const errors: FieldError[] = [...form.errors];
      const displayName = checkDisplayName('display_name', form.fields.display_name, errors);
      let permission: Permission = 'only_me';
      const permissionValue = form.fields.permission;
      if (permissionValue !== undefined) {
        if ((PERMISSIONS as readonly string[]).includes(permissionValue)) permission = permissionValue as Permission;
        else errors.push({ field: 'permission', message: `must be one of ${PERMISSIONS.map((p) => `"${p}"`).join(', ')}` });
      }
      let challenge: { id: string; phrase: string } | null = null;
      const challengeId = form.fields.challenge_id;
      if (challengeId === undefined) errors.push({ field: 'challenge_id', message: 'is required (from POST /v1/cameos/challenges)' });
      else if (!CHALLENGE_ID.test(challengeId)) errors.push({ field: 'challenge_id', message: 'is not a challenge id (chal_ followed by 32 hex digits)' });
      else {
        const checked = await challenges.check(challengeId, caller.id);
        if (checked.ok) challenge = { id: checked.challenge.id, phrase: checked.challenge.phrase };
        else {
          const why = { unknown: 'is not a challenge of yours', expired: 'has expired; ask for a new challenge', used: 'was already used; ask for a new challenge' }[checked.problem];
          errors.push(contentRefusal('challenge_id', why));
        }
      }
      if (errors.length > 0 || !form.recording || !challenge) throw invalidParams(errors);
      const state = await register(caller, { displayName, permission, challenge, recording: form.recording }, request);
      reply.status(202);
      return toCameo(state, caller);
    },
  );

  app.post(
    '/v1/videos/characters',
    {
      validatorCompiler: () => () => true,
      schema: {
        tags: ['cameos', 'videos'],
        summary: 'Create a character (a cameo of the caller) from a video, as the OpenAI Videos API',
        description: 'The same as POST /v1/cameos without a challenge: permission `only_me`, verified asynchronously (see `status`).',
        body: { content: { 'multipart/form-data': { schema: CreateCharacterForm } } },
        response: { 200: CharacterObject, ...uploadResponses },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const form = await readUpload(request, { fileField: 'video', textFields: ['name'], maxBytes: config.recordingMaxBytes });
      const errors: FieldError[] = [...form.errors];
      const name = checkDisplayName('name', form.fields.name, errors);
      if (errors.length > 0 || !form.recording) throw invalidParams(errors);
      return toCharacter(await register(caller, { displayName: name, permission: 'only_me', challenge: null, recording: form.recording }, request));
    },
  );

  // ---- reads ------------------------------------------------------------------------------------------------------

  const notFound = { 404: problemResponse('No such cameo, or one the caller may not see (never 403 there, so its existence does not leak)') };
  const ownerOnly = {
    ...notFound,
    403: problemResponse('The caller may see the cameo but is not its owner (`forbidden`)'),
    409: problemResponse('The cameo was deleted (`cameo_deleted`)'),
  };

  app.get<{ Params: CameoIdParams }>(
    '/v1/cameos/:id',
    { schema: { tags: ['cameos'], summary: 'Retrieve a cameo', params: CameoIdParams, response: { 200: CameoObject, ...notFound } } },
    async (request) => {
      const caller = callerOf(request);
      return toCameo(await visibleCameo(caller, request.params.id), caller);
    },
  );

  app.get<{ Params: CameoIdParams }>(
    '/v1/videos/characters/:id',
    { schema: { tags: ['cameos', 'videos'], summary: 'Retrieve a character (a cameo), as the OpenAI Videos API', params: CameoIdParams, response: { 200: CharacterObject, ...notFound } } },
    async (request) => toCharacter(await visibleCameo(callerOf(request), request.params.id)),
  );

  app.get<{ Params: CameoIdParams }>(
    '/v1/cameos/:id/appearances',
    {
      schema: {
        tags: ['cameos'],
        summary: 'The videos that use the cameo: drafts, published ones and jobs in flight',
        description: 'For its owner and admins.',
        params: CameoIdParams,
        response: { 200: AppearanceList, ...notFound },
      },
    },
    async (request) => {
      const state = await cameoFor(callerOf(request), request.params.id, 'admin');
      const uses = Object.entries(state.uses).sort(([a, x], [b, y]) => x.reserved_at - y.reserved_at || (a < b ? -1 : a > b ? 1 : 0));
      const data = await Promise.all(
        uses.map(async ([videoId, use]): Promise<AppearanceObject> => {
          // The read model may lag the cameo's stream by a moment (or the video was deleted): the use is still shown.
          const video = await videos.get(videoId);
          return {
            video_id: videoId,
            user_id: use.user_id,
            use_status: use.status,
            blocked_code: use.code ?? null,
            basis: use.basis,
            grant_revision: use.grant_revision,
            reserved_at: use.reserved_at,
            status: video?.status ?? null,
            stage: video?.stage ?? null,
            visibility: video?.visibility ?? null,
          };
        }),
      );
      return { object: 'list' as const, data };
    },
  );

  app.get<{ Params: CameoIdParams; Querystring: ConsentHistoryQuery }>(
    '/v1/cameos/:id/consent-history',
    {
      schema: {
        tags: ['cameos'],
        summary: "The cameo's consent history, every event with its hash, and the chain verified",
        description: 'For its owner, auditors and admins. `?format=jsonl` (or `Accept: application/x-ndjson`) exports it: one event per line, then `{"chain": ...}`.',
        params: CameoIdParams,
        querystring: ConsentHistoryQuery,
        response: {
          200: {
            description: 'The history (JSON), or its export (NDJSON)',
            content: { 'application/json': { schema: ConsentHistory }, [NDJSON]: { schema: { type: 'string' } } },
          },
          ...notFound,
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const { id } = request.params;
      let recorded: RecordedEvent[] = [];
      if (CAMEO_ID.test(id)) {
        try {
          recorded = await eventStore.readStream(cameoStream(id));
        } catch (err) {
          if (!(err instanceof StreamNotFound)) throw err;
        }
      }
      // Access from the registration itself: a tampered later event must not lock the auditors out of seeing it.
      const registered = recorded.find((e) => e.type === 'CameoRegistered')?.data as CameoRegisteredData | undefined;
      if (!registered || (caller.id !== registered.owner_id && !hasRole(caller, 'auditor', 'admin'))) throw cameoNotFound(id);
      const events = recorded.map(toConsentEvent);
      const report = verifyChain(events.map((e) => ({ revision: e.revision, type: e.type, data: e.data, prev_hash: e.prev_hash ?? undefined, hash: e.hash ?? undefined })));
      const chain = { valid: report.valid, head_hash: report.head_hash, checked: report.checked, problems: report.problems };
      if (!report.valid) request.log.warn({ cameoId: id, problems: report.problems }, 'cameo consent history fails its hash chain');
      if (wantsNdjson(request)) {
        const lines = [...events.map((e) => JSON.stringify(e)), JSON.stringify({ chain })];
        // A Buffer goes out as is: fastify would otherwise treat the *json media type as JSON to serialize.
        return reply
          .type(NDJSON)
          .header('content-disposition', `attachment; filename="${id}-consent-history.jsonl"`)
          .send(Buffer.from(`${lines.join('\n')}\n`));
      }
      return { events, chain };
    },
  );

  // ---- changes (the owner's) ----------------------------------------------------------------------------------------

  app.put<{ Params: CameoIdParams; Body: ChangePermissionBody }>(
    '/v1/cameos/:id/permission',
    {
      schema: {
        tags: ['cameos'],
        summary: "Change who may use the cameo",
        description: 'By its owner. Narrowing it blocks the uses in progress that the new permission no longer covers.',
        params: CameoIdParams,
        body: ChangePermissionBody,
        response: { 200: CameoObject, 400: problemResponse('`permission` is not one of the permissions'), ...ownerOnly },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const state = await ownedCameo(caller, request.params.id, 'change its permission');
      refuseIfDeleted(state);
      const next = await update(state, changePermissionUpdate, [{ by: caller.id, permission: request.body.permission }]);
      request.log.info({ cameoId: state.cameoId, permission: next.permission }, 'cameo permission changed');
      return toCameo(next, caller);
    },
  );

  app.post<{ Params: CameoIdParams; Body: GrantBody }>(
    '/v1/cameos/:id/grants',
    {
      schema: {
        tags: ['cameos'],
        summary: 'Allow a user to put the cameo into their videos',
        description: 'By its owner. Counts under every permission but `only_me`. Granting a user who holds a grant answers that grant.',
        params: CameoIdParams,
        body: GrantBody,
        response: { 201: GrantObject, 422: unprocessableResponse('`user_id` names no user, or the owner'), ...ownerOnly },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const state = await ownedCameo(caller, request.params.id, 'grant access to it');
      refuseIfDeleted(state);
      const userId = request.body.user_id;
      if (userId === state.ownerId) throw invalidParams([contentRefusal('user_id', 'is the owner, who needs no grant')]);
      if (!(await users.findById(userId))) throw invalidParams([contentRefusal('user_id', 'is not a user')]);
      const grant = await update(state, grantAccessUpdate, [{ by: caller.id, user_id: userId }]);
      request.log.info({ cameoId: state.cameoId, grantee: userId, revision: grant.revision }, 'cameo access granted');
      reply.status(201);
      return grant;
    },
  );

  app.delete<{ Params: GrantParams }>(
    '/v1/cameos/:id/grants/:user_id',
    {
      schema: {
        tags: ['cameos'],
        summary: "Revoke a user's grant",
        description: 'By its owner. Their uses in progress are blocked at once; published ones stay (consent held when they were published).',
        params: GrantParams,
        response: {
          200: RevokedGrant,
          ...ownerOnly,
          404: problemResponse('No such cameo (or one the caller may not see: `cameo_not_found`), or the user holds no grant (`grant_not_found`)'),
          422: unprocessableResponse('`user_id` is the owner'),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const state = await ownedCameo(caller, request.params.id, 'revoke access to it');
      refuseIfDeleted(state);
      const userId = request.params.user_id;
      if (userId === state.ownerId) throw invalidParams([contentRefusal('user_id', 'is the owner, whose access cannot be revoked')]);
      const revoked = await update(state, revokeAccessUpdate, [{ by: caller.id, user_id: userId }]);
      request.log.info({ cameoId: state.cameoId, grantee: userId, revision: revoked.revision }, 'cameo access revoked');
      return revoked;
    },
  );

  app.delete<{ Params: CameoIdParams; Querystring: DeleteCameoQuery }>(
    '/v1/cameos/:id',
    {
      schema: {
        tags: ['cameos'],
        summary: 'Delete a cameo',
        description: 'By its owner. Uses not yet published are blocked; with `take_down=true` the finished videos that use it are taken down too. Its events stay as the record.',
        params: CameoIdParams,
        querystring: DeleteCameoQuery,
        response: { 200: DeletedCameo, ...notFound, 403: ownerOnly[403] },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { id } = request.params;
      // The owner, or an admin (recorded as an admin's deletion in the consent history).
      const asAdmin = hasRole(caller, 'admin');
      const state = asAdmin ? await visibleCameo(caller, id) : await ownedCameo(caller, id, 'delete it');
      if (state.status !== 'deleted') {
        await update(state, deleteCameoUpdate, [{ by: caller.id, take_down: request.query.take_down ?? false, ...(asAdmin && caller.id !== state.ownerId ? { as_admin: true } : {}) }]);
        request.log.info({ cameoId: id, takeDown: request.query.take_down ?? false }, 'cameo deleted');
      }
      return { id, object: 'cameo.deleted' as const, deleted: true as const };
    },
  );

  // ---- follows ----------------------------------------------------------------------------------------------------


  /** Records a follow or an unfollow on the caller's stream, unless it already holds: repeating one records nothing. */
  async function setFollowing(request: FastifyRequest<{ Params: UserIdParams }>, following: boolean): Promise<FollowState> {
    const caller = callerOf(request);
    const followee = request.params.id;
    if (followee === caller.id) throw invalidParams([contentRefusal('id', 'is you: you cannot follow yourself')]);
    if (!(await users.findById(followee))) throw new ProblemError({ status: 404, code: 'user_not_found', detail: `no user ${followee}` });
    const type = following ? 'UserFollowed' : 'UserUnfollowed';
    // At the revision read: a follow or unfollow by the same user meanwhile means read and decide again.
    const { newEvents } = await handleFollows(
      userStream(caller.id),
      ({ state }): UserEvent[] => (state.has(followee) === following ? [] : [{ type, data: { followee_id: followee, at: nowS() } }]),
      { metadata: { actor: caller.id, requestId: request.id } },
    );
    if (newEvents.length === 0) return { following };
    request.log.info({ followee }, following ? 'user followed' : 'user unfollowed');
    return { following };
  }

  const followResponses = {
    200: FollowState,
    422: unprocessableResponse('the user is the caller'),
    404: problemResponse('No such user (`user_not_found`)'),
  };

  app.post<{ Params: UserIdParams }>(
    '/v1/users/:id/follow',
    { schema: { tags: ['users'], summary: 'Follow a user (idempotent)', description: 'Two users who follow each other are mutuals, which a cameo permission may rest on.', params: UserIdParams, response: followResponses } },
    async (request) => setFollowing(request, true),
  );

  app.delete<{ Params: UserIdParams }>(
    '/v1/users/:id/follow',
    { schema: { tags: ['users'], summary: 'Stop following a user (idempotent)', params: UserIdParams, response: followResponses } },
    async (request) => setFollowing(request, false),
  );
};
