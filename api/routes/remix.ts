// Remixes, edits and extensions: a new video from a completed one. A remix (or an edit) keeps the source's scene and
// seed and changes what its prompt's words name; an extension continues the source from its last frame and is
// stitched after it. Both run generationWorkflow like any video (prompt moderation, cameo consent for the caller).
import { createHash, randomBytes } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { inputReferenceKey } from '../../domain/video/content';
import { evolve, initialVideoState, isContentExpired, type VideoRequestedData, type VideoState } from '../../domain/video';
import { readVideo } from '../../infra/streams/videos';
import type { User } from '../../infra/users/port';
import { callerOf, mayAccess, problemResponse } from '../plugins/auth';
import { contentRefusal, invalidParams, ProblemError } from '../plugins/errors';
import { idempotencyKeyOf, idempotencyKeyReused } from '../videos/idempotency';
import { DEADLINE_DOC, IdempotencyHeaders, PromptText, VIDEO_ID, VideoIdParams, VideoObject } from '../videos/schemas';
import { ONE_SOURCE, readVideoForm, resolveVideoFile, VIDEO_ID_FIELD, VideoFilePart, VideoIdPart } from '../videos/videoFile';
import { poll, startGeneration, videoExpired, videoFromState, type VideosRoutesOptions } from '../videos/context';
import { cancelAfterSeconds, deadlineAt, deadlineProblem } from '../videos/cancelAfter';
import { answerAfterWait, preferredWait } from '../videos/wait';

import { checkCreateLimits } from '../videos/limits';

const MAX_EXTENSION_S = 20;

const Prompt = PromptText('What to change (remix, edit) or what happens next (extension)');
const SourceRef = Type.Object({ id: Type.String({ description: 'The completed source video, `video_...`' }) }, { additionalProperties: false });
const ExtensionSeconds = { pattern: '^(?:[1-9]|1[0-9]|20)$', description: 'Seconds to add, 1..20; the new video lasts the source plus these' };

const Deadline = Type.Optional(Type.Integer({ description: DEADLINE_DOC }));
const DeadlinePart = Type.Optional(Type.String({ pattern: '^[0-9]{1,12}$', description: DEADLINE_DOC }));

const RemixBody = Type.Object({ prompt: Prompt, deadline: Deadline }, { additionalProperties: false });
type RemixBody = Static<typeof RemixBody>;
const EditBody = Type.Object({ prompt: Prompt, video: SourceRef, deadline: Deadline }, { additionalProperties: false });
type EditBody = Static<typeof EditBody>;
const ExtensionBody = Type.Object(
  {
    prompt: Prompt,
    seconds: Type.Union([Type.Integer({ minimum: 1, maximum: MAX_EXTENSION_S }), Type.String({ pattern: ExtensionSeconds.pattern })], {
      description: 'Seconds to add, 1..20 (a number or a numeric string); the new video lasts the source plus these',
    }),
    video: SourceRef,
    deadline: Deadline,
  },
  { additionalProperties: false },
);
type ExtensionBody = Static<typeof ExtensionBody>;
// The same requests as multipart/form-data, as openai-python sends them: the source is the video file itself.
// The source is the file `video` (openai-python), or `video[id]` (the openai Node SDK's encoding of `video: {id}`).
const EditForm = Type.Object(
  { prompt: Prompt, video: Type.Optional(VideoFilePart), [VIDEO_ID_FIELD]: Type.Optional(VideoIdPart), deadline: DeadlinePart },
  { title: 'EditVideoForm', additionalProperties: false, ...ONE_SOURCE },
);
const ExtensionForm = Type.Object(
  {
    prompt: Prompt,
    seconds: Type.String(ExtensionSeconds),
    video: Type.Optional(VideoFilePart),
    [VIDEO_ID_FIELD]: Type.Optional(VideoIdPart),
    deadline: DeadlinePart,
  },
  { title: 'ExtendVideoForm', additionalProperties: false, ...ONE_SOURCE },
);

const responses = {
  200: VideoObject,
  400: problemResponse('A parameter is invalid; `errors` names each field'),
  404: problemResponse('No such source video, or one the caller may not use (a draft of someone else)'),
  409: problemResponse(
    'The source is not completed (`video_not_completed`) or was taken down (`video_taken_down`), or the Idempotency-Key was used with another body (`idempotency_key_reused`)',
  ),
  410: problemResponse("The source's content expired (`video_expired`): retention deleted it, so there is nothing to build on"),
  422: problemResponse('`deadline` is in the past or more than 24 h ahead (`unprocessable_content`)'),
  429: problemResponse(
    "The caller's daily budget of video seconds is spent (`daily_budget_exceeded`) or too many of their videos are unfinished (`too_many_active_videos`), or too many requests (`rate_limit_exceeded`); `Retry-After` says when",
  ),
  503: problemResponse('Temporal did not take the job'),
};
/** Edits and extensions also take a form whose `video` is a file. */
const formResponses = {
  ...responses,
  413: problemResponse('The video file is too large (`video_file_too_large`), or the form holds more than one file or too many fields'),
  415: problemResponse('The body is neither JSON nor multipart/form-data'),
  422: problemResponse(
    'The video file is not an MP4 of this platform that the caller may use (`unknown_video_file`), or not the video `video[id]` names (`video_file_mismatch`); or `deadline` is in the past or more than 24 h ahead (`unprocessable_content`)',
  ),
};

type Kind = 'remix' | 'extension';

export const remixRoutes: FastifyPluginAsync<VideosRoutesOptions> = async (app, options) => {
  const { eventStore, blobs, readModel, idempotency, config, tiers } = options;
  const workflows = options.temporal.client.workflow;
  const readModelWaitMs = config.readModelWaitMs ?? 2000;
  // A Prefer: wait ends when the server starts closing.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });

  async function sourceState(videoId: string): Promise<VideoState | undefined> {
    return VIDEO_ID.test(videoId) ? (await readVideo(eventStore, videoId))?.state : undefined;
  }

  /**
   * The source, if the caller may build on it: anyone a published video, its owner a completed draft. A video the
   * caller may not see is 404 (its existence does not leak); a taken-down one is 409 for whoever could have seen it.
   */
  async function usableSource(caller: User, videoId: string): Promise<VideoState & { request: VideoRequestedData }> {
    const state = await sourceState(videoId);
    const notFound = new ProblemError({ status: 404, code: 'video_not_found', detail: `no video ${videoId}` });
    if (!state?.request || state.deleted) throw notFound;
    const own = mayAccess(caller, state.request.owner_id, 'admin');
    if (state.visibility === 'taken_down') {
      throw new ProblemError({ status: 409, code: 'video_taken_down', detail: `video ${videoId} was taken down; it cannot be remixed or extended` });
    }
    if (!own && state.visibility !== 'published') throw notFound;
    if (state.status !== 'completed') {
      throw new ProblemError({
        status: 409,
        code: 'video_not_completed',
        detail: `video ${videoId} is ${state.status}; only a completed video can be remixed or extended`,
      });
    }
    // Its chunks and backdrop went with its content (retention): nothing to build on.
    if (isContentExpired(state, Math.floor(Date.now() / 1000))) throw videoExpired(videoId, state.expiresAt ?? null);
    return state as VideoState & { request: VideoRequestedData };
  }

  async function create(
    request: FastifyRequest,
    reply: FastifyReply,
    input: { kind: Kind; sourceId: string; prompt: string; addSeconds?: number; deadline: number | string | undefined },
  ): Promise<VideoObject> {
    const { kind, sourceId, prompt, addSeconds = 0 } = input;
    const arrived = Date.now();
    const caller = callerOf(request);
    const key = idempotencyKeyOf(request);
    // Checked before anything is read or created, as on POST /v1/videos.
    const wait = preferredWait(request.headers.prefer);
    const cancelAfter = cancelAfterSeconds(request.headers['cancel-after']);
    const deadline = input.deadline === undefined ? undefined : Number(input.deadline);
    const deadlineRefused = deadline === undefined ? undefined : deadlineProblem(deadline, Math.floor(arrived / 1000));
    // The schema took a whole number: one outside the next 24 h is well formed but unusable (422).
    if (deadlineRefused) throw invalidParams([contentRefusal('deadline', deadlineRefused)]);
    const source = await usableSource(caller, sourceId);
    const from = source.request;
    // The caller's daily budget and concurrent-job limit, as on POST /v1/videos (a remix is a video like any other).
    const tier = tiers.get(caller.tier);
    await checkCreateLimits({ readModel, reply }, { id: caller.id, tier }, kind === 'extension' ? from.seconds + addSeconds : from.seconds);
    let videoRequest: VideoRequestedData = {
      video_id: `video_${randomBytes(16).toString('hex')}`,
      owner_id: caller.id,
      prompt,
      model: from.model,
      // An extension's seconds are the whole: the source's, then the new ones.
      seconds: kind === 'extension' ? from.seconds + addSeconds : from.seconds,
      size: from.size,
      style: from.style,
      camera: from.camera,
      seed: from.seed,
      // The source's cameos come along; the generation reserves each for the caller, so consent is asked again.
      cameo_ids: [...from.cameo_ids],
      publish: false,
      remixed_from_video_id: kind === 'remix' ? from.video_id : null,
      extended_from_video_id: kind === 'extension' ? from.video_id : null,
      // The source's backdrop comes along: a remix keeps its look, an extension continues its frames.
      has_input_reference: from.has_input_reference,
      priority: { tier: tier.name, weight: tier.gpuWeight },
      at: Math.floor(Date.now() / 1000),
    };
    if (key !== undefined) {
      // The same key as POST /v1/videos: one key, one video, whichever endpoint made it.
      const hash = createHash('sha256')
        .update(JSON.stringify([kind, sourceId, prompt, addSeconds]))
        .digest('hex');
      const claim = await idempotency.claim(caller.id, key, hash, videoRequest);
      if (claim.outcome === 'conflict') {
        throw idempotencyKeyReused(claim.record.videoId);
      }
      if (claim.outcome === 'replay') {
        videoRequest = claim.record.request;
        reply.header('idempotent-replayed', 'true');
      }
    }
    const videoId = videoRequest.video_id;
    // Copied before the workflow starts, so no chunk ever looks for it too early (a replay copies it again, the same).
    if (videoRequest.has_input_reference) await blobs.put(inputReferenceKey(videoId), await blobs.get(inputReferenceKey(from.video_id)));
    const due = deadlineAt(Math.floor(arrived / 1000), cancelAfter, deadline);
    await startGeneration(
      { workflows, config },
      { request: videoRequest, actor: caller.id, tier, ...(due !== undefined ? { deadlineAt: due } : {}) },
      request.log,
    );
    request.log.info({ videoId, kind, sourceId }, `video ${kind} requested`);
    // As create: wait a moment for the read model, else answer the request as the read model will show it.
    const video =
      (await poll(() => readModel.get(videoId), readModelWaitMs)) ?? videoFromState(evolve(initialVideoState, { type: 'VideoRequested', data: videoRequest }));
    return answerAfterWait({ readModel, closing: () => closing }, { request, reply }, { video, wait, arrivedMs: arrived });
  }

  app.post<{ Params: VideoIdParams; Body: RemixBody }>(
    '/v1/videos/:id/remix',
    {
      schema: {
        tags: ['videos'],
        summary: 'Remix a completed video',
        description:
          "A new video with `remixed_from_video_id`: the source's scene, seed, size, seconds, style, camera and cameos, changed by what the new prompt's words name. " +
          'Takes `Cancel-After` as POST /v1/videos does.',
        params: VideoIdParams,
        headers: IdempotencyHeaders,
        body: RemixBody,
        response: responses,
      },
    },
    async (request, reply) =>
      create(request, reply, { kind: 'remix', sourceId: request.params.id, prompt: request.body.prompt, deadline: request.body.deadline }),
  );

  app.post<{ Body: EditBody }>(
    '/v1/videos/edits',
    {
      preValidation: readVideoForm(['prompt', 'deadline']),
      preHandler: resolveVideoFile(readModel),
      schema: {
        tags: ['videos'],
        summary: 'Edit a completed video',
        description:
          'As a remix of the source: a new video with `remixed_from_video_id`, the same scene changed by the prompt. JSON names the source (`video.id`); ' +
          'multipart/form-data (what openai-python sends) carries it as the file `video`, an MP4 of this platform exactly as downloaded.',
        headers: IdempotencyHeaders,
        body: { content: { 'application/json': { schema: EditBody }, 'multipart/form-data': { schema: EditForm } } },
        response: formResponses,
      },
    },
    async (request, reply) =>
      create(request, reply, { kind: 'remix', sourceId: request.body.video.id, prompt: request.body.prompt, deadline: request.body.deadline }),
  );

  app.post<{ Body: ExtensionBody }>(
    '/v1/videos/extensions',
    {
      preValidation: readVideoForm(['prompt', 'seconds', 'deadline']),
      preHandler: resolveVideoFile(readModel),
      schema: {
        tags: ['videos'],
        summary: 'Extend a completed video',
        description:
          "A new video with `extended_from_video_id` that continues the source from its last frame (the model's carried state) for `seconds` more, stitched after it: its `seconds` is the total. " +
          'JSON names the source (`video.id`); multipart/form-data (what openai-python sends) carries it as the file `video`, an MP4 of this platform exactly as downloaded.',
        headers: IdempotencyHeaders,
        body: { content: { 'application/json': { schema: ExtensionBody }, 'multipart/form-data': { schema: ExtensionForm } } },
        response: formResponses,
      },
    },
    async (request, reply) =>
      create(request, reply, {
        kind: 'extension',
        sourceId: request.body.video.id,
        prompt: request.body.prompt,
        addSeconds: Number(request.body.seconds),
        deadline: request.body.deadline,
      }),
  );
};
