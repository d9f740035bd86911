// Reading videos: one video (the read model, or its stream while the read model lags), the caller's list in keyset
// pages, and the content (the MP4, its thumbnail or spritesheet) with HTTP Range; a download counts as a view.
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { contentKeys } from '../../domain/video/content';
import { callerOf, problemResponse } from '../plugins/auth';
import { contentRefusal, invalidParams, ProblemError, unprocessableResponse } from '../plugins/errors';
import { errorResponses, completedVideo, type VideosContext } from './context';
import { parseRange } from './range';
import { UnknownCursor } from './readModel';
import { ContentQuery, ListVideosQuery, VideoIdParams, VideoList, VideoObject } from './schemas';

export const readVideoRoutes: FastifyPluginAsync<VideosContext> = async (app, context) => {
  const { blobs, readModel, views, visibleVideo } = context;

  app.get<{ Params: VideoIdParams }>(
    '/v1/videos/:id',
    { schema: { tags: ['videos'], summary: 'Retrieve a video', params: VideoIdParams, response: { 200: VideoObject, ...errorResponses } } },
    async (request) => visibleVideo(callerOf(request), request.params.id),
  );

  app.get<{ Querystring: ListVideosQuery }>(
    '/v1/videos',
    {
      schema: {
        tags: ['videos'],
        summary: "List the caller's videos",
        description: 'Keyset pages by creation time: pass `last_id` as `after` for the next page.',
        querystring: ListVideosQuery,
        response: {
          200: VideoList,
          400: problemResponse('`after`, `limit` or `order` is invalid; `error.param` names it'),
          422: unprocessableResponse("`after` is not one of the caller's videos"),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { after, limit = 20, order = 'desc' } = request.query;
      try {
        return await readModel.list({ ownerId: caller.id, after, limit, order });
      } catch (err) {
        if (err instanceof UnknownCursor) {
          throw invalidParams([contentRefusal('after', 'is not one of your videos')]);
        }
        throw err;
      }
    },
  );

  app.get<{ Params: VideoIdParams; Querystring: ContentQuery }>(
    '/v1/videos/:id/content',
    {
      schema: {
        tags: ['videos'],
        summary: 'Download the video (MP4), its thumbnail or its spritesheet (JPEG)',
        description:
          'Supports HTTP Range (one range): 206 with Content-Range, 416 when it lies outside the file. Where the server is set to (BLOB_CONTENT_REDIRECT_SECONDS), a GET is answered 302 to a short-lived signed URL of the blob store, which serves the file and its ranges.',
        params: VideoIdParams,
        querystring: ContentQuery,
        response: {
          200: {
            description: 'The whole file',
            content: { 'video/mp4': { schema: { type: 'string', format: 'binary' } }, 'image/jpeg': { schema: { type: 'string', format: 'binary' } } },
          },
          206: { description: 'The requested byte range', content: { 'video/mp4': { schema: { type: 'string', format: 'binary' } } } },
          302: { description: 'The file is at the signed URL in Location (only where BLOB_CONTENT_REDIRECT_SECONDS is set)', type: 'null' },
          400: problemResponse('Unknown variant'),
          404: problemResponse('No such video, or not completed yet (`video_not_ready`)'),
          410: problemResponse('The content expired (`video_expired`): retention deleted it at `expires_at`; the video itself remains'),
          416: problemResponse('The range lies outside the file'),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const variant = request.query.variant ?? 'video';
      // Retention: past expires_at the content is gone (or going this moment); the video object stays, completed.
      const video = await completedVideo(context, callerOf(request), id, 'its content is available');
      const keys = contentKeys(id);
      const key = variant === 'video' ? keys.content : variant === 'thumbnail' ? keys.thumbnail : keys.spritesheet;
      const info = await blobs.stat(key);
      if (!info) throw new ProblemError({ status: 404, code: 'content_not_found', detail: `the ${variant} of video ${id} is not stored` });
      // Batched: at most once per viewer and window, recorded as one VideoViewed per video every few seconds.
      if (variant === 'video' && request.method !== 'HEAD') views?.record(callerOf(request).id, id);
      // The store serves the bytes (and their ranges) itself: the client follows a short-lived signed URL.
      const redirectSeconds = context.config.contentRedirectSeconds ?? 0;
      if (redirectSeconds > 0 && blobs.signedUrl && request.method !== 'HEAD') {
        return reply.header('cache-control', 'private, no-store').redirect(await blobs.signedUrl(key, redirectSeconds), 302);
      }

      const etag = `"${info.bytes.toString(16)}-${info.modifiedAt.getTime().toString(16)}"`;
      reply
        .header('content-type', variant === 'video' ? 'video/mp4' : 'image/jpeg')
        .header('accept-ranges', 'bytes')
        .header('etag', etag)
        .header('last-modified', info.modifiedAt.toUTCString())
        .header('cache-control', video.visibility === 'published' ? 'public, max-age=300' : 'private, max-age=0');
      // If-Range: a range of a file that changed since the client's copy would splice two files; send it whole.
      const ifRange = request.headers['if-range'];
      const range = ifRange !== undefined && ifRange !== etag ? ({ kind: 'full' } as const) : parseRange(request.headers.range, info.bytes);
      if (range.kind === 'unsatisfiable') {
        reply.header('content-range', `bytes */${info.bytes}`);
        throw new ProblemError({
          status: 416,
          code: 'range_not_satisfiable',
          detail: `the range ${request.headers.range} lies outside the ${info.bytes} bytes of the file`,
          param: 'Range',
        });
      }
      const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, info.bytes - 1];
      if (range.kind === 'partial') reply.status(206).header('content-range', `bytes ${start}-${end}/${info.bytes}`);
      reply.header('content-length', String(Math.max(0, end - start + 1)));
      if (info.bytes === 0) return reply.send();
      // HEAD: an empty stream, because fastify's HEAD handling keeps the content-length we set only for a stream (for
      // an empty payload it writes 0); the body is never read.
      if (request.method === 'HEAD') return reply.send(Readable.from([]));
      return reply.send(await blobs.stream(key, { start, end }));
    },
  );
};
