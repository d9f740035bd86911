// Follows: POST and DELETE /v1/users/:id/follow record UserFollowed / UserUnfollowed on the caller's `user-<id>`
// stream. Two users who follow each other are mutuals, which the `mutuals` cameo permission rests on. An unfollow
// ends the mutual follow: the uses of either user's cameos by the other that rested on it, not yet published, are
// blocked by each cameo's decider (EndMutual), as narrowing the permission blocks them, and their videos stop.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { UserEvent } from '../../domain/cameo/events';
import { cameoStream, followeesEvolver, userStream } from '../../domain/cameo/follows';
import { endMutualUpdate } from '../../workflows/definitions';
import { commandHandler } from '../../infra/eventstore/commandHandler';
import { executeUpdateOrRefusal } from '../../infra/temporal/updates';
import { callerOf, problemResponse } from '../plugins/auth';
import { contentRefusal, invalidParams, ProblemError, unprocessableResponse } from '../plugins/errors';
import { nowS, type CameosContext } from './context';
import { poll } from '../videos/context';
import { FollowState, UserIdParams } from './schemas';

/** How long a follow or unfollow waits for the follows read model to show it. */
const FOLLOWS_READ_WAIT_MS = 2000;

export const followRoutes: FastifyPluginAsync<CameosContext> = async (app, context) => {
  const { eventStore, users, follows, workflows } = context;
  const handleFollows = commandHandler(eventStore, followeesEvolver);

  /** Records a follow or an unfollow on the caller's stream, unless it already holds: repeating one records nothing. */
  async function setFollowing(request: FastifyRequest<{ Params: UserIdParams }>, following: boolean): Promise<FollowState> {
    const caller = callerOf(request);
    const followee = request.params.id;
    if (followee === caller.id) throw invalidParams([contentRefusal('id', 'is you: you cannot follow yourself')]);
    if (!(await users.findById(followee))) throw new ProblemError({ status: 404, code: 'user_not_found', detail: `no user ${followee}` });
    const type = following ? 'UserFollowed' : 'UserUnfollowed';
    // A retried unfollow (nothing new to record) ends the mutual follow's uses again: blocking is idempotent.
    // At the revision read: a follow or unfollow by the same user meanwhile means read and decide again.
    const { newEvents } = await handleFollows(
      userStream(caller.id),
      ({ state }): UserEvent[] => (state.has(followee) === following ? [] : [{ type, data: { followee_id: followee, at: nowS() } }]),
      { metadata: { actor: caller.id, requestId: request.id } },
    );
    if (newEvents.length > 0) request.log.info({ followee }, following ? 'user followed' : 'user unfollowed');
    // Read-your-writes: the caller's next feed with following=true reads the follows read model, so wait (a moment at
    // most) for it to show this change.
    await poll(async () => ((await follows.isFollowing(caller.id, followee)) === following ? true : undefined), FOLLOWS_READ_WAIT_MS);
    if (!following) await endMutualUses(request, caller.id, followee);
    return { following };
  }

  /**
   * The uses that rested on the mutual follow of `by` and `other`, found in the follows and appearances read models
   * (a use reserved a moment ago that they do not show yet is caught by the consent check before its video completes),
   * each blocked by its cameo's decider. A cameo deleted meanwhile has nothing left to block.
   */
  async function endMutualUses(request: FastifyRequest, by: string, other: string): Promise<void> {
    const uses = await follows.usesOnMutualFollow(by, other);
    const reason = `the mutual follow it rested on ended: ${by} unfollowed ${other}`;
    for (const use of uses) {
      const outcome = await executeUpdateOrRefusal(workflows.getHandle(cameoStream(use.cameo_id)), endMutualUpdate, [{ by, user_id: use.user_id, reason }]);
      if (outcome.ok) {
        if (outcome.result.blocked_video_ids.length > 0)
          request.log.info({ cameoId: use.cameo_id, videos: outcome.result.blocked_video_ids }, 'uses resting on a mutual follow blocked');
      } else if (outcome.code !== 'deleted' && outcome.code !== 'not_running' && outcome.code !== 'not_found') {
        request.log.error({ cameoId: use.cameo_id, code: outcome.code, message: outcome.message }, 'uses resting on a mutual follow not blocked');
        throw new ProblemError({
          status: 503,
          code: 'temporal_unavailable',
          detail: `the unfollow is recorded, but the uses of cameo ${use.cameo_id} that rested on the mutual follow could not be blocked yet: retry the DELETE`,
        });
      }
    }
  }

  const followResponses = {
    200: FollowState,
    422: unprocessableResponse('the user is the caller'),
    404: problemResponse('No such user (`user_not_found`)'),
  };

  app.post<{ Params: UserIdParams }>(
    '/v1/users/:id/follow',
    {
      schema: {
        tags: ['users'],
        summary: 'Follow a user (idempotent)',
        description: 'Two users who follow each other are mutuals, which a cameo permission may rest on.',
        params: UserIdParams,
        response: followResponses,
      },
    },
    async (request) => setFollowing(request, true),
  );

  app.delete<{ Params: UserIdParams }>(
    '/v1/users/:id/follow',
    { schema: { tags: ['users'], summary: 'Stop following a user (idempotent)', params: UserIdParams, response: followResponses } },
    async (request) => setFollowing(request, false),
  );
};
