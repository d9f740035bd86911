// GET /v1/videos/{id}/provenance: the content credentials signed into the video's MP4 at mux time (a C2PA manifest
// store, read and validated by c2pa-rs through infra/provenance/c2pa.ts), for anyone who may see the video.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { contentKeys } from '../../domain/video/content';
import { callerOf, problemResponse } from '../plugins/auth';
import { ProblemError } from '../plugins/errors';
import { withLocalCopy } from '../../infra/blobs';
import { completedVideo, type VideosContext } from './context';
import { VideoIdParams } from './schemas';

const JsonObject = Type.Record(Type.String(), Type.Unknown());

export const VideoProvenance = Type.Object(
  {
    object: Type.Literal('video.provenance'),
    video_id: Type.String(),
    manifest_store: Type.Union([JsonObject, Type.Null()], {
      description: "The MP4's C2PA manifest store as c2pa-rs reports it (`active_manifest`, `manifests`); null: the file carries none",
    }),
    validation_state: Type.Union([Type.String(), Type.Null()], {
      description: '`Invalid`, `Valid` (integrity and signature hold) or `Trusted` (and the signer chains to a configured trust list)',
    }),
    validation_results: Type.Union([JsonObject, Type.Null()], { description: "c2pa-rs's validation codes: `success`, `informational`, `failure`" }),
  },
  { additionalProperties: false },
);

export const provenanceRoutes: FastifyPluginAsync<VideosContext> = async (app, context) => {
  const { blobs } = context;

  app.get<{ Params: VideoIdParams }>(
    '/v1/videos/:id/provenance',
    {
      schema: {
        tags: ['videos'],
        summary: "The video's content credentials: its C2PA manifest and their validation",
        description:
          'reelforge. Every MP4 is signed at mux time with a C2PA manifest: the `c2pa.actions` assertion (`c2pa.created`, digital source type ' +
          '`trainedAlgorithmicMedia`), the `dev.reelforge.generation` assertion (video id, seed, each cameo with its grant revision) and, for a remix or an ' +
          'extension, the parent MP4 as a `parentOf` ingredient. Read and validated by c2pa-rs from the stored file.',
        params: VideoIdParams,
        response: {
          200: VideoProvenance,
          404: problemResponse('No such video, or not completed yet (`video_not_ready`)'),
          410: problemResponse('The content expired (`video_expired`)'),
          503: problemResponse('This server cannot read content credentials (`provenance_unavailable`)'),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      await completedVideo(context, callerOf(request), id, 'its provenance is readable');
      if (!context.contentCredentials) {
        throw new ProblemError({ status: 503, code: 'provenance_unavailable', detail: 'this server has no C2PA reader' });
      }
      const key = contentKeys(id).content;
      if (!(await blobs.stat(key))) throw new ProblemError({ status: 404, code: 'content_not_found', detail: `the video of ${id} is not stored` });
      const credentials = context.contentCredentials;
      return { object: 'video.provenance' as const, video_id: id, ...(await withLocalCopy(blobs, key, (file) => credentials.read(file))) };
    },
  );
};
