// Following a video: its progress as server-sent events (one `progress` event per change, then `done`), and its
// domain events, the `video-<id>` stream as recorded, for its owner, auditors and admins.
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { VideoRequestedData } from '../../domain/video';
import { StreamNotFound } from '../../infra/eventstore/errors';
import type { RecordedEvent } from '../../infra/eventstore/port';
import { callerOf, mayAccess } from '../plugins/auth';
import { errorResponses, maySee, sleep, streamOf, VIDEO_ID, videoNotFound, type VideosContext } from './context';
import { VideoEvents, VideoIdParams, VideoObject, VideoStreamEvent } from './schemas';

const TERMINAL_STATUSES = new Set(['completed', 'failed', 'cancelled']);
const STREAM_KEEPALIVE_MS = 15000;

export const videoProgressRoutes: FastifyPluginAsync<VideosContext> = async (app, context) => {
  const { eventStore, readModel, streamPollMs, closing, visibleVideo } = context;

  app.get<{ Params: VideoIdParams }>(
    '/v1/videos/:id/stream',
    {
      schema: {
        tags: ['videos'],
        summary: 'Follow a video: server-sent events',
        description: 'One `progress` event (data: the Video) per change, then a `done` event with the finished Video, then the stream closes.',
        params: VideoIdParams,
        response: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: VideoStreamEvent } } }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const caller = callerOf(request);
      const first = await visibleVideo(caller, id);
      const out = new PassThrough();
      // fastify destroys the payload stream when the client goes away; the loop below stops on that.
      const gone = () => out.destroyed || out.writableEnded || closing();
      const send = (event: string, data: unknown) => out.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      void (async () => {
        let video: VideoObject | undefined = first;
        let sent = '';
        let lastWriteAt = Date.now();
        try {
          // A comment first: headers and a first byte go out at once, so clients and proxies see the stream open.
          out.write(`: video ${id}\n\n`);
          while (!gone()) {
            if (TERMINAL_STATUSES.has(video.status)) {
              send('done', video);
              break;
            }
            const json = JSON.stringify(video);
            if (json !== sent) {
              send('progress', video);
              sent = json;
              lastWriteAt = Date.now();
            } else if (Date.now() - lastWriteAt >= STREAM_KEEPALIVE_MS) {
              out.write(': keep-alive\n\n');
              lastWriteAt = Date.now();
            }
            await sleep(streamPollMs);
            if (gone()) break;
            video = await readModel.get(id);
            // Deleted, or no longer visible to this caller (taken down): the stream ends as a GET would answer.
            if (!video || !maySee(caller, video)) {
              send('error', { error: { code: 'video_not_found', message: `video ${id} is no longer available` } });
              break;
            }
          }
        } catch (err) {
          request.log.warn({ err, videoId: id }, 'video stream stopped');
        } finally {
          if (!out.destroyed) out.end();
        }
      })();
      reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache, no-transform')
        .header('x-accel-buffering', 'no')
        // The connection ends with the stream: an idle keep-alive socket left behind would only hold up a shutdown.
        .header('connection', 'close');
      return reply.send(out);
    },
  );

  app.get<{ Params: VideoIdParams }>(
    '/v1/videos/:id/events',
    {
      schema: {
        tags: ['videos'],
        summary: "The video's domain events (its `video-<id>` stream), oldest first",
        description: 'For its owner, auditors and admins. A deleted video keeps its events: they are the record.',
        params: VideoIdParams,
        response: { 200: VideoEvents, ...errorResponses },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { id } = request.params;
      let events: RecordedEvent[];
      try {
        events = VIDEO_ID.test(id) ? await eventStore.readStream(streamOf(id)) : [];
      } catch (err) {
        if (!(err instanceof StreamNotFound)) throw err;
        events = [];
      }
      const requested = events.find((e) => e.type === 'VideoRequested')?.data as VideoRequestedData | undefined;
      if (!requested || !mayAccess(caller, requested.owner_id, 'auditor', 'admin')) throw videoNotFound(id);
      return events.map((e) => ({
        revision: Number(e.revision),
        type: e.type,
        data: e.data,
        metadata: e.metadata,
        created_at: Math.floor(e.created.getTime() / 1000),
      }));
    },
  );
};
