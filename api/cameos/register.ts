// Registering a cameo: a liveness challenge (the phrase to say), the recording that says it (POST /v1/cameos), and the
// OpenAI-compatible `characters` (a cameo of the caller without a challenge). Each starts the cameo's workflow, which
// records the registration and has the recording verified.
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { CameoRegisteredData, Permission } from '../../domain/cameo/events';
import { PERMISSIONS } from '../../domain/cameo/events';
import { cameoStream } from '../../domain/cameo/follows';
import { evolve, initialCameoState, type CameoState } from '../../domain/cameo/state';
import { StreamNotFound } from '../../infra/eventstore/errors';
import { readCameo } from '../../infra/streams/cameos';
import type { User } from '../../infra/users/port';
import type { cameoWorkflow } from '../../workflows/cameo';
import { callerOf, problemResponse } from '../plugins/auth';
import { contentRefusal, ProblemError, unprocessableResponse } from '../plugins/errors';
import { invalidParams, type FieldError } from '../videos/params';
import { poll } from '../videos/context';
import { nowS, toCameo, toCharacter, type CameosContext } from './context';
import { CameoObject, ChallengeObject, CharacterObject, CHALLENGE_ID_PATTERN, CreateCharacterForm, RegisterCameoForm } from './schemas';
import { checkDisplayName, readUpload } from './upload';

const CHALLENGE_ID = new RegExp(CHALLENGE_ID_PATTERN);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** How long POST /v1/videos/characters waits for the verdict (its checks take seconds); past it, the character is answered pending. */
const CHARACTER_VERDICT_WAIT_MS = 30_000;

function newCameoId(): string {
  return `cameo_${randomBytes(16).toString('hex')}`;
}

export function recordingKey(cameoId: string): string {
  return `cameos/${cameoId}/recording`;
}

export const registerCameoRoutes: FastifyPluginAsync<CameosContext> = async (app, context) => {
  const { eventStore, blobs, challenges, config, workflows, readWaitMs } = context;

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

  /** The cameo once its verification is recorded (verified or rejected), or as it stands after `waitMs`. */
  async function verdictOf(state: CameoState, waitMs: number): Promise<CameoState> {
    const judged = await poll(
      async () => {
        const current = await readCameo(eventStore, state.cameoId!);
        return current.status === 'pending' ? undefined : current;
      },
      waitMs,
      100,
    );
    return judged ?? state;
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
      throw new ProblemError({
        status: 503,
        code: 'temporal_unavailable',
        detail: 'the cameo could not be registered now; retry (the challenge is still valid)',
      });
    }
    log.info({ permission: input.permission, challenge: registration.challenge_id !== null }, 'cameo registration started');
    return registeredState(registration);
  }

  const uploadResponses = {
    400: problemResponse('A field is invalid; `errors` names each one'),
    422: unprocessableResponse("the recording is a still image or not a video at all, or the challenge is not the caller's, expired or used"),
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
      const form = await readUpload(request, {
        fileField: 'recording',
        textFields: ['challenge_id', 'display_name', 'permission'],
        maxBytes: config.recordingMaxBytes,
      });
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
          const why = {
            unknown: 'is not a challenge of yours',
            expired: 'has expired; ask for a new challenge',
            used: 'was already used; ask for a new challenge',
          }[checked.problem];
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
        description:
          "The same as POST /v1/cameos without a challenge: permission `only_me`. A character must be non-human: the answer waits (up to 30 s) for its verification, and a clip in which the face detector finds a human face in a meaningful share of the frames is 422 `human_likeness_requires_cameo` (lending one's own likeness is the cameo flow, with its spoken challenge). Otherwise the character, `verified` (or `pending` if its verification is slow; see `status`).",
        body: { content: { 'multipart/form-data': { schema: CreateCharacterForm } } },
        response: {
          200: CharacterObject,
          ...uploadResponses,
          422: unprocessableResponse(
            'the clip shows a human face (`human_likeness_requires_cameo`: characters must be non-human; lend your own likeness through a cameo), or it is a still image or not a video at all',
          ),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const form = await readUpload(request, { fileField: 'video', textFields: ['name'], maxBytes: config.recordingMaxBytes });
      const errors: FieldError[] = [...form.errors];
      const name = checkDisplayName('name', form.fields.name, errors);
      if (errors.length > 0 || !form.recording) throw invalidParams(errors);
      const registered = await register(caller, { displayName: name, permission: 'only_me', challenge: null, recording: form.recording }, request);
      // The verdict is awaited (seconds), so a clip of a person is refused here, as OpenAI's API refuses human likeness
      // in characters; the refusal stays recorded on the cameo's stream for audit.
      const judged = await verdictOf(registered, CHARACTER_VERDICT_WAIT_MS);
      if (judged.status === 'rejected' && judged.rejectCode === 'human_likeness_requires_cameo') {
        throw new ProblemError({
          status: 422,
          code: 'human_likeness_requires_cameo',
          detail: `${judged.rejectReason} (character ${judged.cameoId} refused)`,
          errors: [{ field: 'video', message: 'shows a human face: characters must be non-human; lend your own likeness through a cameo' }],
        });
      }
      return toCharacter(judged);
    },
  );
};
