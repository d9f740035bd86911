// POST /v1/videos: a new video from a prompt (JSON or multipart, with an Idempotency-Key), as the OpenAI Videos API.
// The request is checked field by field (params.ts), its input_reference stored, generationWorkflow started with
// the video's stream name as its id, and the answer waits a moment for the read model.
import { randomBytes, randomInt } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { inputReferenceKey } from '../../domain/video/content';
import { evolve, initialVideoState, type VideoRequestedData } from '../../domain/video';
import { callerOf, problemResponse } from '../plugins/auth';
import { ProblemError, unprocessableResponse } from '../plugins/errors';
import { nowS, poll, startGeneration, videoFromState, type VideosContext } from './context';
import { readCreateRequest } from './createRequest';
import { idempotencyKeyOf, idempotencyKeyReused } from './idempotency';
import { parseCreateParams, requestHash } from './params';
import { createVideoBodies, IdempotencyHeaders, SEED_MAX, VideoObject } from './schemas';
import { answerAfterWait, MAX_PREFER_WAIT_S, preferredWait } from './wait';
import { cancelAfterSeconds, deadlineAt } from './cancelAfter';
import { checkCreateLimits } from './limits';

function newVideoId(): string {
  return `video_${randomBytes(16).toString('hex')}`;
}

/** Only JSON and multipart create videos; anything else (text, urlencoded, a body without a type) is 415. */
function checkCreateContentType(request: FastifyRequest): void {
  const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  const hasBody = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
  if (type === undefined || type === '') {
    if (!hasBody) return;
  } else if (type === 'application/json' || type === 'multipart/form-data') return;
  throw new ProblemError({
    status: 415,
    code: 'unsupported_media_type',
    detail: `Content-Type ${type ? `"${type}" ` : ''}is not accepted here: send application/json or multipart/form-data`,
    errors: [{ field: 'Content-Type', message: 'must be application/json or multipart/form-data' }],
  });
}

export const createVideoRoutes: FastifyPluginAsync<VideosContext> = async (app, context) => {
  const { blobs, readModel, idempotency, config, tiers, readModelWaitMs, loadStream, closing } = context;
  const createBodies = createVideoBodies(config.modelName);

  app.post(
    '/v1/videos',
    {
      bodyLimit: Math.ceil((config.inputReferenceMaxBytes * 4) / 3) + 256 * 1024,
      // One validator (api/videos/params.ts) checks JSON and multipart alike; the schemas below document the two forms.
      validatorCompiler: () => () => true,
      preParsing: async (request, _reply, payload) => {
        checkCreateContentType(request);
        return payload;
      },
      schema: {
        tags: ['videos'],
        summary: 'Create a video (a generation job)',
        description:
          'As the OpenAI Videos API: answers 200 with the Video, queued. JSON or multipart/form-data (what the SDKs send). ' +
          `With the header \`Prefer: wait=N\` (RFC 7240; N a whole number from 1 to ${MAX_PREFER_WAIT_S}) the answer is held until the video is completed, failed or cancelled, or N seconds have passed, and is the video as it then is, with \`Preference-Applied: wait=N\`; any other wait value is 400 naming Prefer. ` +
          '(Left out of the header schema on purpose: the fuzz run would hold every request it sends.) ' +
          'With `Cancel-After: <duration>` (whole seconds, or 45s / 5m / 1h30m; 1 s to 24 h) a job not done that long after the request is cancelled: ' +
          'it ends `cancelled` with error `deadline_exceeded`, and one still waiting never reaches a GPU; any other value is 400 naming Cancel-After.',
        headers: IdempotencyHeaders,
        body: { content: { 'application/json': { schema: createBodies.json }, 'multipart/form-data': { schema: createBodies.form } } },
        response: {
          200: VideoObject,
          400: problemResponse('A parameter is invalid; `errors` names each field, `error.param` the first'),
          409: problemResponse('The Idempotency-Key was used with another body (`idempotency_key_reused`)'),
          413: problemResponse('The input_reference image (or the form) is too large'),
          422: unprocessableResponse('input_reference is not a PNG or JPEG image, or deadline is in the past or more than 24 h ahead'),
          415: problemResponse('The body is neither JSON nor multipart/form-data'),
          429: problemResponse(
            "Too many of the caller's videos are still queued or in progress (`too_many_active_videos`, MAX_ACTIVE_VIDEOS_PER_USER), the day's budget of video seconds is spent (`daily_budget_exceeded`, DAILY_VIDEO_SECONDS_PER_USER), or too many requests (`rate_limit_exceeded`); `Retry-After` says when to try again",
          ),
          503: problemResponse('Temporal did not take the job; nothing was created unless the same Idempotency-Key is retried'),
        },
      },
    },
    async (request, reply) => {
      const arrived = Date.now();
      const caller = callerOf(request);
      const key = idempotencyKeyOf(request);
      // Checked before anything is read or created: a bad Prefer leaves nothing behind.
      const wait = preferredWait(request.headers.prefer);
      const cancelAfter = cancelAfterSeconds(request.headers['cancel-after']);
      const body = await readCreateRequest(request, { inputReferenceMaxBytes: config.inputReferenceMaxBytes });
      const params = parseCreateParams(body.raw, { modelName: config.modelName }, body.errors);
      // The caller's daily budget and concurrent-job limit, before anything is recorded (a refused create leaves nothing).
      const tier = tiers.get(caller.tier);
      await checkCreateLimits({ readModel, reply }, { id: caller.id, tier }, params.seconds);

      let videoRequest: VideoRequestedData = {
        video_id: newVideoId(),
        owner_id: caller.id,
        prompt: params.prompt,
        model: params.model,
        seconds: params.seconds,
        size: params.size,
        style: params.style,
        camera: params.camera,
        seed: params.seed ?? randomInt(0, SEED_MAX + 1),
        cameo_ids: params.cameo_ids,
        publish: params.publish,
        remixed_from_video_id: null,
        extended_from_video_id: null,
        has_input_reference: body.inputReference !== undefined,
        priority: { tier: tier.name, weight: tier.gpuWeight },
        at: nowS(),
      };
      let replayed = false;
      if (key !== undefined) {
        const claim = await idempotency.claim(caller.id, key, requestHash(params, body.inputReference), videoRequest);
        if (claim.outcome === 'conflict') {
          throw idempotencyKeyReused(claim.record.videoId);
        }
        if (claim.outcome === 'replay') {
          // The recorded request (its seed, its id) is the video; this attempt's random choices are dropped.
          videoRequest = claim.record.request;
          replayed = true;
        }
      }
      const videoId = videoRequest.video_id;
      request.log.info({ videoId, replayed }, replayed ? 'video request replayed' : 'video requested');

      // A replay whose video the workflow already recorded has nothing left to do. Otherwise (a first attempt, or
      // one that died before its workflow ran) the image goes in before the workflow starts, so nothing downstream
      // ever looks for it too early, and the start is idempotent by workflow id.
      const recorded = replayed ? await loadStream(videoId) : undefined;
      if (!recorded) {
        const inputKey = inputReferenceKey(videoId);
        if (body.inputReference && (!replayed || !(await blobs.exists(inputKey)))) await blobs.put(inputKey, body.inputReference);
        try {
          const deadline = deadlineAt(Math.floor(arrived / 1000), cancelAfter, params.deadline);
          await startGeneration(
            context,
            { request: videoRequest, actor: caller.id, tier, ...(deadline !== undefined ? { deadlineAt: deadline } : {}) },
            request.log,
          );
        } catch (err) {
          // Without a key nobody can resume this attempt: leave no orphaned upload behind.
          if (key === undefined && body.inputReference) await blobs.deletePrefix(`videos/${videoId}/`).catch(() => undefined);
          throw err;
        }
      }

      // Wait for the read model, so the client's next GET finds what this answer names; past the deadline, answer
      // what the stream says, or (nothing recorded yet) the request itself.
      const video =
        (await poll(() => readModel.get(videoId), readModelWaitMs)) ??
        videoFromState((await loadStream(videoId))?.state ?? evolve(initialVideoState, { type: 'VideoRequested', data: videoRequest }));
      if (replayed) reply.header('idempotent-replayed', 'true');
      return answerAfterWait({ readModel, closing }, { request, reply }, { video, wait, arrivedMs: arrived });
    },
  );
};
