// Remixes, edits and extensions: a new video from a completed one. A remix (or an edit) keeps the source's scene and
// seed and changes what its prompt's words name; an extension continues the source from its last frame and is
// stitched after it. Both run generationWorkflow like any video (prompt moderation, cameo consent for the caller).
import { createHash, randomBytes } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { inputReferenceKey } from '../../domain/video/content';
import { evolve, initialVideoState, isContentExpired, type VideoRequestedData, type VideoState } from '../../domain/video';
import { readVideo } from '../../infra/streams/videos';
import type { User } from '../../infra/users/port';
import type { generationWorkflow } from '../../workflows/generation';
import { callerOf, mayAccess, problemResponse } from '../plugins/auth';
import { ProblemError } from '../plugins/errors';
import { idempotencyKeyOf, idempotencyKeyReused } from '../videos/idempotency';
import { IdempotencyHeaders, PromptText, VIDEO_ID, VideoIdParams, VideoObject } from '../videos/schemas';
import { ONE_SOURCE, readVideoForm, resolveVideoFile, VIDEO_ID_FIELD, VideoFilePart, VideoIdPart } from '../videos/videoFile';
import { cancelAfterSeconds } from '../videos/cancelAfter';
import { generationOptions, videoExpired, videoFromState, type VideosRoutesOptions } from '../videos/context';
import { checkCreateLimits } from '../videos/limits';

const MAX_EXTENSION_S = 20;

const Prompt = PromptText('What to change (remix, edit) or what happens next (extension)');
const SourceRef = Type.Object({ id: Type.String({ description: 'The completed source video, `video_...`' }) }, { additionalProperties: false });
const ExtensionSeconds = { pattern: '^(?:[1-9]|1[0-9]|20)$', description: 'Seconds to add, 1..20; the new video lasts the source plus these' };

const RemixBody = Type.Object({ prompt: Prompt }, { additionalProperties: false });
type RemixBody = Static<typeof RemixBody>;
const EditBody = Type.Object({ prompt: Prompt, video: SourceRef }, { additionalProperties: false });
type EditBody = Static<typeof EditBody>;
const ExtensionBody = Type.Object(
  {
    prompt: Prompt,
    seconds: Type.Union([Type.Integer({ minimum: 1, maximum: MAX_EXTENSION_S }), Type.String({ pattern: ExtensionSeconds.pattern })], {
      description: 'Seconds to add, 1..20 (a number or a numeric string); the new video lasts the source plus these',
    }),
    video: SourceRef,
  },
  { additionalProperties: false },
);
type ExtensionBody = Static<typeof ExtensionBody>;
// The same requests as multipart/form-data, as openai-python sends them: the source is the video file itself.
// The source is the file `video` (openai-python), or `video[id]` (the openai Node SDK's encoding of `video: {id}`).
const EditForm = Type.Object(
  { prompt: Prompt, video: Type.Optional(VideoFilePart), [VIDEO_ID_FIELD]: Type.Optional(VideoIdPart) },
  { title: 'EditVideoForm', additionalProperties: false, ...ONE_SOURCE },
);
const ExtensionForm = Type.Object(
  { prompt: Prompt, seconds: Type.String(ExtensionSeconds), video: Type.Optional(VideoFilePart), [VIDEO_ID_FIELD]: Type.Optional(VideoIdPart) },
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
    'The video file is not an MP4 of this platform that the caller may use (`unknown_video_file`), or not the video `video[id]` names (`video_file_mismatch`)',
  ),
};

type Kind = 'remix' | 'extension';

export const remixRoutes: FastifyPluginAsync<VideosRoutesOptions> = async (app, options) => {
  const { eventStore, blobs, readModel, idempotency, config } = options;
  const workflows = options.temporal.client.workflow;
  const readModelWaitMs = config.readModelWaitMs ?? 2000;

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

  async function create(request: FastifyRequest, reply: FastifyReply, kind: Kind, sourceId: string, prompt: string, addSeconds = 0): Promise<VideoObject> {
    const caller = callerOf(request);
    const key = idempotencyKeyOf(request);
    // Checked before anything is read or created, as on POST /v1/videos.
    const cancelAfter = cancelAfterSeconds(request.headers['cancel-after']);
    const source = await usableSource(caller, sourceId);
    const from = source.request;
    // The caller's daily budget and concurrent-job limit, as on POST /v1/videos (a remix is a video like any other).
    await checkCreateLimits({ readModel, config, reply }, caller.id, kind === 'extension' ? from.seconds + addSeconds : from.seconds);
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
    try {
      await workflows.start<typeof generationWorkflow>('generationWorkflow', {
        taskQueue: config.taskQueue,
        workflowId: `video-${videoId}`,
        args: [
          {
            request: videoRequest,
            actor: caller.id,
            ...generationOptions(config),
            ...(cancelAfter !== undefined ? { deadlineAt: Math.floor(Date.now() / 1000) + cancelAfter } : {}),
          },
        ],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
        request.log.error({ err, videoId }, 'generationWorkflow not started');
        throw new ProblemError({ status: 503, code: 'temporal_unavailable', detail: 'the video could not be queued; retry' });
      }
    }
    request.log.info({ videoId, kind, sourceId }, `video ${kind} requested`);
    // As create: wait a moment for the read model, else answer the request as the read model will show it.
    const deadline = Date.now() + readModelWaitMs;
    for (;;) {
      const video = await readModel.get(videoId);
      if (video) return video;
      if (Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return videoFromState(evolve(initialVideoState, { type: 'VideoRequested', data: videoRequest }));
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
    async (request, reply) => create(request, reply, 'remix', request.params.id, request.body.prompt),
  );

  app.post<{ Body: EditBody }>(
    '/v1/videos/edits',
    {
      preValidation: readVideoForm(['prompt']),
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
    async (request, reply) => create(request, reply, 'remix', request.body.video.id, request.body.prompt),
  );

  app.post<{ Body: ExtensionBody }>(
    '/v1/videos/extensions',
    {
      preValidation: readVideoForm(['prompt', 'seconds']),
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
    async (request, reply) => create(request, reply, 'extension', request.body.video.id, request.body.prompt, Number(request.body.seconds)),
  );
};
