// A user's limits on making videos, checked by every route that starts a generation (create, remix, edit, extension)
// before anything is recorded: their tier's daily budget of video seconds (UTC days) and concurrent-job limit (the
// default tier's: DAILY_VIDEO_SECONDS_PER_USER and MAX_ACTIVE_VIDEOS_PER_USER). Past either, 429 with Retry-After. Both read the videos read model
// (the events folded by the projector: the same on every replica, kept across restarts); simultaneous creates may pass
// a limit by a few, as the read model sees a new video a moment after its create.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { callerOf } from '../plugins/auth';
import { ProblemError } from '../plugins/errors';
import type { Tier } from '../../infra/tiers';
import { nowS, type VideosContext } from './context';
import type { VideoReadModel } from './readModel';

/** The start of the UTC day `now` (Unix seconds) falls in: when the daily budgets renew. */
const utcDayStart = (now: number): number => now - (now % 86400);

/** What a create refused for the concurrent-job limit suggests waiting: about a short video's render. */
const ACTIVE_LIMIT_RETRY_AFTER_S = 10;

export async function checkCreateLimits(
  deps: { readModel: VideoReadModel; reply: FastifyReply },
  caller: { id: string; tier: Tier },
  seconds: number,
): Promise<void> {
  const { readModel, reply } = deps;
  const { tier } = caller;
  const callerId = caller.id;
  if (tier.dailyVideoSeconds) {
    const now = nowS();
    const dayStart = utcDayStart(now);
    const used = await readModel.secondsSince(callerId, dayStart);
    if (used + seconds > tier.dailyVideoSeconds) {
      const retryAfter = dayStart + 86400 - now;
      reply.header('retry-after', String(retryAfter));
      throw new ProblemError({
        status: 429,
        code: 'daily_budget_exceeded',
        detail: `this ${seconds} s video would bring today's total to ${used + seconds} s, past the daily budget of your tier "${tier.name}", ${tier.dailyVideoSeconds} s; it renews at 00:00 UTC, in ${retryAfter} s`,
      });
    }
  }
  if (tier.maxActiveVideos) {
    const active = await readModel.countActive(callerId);
    if (active >= tier.maxActiveVideos) {
      reply.header('retry-after', String(ACTIVE_LIMIT_RETRY_AFTER_S));
      throw new ProblemError({
        status: 429,
        code: 'too_many_active_videos',
        detail: `${active} of your videos are still queued or in progress, the most at once for your tier "${tier.name}" (${tier.maxActiveVideos}); try again when one has finished`,
      });
    }
  }
}

const Limit = (description: string) => Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: `${description}; null: no limit` });

export const UsageObject = Type.Object(
  {
    object: Type.Literal('usage'),
    tier: Type.String({ description: "The caller's tier" }),
    limits: Type.Object({
      requests_per_window: Limit('Requests to /v1 per rate-limit window (the window is in the RateLimit-Policy header)'),
      max_active_videos: Limit('Videos queued or in progress at once'),
      daily_video_seconds: Limit('Seconds of video per UTC day'),
      gpu_weight: Type.Integer({ minimum: 1, description: 'The tier\'s share of the GPUs against other tiers\' (docs/api.md, "Tiers and priority")' }),
    }),
    active_videos: Type.Integer({ minimum: 0, description: "The caller's videos queued or in progress now" }),
    video_seconds_today: Type.Integer({ minimum: 0, description: 'Seconds of video asked for since 00:00 UTC (failed videos left out)' }),
    day_resets_at: Type.Integer({ description: 'Unix seconds of the next 00:00 UTC, when the daily budget renews' }),
  },
  { title: 'Usage' },
);
export type UsageObject = Static<typeof UsageObject>;

/** GET /v1/usage: the caller's tier, its limits, and what they have used of them (the same counts the limits check). */
export const usageRoutes: FastifyPluginAsync<VideosContext> = async (app, context) => {
  const { readModel, tiers } = context;
  app.get(
    '/v1/usage',
    {
      schema: {
        tags: ['videos'],
        summary: "The caller's tier, its limits, and their use of them today",
        response: { 200: UsageObject },
      },
    },
    async (request): Promise<UsageObject> => {
      const caller = callerOf(request);
      const tier = tiers.get(caller.tier);
      const dayStart = utcDayStart(nowS());
      const [active, today] = await Promise.all([readModel.countActive(caller.id), readModel.secondsSince(caller.id, dayStart)]);
      const limit = (n: number) => (n === 0 ? null : n);
      return {
        object: 'usage',
        tier: tier.name,
        limits: {
          requests_per_window: limit(tier.rateLimitRequests),
          max_active_videos: limit(tier.maxActiveVideos),
          daily_video_seconds: limit(tier.dailyVideoSeconds),
          gpu_weight: tier.gpuWeight,
        },
        active_videos: active,
        video_seconds_today: today,
        day_resets_at: dayStart + 86400,
      };
    },
  );
};
