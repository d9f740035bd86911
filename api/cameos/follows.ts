// Follows: POST and DELETE /v1/users/:id/follow record UserFollowed / UserUnfollowed on the caller's `user-<id>`
// stream. Two users who follow each other are mutuals, which the `mutuals` cameo permission rests on.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { UserEvent } from '../../domain/cameo/events';
import { followeesEvolver, userStream } from '../../domain/cameo/follows';
import { commandHandler } from '../../infra/eventstore/commandHandler';
import { callerOf, problemResponse } from '../plugins/auth';
import { contentRefusal, invalidParams, ProblemError, unprocessableResponse } from '../plugins/errors';
import { nowS, type CameosContext } from './context';
import { FollowState, UserIdParams } from './schemas';

export const followRoutes: FastifyPluginAsync<CameosContext> = async (app, context) => {
  const { eventStore, users } = context;
  const handleFollows = commandHandler(eventStore, followeesEvolver);

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
