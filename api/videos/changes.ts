// Changing a video, by its owner: cancel a generation, delete the video (cancelling it first if it still runs), publish
// it to the feed (publishWorkflow re-checks consent). The owner of a cameo in someone else's video may take it down
// (DELETE, answered as a deletion). Each decides on the video's stream, never on the read model.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { decide, isContentExpired, isFinished, VideoCommandRefused, videoEvolver, type VideoState } from '../../domain/video';
import { commandHandler } from '../../infra/eventstore/commandHandler';
import { readCameo } from '../../infra/streams/cameos';
import type { User } from '../../infra/users/port';
import type { publishWorkflow } from '../../workflows/publish';
import type { takedownWorkflow } from '../../workflows/takedown';
import { callerOf, problemResponse } from '../plugins/auth';
import { ProblemError } from '../plugins/errors';
import { errorResponses, isOwnedBy, nowS, poll, resultWithin, streamOf, videoExpired, videoNotFound, type VideosContext } from './context';
import { DeletedVideo, VideoIdParams, VideoObject } from './schemas';

const publishWorkflowId = (videoId: string) => `publish-${videoId}`;

export const videoChangeRoutes: FastifyPluginAsync<VideosContext> = async (app, context) => {
  const { eventStore, blobs, readModel, config, workflows, readModelWaitMs, cancelWaitMs, publishWaitMs, loadStream, ownedState, currentVideo } = context;
  const handleVideo = commandHandler(eventStore, videoEvolver);

  /** Asks the generation workflow to stop; false when it had already closed. */
  async function cancelWorkflow(videoId: string): Promise<boolean> {
    try {
      await workflows.getHandle(streamOf(videoId)).cancel();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  app.post<{ Params: VideoIdParams }>(
    '/v1/videos/:id/cancel',
    {
      schema: {
        tags: ['videos'],
        summary: 'Cancel a video being generated',
        description: 'Accepted: the job stops at its next step and records VideoCancelled; follow it with GET or the stream.',
        params: VideoIdParams,
        response: { 202: VideoObject, ...errorResponses, 409: problemResponse('The video already finished (`video_finished`)') },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const { id } = request.params;
      const { state } = await ownedState(caller, id);
      const finished = () =>
        new ProblemError({ status: 409, code: 'video_finished', detail: `video ${id} is already ${state.status}; there is nothing to cancel` });
      if (isFinished(state)) throw finished();
      if (!(await cancelWorkflow(id))) {
        // The workflow closed between the read and the request: it finished on its own.
        const now = await loadStream(id);
        if (!now || isFinished(now.state)) throw finished();
      }
      request.log.info({ videoId: id }, 'video cancellation requested');
      reply.status(202);
      return currentVideo(id, state);
    },
  );

  /** When the caller does not own the video but owns a cameo it asked for or reserved: that cameo's id and the state. */
  async function cameoOwnedIn(caller: User, videoId: string): Promise<{ cameoId: string; state: VideoState } | undefined> {
    const loaded = await loadStream(videoId);
    const request = loaded?.state.request;
    if (!loaded || !request || loaded.state.deleted || request.owner_id === caller.id) return undefined;
    const state = loaded.state;
    const cameoIds = new Set([...request.cameo_ids, ...(state.cameoReservations ?? []).map((r) => r.cameo_id), ...state.cameoUses.map((u) => u.cameo_id)]);
    for (const cameoId of cameoIds) {
      if ((await readCameo(eventStore, cameoId)).ownerId === caller.id) return { cameoId, state };
    }
    return undefined;
  }

  /** takedownWorkflow for the owner of a cameo in the video, awaited; answered as a deletion (API.md). */
  async function takeDown(request: FastifyRequest, state: VideoState, videoId: string, cameoId: string) {
    const caller = callerOf(request);
    if (!isFinished(state)) {
      throw new ProblemError({
        status: 409,
        code: 'video_not_finished',
        detail: `video ${videoId} is still being generated: it can be taken down once it has finished (revoking its use of cameo ${cameoId}, or deleting the cameo, stops it now)`,
      });
    }
    if (state.visibility !== 'taken_down') {
      const handle = await workflows.start<typeof takedownWorkflow>('takedownWorkflow', {
        taskQueue: config.taskQueue,
        workflowId: `takedown-${videoId}-${cameoId}`,
        args: [{ videoId, by: caller.id, reason: `the owner of cameo ${cameoId} asked for the video to be taken down` }],
        // Taking down is idempotent: a later request runs again (and records nothing), one running now is joined.
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
      await awaitChange(
        handle,
        publishWaitMs,
        { code: 'takedown_pending', detail: `taking down video ${videoId} is taking longer than ${publishWaitMs} ms; it goes on` },
        (err) => new ProblemError({ status: 409, code: 'takedown_refused', detail: `video ${videoId} could not be taken down: ${failureMessage(err)}` }),
      );
      request.log.info({ videoId, cameoId }, 'video taken down by the owner of a cameo in it');
    }
    // Answered once the read model no longer offers it to others, so the feed and GETs right after agree.
    await poll(async () => {
      const video = await readModel.get(videoId);
      return !video || video.visibility === 'taken_down' ? true : undefined;
    }, readModelWaitMs);
    return { id: videoId, object: 'video.deleted' as const, deleted: true as const };
  }

  app.delete<{ Params: VideoIdParams }>(
    '/v1/videos/:id',
    {
      schema: {
        tags: ['videos'],
        summary: 'Delete a video and its files, or take it down',
        description:
          "By its owner: a video still being generated is cancelled first; its events stay as the record. By the owner of a cameo in it: the finished video is taken down (off the feed, out of others' reach).",
        params: VideoIdParams,
        response: {
          200: DeletedVideo,
          ...errorResponses,
          409: problemResponse(
            'The generation did not stop in time (`video_busy`); retry. Or, for a cameo owner, the video is still being generated (`video_not_finished`)',
          ),
          504: problemResponse('Taking the video down did not finish in time; it goes on'),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { id } = request.params;
      // Not the video's owner, but the owner of a cameo in it: the video is taken down, not deleted.
      const asCameoOwner = await cameoOwnedIn(caller, id);
      if (asCameoOwner) return takeDown(request, asCameoOwner.state, id, asCameoOwner.cameoId);
      let loaded = await ownedState(caller, id);
      if (!isFinished(loaded.state)) {
        await cancelWorkflow(id);
        // The decider refuses to delete a running job: wait for the workflow to record its cancellation.
        loaded =
          (await poll(async () => {
            const now = await loadStream(id);
            return now && isFinished(now.state) ? now : undefined;
          }, cancelWaitMs)) ?? loaded;
        if (!isFinished(loaded.state)) {
          throw new ProblemError({ status: 409, code: 'video_busy', detail: `video ${id} is still stopping its generation; retry in a moment` });
        }
      }
      // At the revision read: a concurrent change (a late event, another delete) makes the append fail, then we decide again.
      await handleVideo(
        streamOf(id),
        ({ state }) => {
          // As read now: still there and the caller's (what ownedState checked), or 404.
          if (!isOwnedBy(state, caller)) throw videoNotFound(id);
          try {
            return decide({ type: 'DeleteVideo', data: { by: caller.id, at: nowS() } }, state);
          } catch (err) {
            if (err instanceof VideoCommandRefused) throw new ProblemError({ status: 409, code: 'video_busy', detail: err.message });
            throw err;
          }
        },
        { metadata: { actor: caller.id, correlationId: id, causationId: 'DeleteVideo', requestId: request.id }, maxAttempts: 3 },
      );
      const removed = await blobs.deletePrefix(`videos/${id}/`);
      request.log.info({ videoId: id, blobsRemoved: removed }, 'video deleted');
      // Answered once the read model no longer shows it, so a GET right after is a 404.
      await poll(async () => ((await readModel.get(id)) ? undefined : true), readModelWaitMs);
      return { id, object: 'video.deleted' as const, deleted: true as const };
    },
  );

  app.post<{ Params: VideoIdParams }>(
    '/v1/videos/:id/publish',
    {
      schema: {
        tags: ['videos'],
        summary: 'Publish a completed video to the feed',
        description: 'By its owner; runs publishWorkflow, which re-checks consent for every cameo at this moment.',
        params: VideoIdParams,
        response: {
          200: VideoObject,
          ...errorResponses,
          409: problemResponse(
            'The video is not completed (`video_not_completed`), was taken down, or a cameo in it is no longer covered by consent (`consent_revoked`, `consent_missing`)',
          ),
          410: problemResponse('The content expired (`video_expired`) before it was published: there is nothing to put on the feed'),
          504: problemResponse('Publishing did not finish in time; it goes on'),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { id } = request.params;
      const { state } = await ownedState(caller, id);
      if (state.status !== 'completed') {
        throw new ProblemError({ status: 409, code: 'video_not_completed', detail: `only a completed video can be published; video ${id} is ${state.status}` });
      }
      if (state.visibility === 'taken_down') throw new ProblemError({ status: 409, code: 'video_taken_down', detail: `video ${id} was taken down` });
      if (state.visibility !== 'published' && isContentExpired(state, nowS())) throw videoExpired(id, state.expiresAt ?? null);
      if (state.visibility !== 'published') {
        const handle = await workflows.start<typeof publishWorkflow>('publishWorkflow', {
          taskQueue: config.taskQueue,
          workflowId: publishWorkflowId(id),
          args: [{ videoId: id, actor: caller.id }],
          // A later attempt (after a failed one, or an unpublish to come) may run again; one running now is joined.
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
        await awaitChange(
          handle,
          publishWaitMs,
          { code: 'publish_pending', detail: `publishing video ${id} is taking longer than ${publishWaitMs} ms; it goes on` },
          (err) => {
            // A cameo use no longer covered by consent answers with the consent code itself.
            const type = err.cause instanceof ApplicationFailure ? err.cause.type : undefined;
            // Retention expired it while publishing was being decided.
            if (type === 'video_expired') return videoExpired(id, null);
            const code = type === 'consent_revoked' || type === 'consent_missing' ? type : 'publish_refused';
            return new ProblemError({ status: 409, code, detail: `video ${id} could not be published: ${failureMessage(err)}` });
          },
        );
        request.log.info({ videoId: id }, 'video published');
      }
      const video = await poll(async () => {
        const v = await readModel.get(id);
        return v?.visibility === 'published' ? v : undefined;
      }, readModelWaitMs);
      // The stream says published even if the read model is slow: answer what is true.
      return video ?? { ...(await currentVideo(id, state)), visibility: 'published' as const };
    },
  );
};

/**
 * Waits for a workflow that changes a video (publish, take down) for up to `waitMs`: 504 with `pending` when it takes
 * longer (it goes on), the problem `refused` makes of it when it fails.
 */
async function awaitChange(
  handle: { result(): Promise<unknown> },
  waitMs: number,
  pending: { code: string; detail: string },
  refused: (err: WorkflowFailedError) => ProblemError,
): Promise<void> {
  try {
    await resultWithin(handle, waitMs, () => new ProblemError({ status: 504, ...pending }));
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw refused(err);
    throw err;
  }
}

/** What a failed workflow says went wrong: its cause's message, else its own. */
function failureMessage(err: WorkflowFailedError): string {
  return (err.cause as Error | undefined)?.message ?? err.message;
}
