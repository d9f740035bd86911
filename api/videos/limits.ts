// A user's limits on making videos, checked by every route that starts a generation (create, remix, edit, extension)
// before anything is recorded: the daily budget of video seconds (DAILY_VIDEO_SECONDS_PER_USER, UTC days) and the
// concurrent-job limit (MAX_ACTIVE_VIDEOS_PER_USER). Past either, 429 with Retry-After. Both read the videos read model
// (the events folded by the projector: the same on every replica, kept across restarts); simultaneous creates may pass
// a limit by a few, as the read model sees a new video a moment after its create.
import type { FastifyReply } from 'fastify';
import { ProblemError } from '../plugins/errors';
import { nowS, type VideosConfig } from './context';
import type { VideoReadModel } from './readModel';

/** What a create refused for the concurrent-job limit suggests waiting: about a short video's render. */
const ACTIVE_LIMIT_RETRY_AFTER_S = 10;

export async function checkCreateLimits(
  deps: { readModel: VideoReadModel; config: Pick<VideosConfig, 'dailyVideoSeconds' | 'maxActiveVideos'>; reply: FastifyReply },
  callerId: string,
  seconds: number,
): Promise<void> {
  const { readModel, config, reply } = deps;
  if (config.dailyVideoSeconds) {
    const now = nowS();
    const dayStart = now - (now % 86400);
    const used = await readModel.secondsSince(callerId, dayStart);
    if (used + seconds > config.dailyVideoSeconds) {
      const retryAfter = dayStart + 86400 - now;
      reply.header('retry-after', String(retryAfter));
      throw new ProblemError({
        status: 429,
        code: 'daily_budget_exceeded',
        detail: `this ${seconds} s video would bring today's total to ${used + seconds} s, past your daily budget of ${config.dailyVideoSeconds} s (DAILY_VIDEO_SECONDS_PER_USER); it renews at 00:00 UTC, in ${retryAfter} s`,
      });
    }
  }
  if (config.maxActiveVideos) {
    const active = await readModel.countActive(callerId);
    if (active >= config.maxActiveVideos) {
      reply.header('retry-after', String(ACTIVE_LIMIT_RETRY_AFTER_S));
      throw new ProblemError({
        status: 429,
        code: 'too_many_active_videos',
        detail: `${active} of your videos are still queued or in progress, the most at once (MAX_ACTIVE_VIDEOS_PER_USER is ${config.maxActiveVideos}); try again when one has finished`,
      });
    }
  }
}
