// Engagement and discovery (API.md): likes (VideoLiked / VideoUnliked appended to the video's stream by the API
// itself), a video's lineage, and the feed. Reads come from the feed, lineage and videos read models.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { decide, VideoCommandRefused, videoEvolver, type VideoCommand } from '../../domain/video';
import { commandHandler } from '../../infra/eventstore/commandHandler';
import type { EventStore } from '../../infra/eventstore/port';
import {
  createFeedQuery,
  createLineageQuery,
  FEED_SCORE_FORMULA,
  FeedCursorExpired,
  InvalidFeedCursor,
  type FollowsQuery,
  type SqlClient,
} from '../../projections/queries';
import { callerOf, hasRole, mayAccess, problemResponse } from '../plugins/auth';
import { contentRefusal, invalidParams, ProblemError, unprocessableResponse } from '../plugins/errors';
import type { VideoReadModel } from '../videos/readModel';
import { VIDEO_ID, VideoIdParams, VideoObject } from '../videos/schemas';

export interface EngagementRoutesOptions {
  eventStore: EventStore;
  /** The read models' database and schema (the projector's default `readmodels`; tests use their own). */
  db: SqlClient;
  schema?: string;
  /** The videos read model, for who may see a video (as GET /v1/videos/:id decides). */
  readModel: VideoReadModel;
  /** The clock, Unix seconds (tests). */
  nowS?: () => number;
  /** Whom a caller follows (the follows read model), for following=true. */
  follows: Pick<FollowsQuery, 'followees'>;
  /** FEED_CURSOR_TTL_SECONDS: how long a walk's cursors live from its first page; default an hour. */
  feedCursorTtlSeconds?: number;
}

const APPEND_ATTEMPTS = 4;

const LikeState = Type.Object(
  { id: Type.String(), object: Type.Literal('video.like'), liked: Type.Boolean(), likes: Type.Integer({ minimum: 0 }) },
  { title: 'VideoLike' },
);
const LineageEntry = Type.Object(
  { id: Type.String(), owner_id: Type.String(), prompt: Type.String(), created_at: Type.Integer({ description: 'Unix seconds' }) },
  { title: 'LineageEntry' },
);
const LineageObject = Type.Object(
  {
    ancestors: Type.Array(LineageEntry, { description: 'Nearest first: the parent, its parent, ... the root last' }),
    children: Type.Array(LineageEntry, { description: 'Direct remixes and extensions, oldest first' }),
  },
  { title: 'Lineage' },
);
const FeedQuerystring = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 600, description: 'The `last_id` of the previous page (an opaque cursor)' })),
  following: Type.Optional(Type.Boolean({ default: false, description: 'Only videos of users the caller follows' })),
});
type FeedQuerystring = Static<typeof FeedQuerystring>;
const FeedList = Type.Object(
  {
    object: Type.Literal('list'),
    data: Type.Array(VideoObject),
    last_id: Type.Union([Type.String({ description: 'Pass it as `after` for the next page' }), Type.Null()]),
    has_more: Type.Boolean(),
  },
  { title: 'FeedList' },
);

const notFound = (id: string) => new ProblemError({ status: 404, code: 'video_not_found', detail: `no video ${id}` });
const errorResponses = { 404: problemResponse('No such video, or one the caller may not see') };

export const engagementRoutes: FastifyPluginAsync<EngagementRoutesOptions> = async (app, options) => {
  const { eventStore, readModel } = options;
  const nowS = options.nowS ?? (() => Math.floor(Date.now() / 1000));
  const feed = createFeedQuery(options.db, {
    schema: options.schema,
    ...(options.feedCursorTtlSeconds !== undefined ? { cursorTtlSeconds: options.feedCursorTtlSeconds } : {}),
  });
  const lineage = createLineageQuery(options.db, { schema: options.schema });

  const handleVideo = commandHandler(eventStore, videoEvolver);

  /** Read, fold, decide, append at the revision read; a concurrent append (a view batch, another like) means read again. */
  async function setLiked(request: FastifyRequest<{ Params: VideoIdParams }>, liked: boolean) {
    const caller = callerOf(request);
    const { id } = request.params;
    if (!VIDEO_ID.test(id)) throw notFound(id);
    const causationId = liked ? 'LikeVideo' : 'UnlikeVideo';
    const { newEvents, newState } = await handleVideo(
      `video-${id}`,
      ({ state }) => {
        // Only a video the caller may see: published, or their own.
        if (!state.request || state.deleted || (state.visibility !== 'published' && state.request.owner_id !== caller.id)) throw notFound(id);
        const command: VideoCommand = liked
          ? { type: 'LikeVideo', data: { user_id: caller.id, at: nowS() } }
          : { type: 'UnlikeVideo', data: { user_id: caller.id, at: nowS() } };
        try {
          return decide(command, state);
        } catch (err) {
          if (err instanceof VideoCommandRefused) throw new ProblemError({ status: 409, code: 'video_not_likeable', detail: err.message });
          throw err;
        }
      },
      { metadata: { actor: caller.id, correlationId: id, causationId, requestId: request.id }, maxAttempts: APPEND_ATTEMPTS },
    );
    if (newEvents.length > 0) request.log.info({ videoId: id, liked }, liked ? 'video liked' : 'video unliked');
    return { id, object: 'video.like' as const, liked, likes: newState.likes ?? 0 };
  }

  const likeResponses = {
    200: LikeState,
    ...errorResponses,
    409: problemResponse('The video is not completed, was taken down or deleted (`video_not_likeable`)'),
  };
  app.post<{ Params: VideoIdParams }>(
    '/v1/videos/:id/likes',
    { schema: { tags: ['videos'], summary: 'Like a video (idempotent: a second like changes nothing)', params: VideoIdParams, response: likeResponses } },
    async (request) => setLiked(request, true),
  );
  app.delete<{ Params: VideoIdParams }>(
    '/v1/videos/:id/likes',
    { schema: { tags: ['videos'], summary: 'Take back a like (idempotent)', params: VideoIdParams, response: likeResponses } },
    async (request) => setLiked(request, false),
  );

  app.get<{ Params: VideoIdParams }>(
    '/v1/videos/:id/lineage',
    {
      schema: {
        tags: ['videos'],
        summary: "A video's remix and extension lineage",
        description:
          '`ancestors`: the parent first, the root last. `children`: direct remixes and extensions, oldest first. Videos the caller may not see are left out.',
        params: VideoIdParams,
        response: { 200: LineageObject, ...errorResponses },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { id } = request.params;
      const video = VIDEO_ID.test(id) ? await readModel.get(id) : undefined;
      if (!video || !(mayAccess(caller, video.owner_id, 'admin', 'auditor') || video.visibility === 'published')) throw notFound(id);
      return lineage.lineage(id, { userId: caller.id, seesAll: hasRole(caller, 'admin', 'auditor') });
    },
  );

  app.get<{ Querystring: FeedQuerystring }>(
    '/v1/feed',
    {
      schema: {
        tags: ['feed'],
        summary: 'The feed: published videos ranked by recency and engagement',
        description:
          `Ranked by score = ${FEED_SCORE_FORMULA} (hours since published, at the walk's ranking time), ties by id. ` +
          "The first page fixes the walk: its ranking time and a snapshot of the feed; every later page (`after` = the previous `last_id`) ranks the same videos on their likes and remixes as of that snapshot, so a walk returns each video exactly once while likes arrive. Videos published after the first page wait for the next walk; a video taken down leaves at the next page. A walk's cursors live FEED_CURSOR_TTL_SECONDS (an hour) from its first page; an older one is 410 `cursor_expired`. `following=true`: only videos of users the caller follows.",
        querystring: FeedQuerystring,
        response: {
          200: FeedList,
          400: problemResponse('`limit` is outside 1..100, or `after` is empty or too long; `error.param` names it'),
          410: problemResponse('`after` belongs to a walk that began longer ago than cursors live (`cursor_expired`): start a fresh walk without `after`'),
          422: unprocessableResponse('`after` is not a feed cursor'),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { limit = 20, after, following = false } = request.query;
      const owners = following ? await options.follows.followees(caller.id) : undefined;
      try {
        return await feed.page({ limit, after, owners, nowS: nowS() });
      } catch (err) {
        if (err instanceof InvalidFeedCursor) {
          throw invalidParams([contentRefusal('after', 'is not a feed cursor (pass the last_id of a feed page)')]);
        }
        if (err instanceof FeedCursorExpired) {
          throw new ProblemError({
            status: 410,
            code: 'cursor_expired',
            detail: `${err.message} (cursors live ${err.ttlSeconds} s): start a fresh walk with GET /v1/feed without after`,
          });
        }
        throw err;
      }
    },
  );
};
