// The live preview: while a video renders (and after), its owner can watch the chunks that have passed their checks,
// as an HLS playlist (EVENT; ENDLIST once completed) of fMP4 fragments with one init segment. A fragment is packaged
// on the first request for it (its chunk's MPEG-TS video copied, its PCM encoded to AAC) and kept in a small cache, so
// a video nobody previews costs nothing here. Only chunks the workflow recorded as passed (PreviewSegmentPassed: the
// flash analysis up to it and the safety classifier on its frames) are listed or served; a completed video passed
// the whole output review, so all of its chunks are.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { type Static, Type } from '@sinclair/typebox';
import type { VideoState } from '../../domain/video';
import { isContentExpired } from '../../domain/video';
import type { BlobStore } from '../../infra/blobs';
import type { Ffmpeg } from '../../infra/media/ffmpeg';
import { callerOf, problemResponse } from '../plugins/auth';
import { ProblemError } from '../plugins/errors';
import { videoExpired, type VideosContext } from './context';
import { VideoIdParams } from './schemas';

/** The preview's timeline starts here (seconds): a chunk's first frame decodes two B-frames before it shows. */
export const PREVIEW_TIMELINE_START_S = 1;
const SAMPLE_RATE_HZ = 48000;
const CHANNELS = 2;
const BYTES_PER_SAMPLE = 2 * CHANNELS;
/** The AAC encoder starts this long before each chunk (two AAC frames): priming and a frame of the previous sound. */
const PREROLL_SAMPLES = 2048;
/** Packaged fragments kept per API process, by total size. */
const CACHE_BYTES = 64 * 1024 * 1024;

const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
/** Every video renders at 24 fps (the generation workflow's FPS, recorded in ChunksPlanned). */
const FPS = 24;

export const PreviewSegmentParams = Type.Object({
  id: Type.String(),
  segment: Type.String({ description: '`init.mp4`, or a chunk index and `.m4s` (`0.m4s`, `1.m4s`, ...)' }),
});

interface Fragment {
  init: Buffer;
  media: Buffer;
}

/** A tiny LRU by bytes: a player asks for each fragment once, a few players for the same recent ones. */
class FragmentCache {
  private readonly entries = new Map<string, Promise<Fragment>>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;

  get(key: string, make: () => Promise<Fragment>): Promise<Fragment> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const made = make();
    this.entries.set(key, made);
    made.then(
      (f) => {
        if (this.entries.get(key) !== made) return;
        const size = f.init.length + f.media.length;
        this.sizes.set(key, size);
        this.bytes += size;
        for (const oldest of this.entries.keys()) {
          if (this.bytes <= CACHE_BYTES || oldest === key) break;
          this.drop(oldest);
        }
      },
      () => this.entries.get(key) === made && this.entries.delete(key),
    );
    return made;
  }

  private drop(key: string): void {
    this.entries.delete(key);
    this.bytes -= this.sizes.get(key) ?? 0;
    this.sizes.delete(key);
  }
}

/** How many chunks, from the first, the preview shows. */
export function previewedChunks(state: VideoState): number {
  return state.status === 'completed' ? state.chunks.plan.length : Math.min(state.previewSegments ?? 0, state.chunks.plan.length);
}

/** The playlist: every chunk shown so far, in order, each its own fragment; closed once the video is completed. */
export function previewPlaylist(state: VideoState): string {
  const { plan, total } = state.chunks;
  const shown = plan.slice(0, previewedChunks(state));
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${Math.max(1, ...plan.map((c) => Math.ceil(c.num_frames / FPS)))}`,
    '#EXT-X-PLAYLIST-TYPE:EVENT',
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-MAP:URI="preview/init.mp4"',
  ];
  for (const chunk of shown) lines.push(`#EXTINF:${(chunk.num_frames / FPS).toFixed(6)},`, `preview/${chunk.index}.m4s`);
  if (state.status === 'completed' && shown.length === total) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/** A video whose preview can no longer be shown: 409 blocked or failed, 410 cancelled or expired. */
function refusePreview(id: string, state: VideoState): void {
  if (state.stage === 'blocked') {
    throw new ProblemError({ status: 409, code: 'video_blocked', detail: `video ${id} was blocked (${state.error?.code}); its preview is withdrawn` });
  }
  if (state.status === 'failed')
    throw new ProblemError({ status: 409, code: 'video_failed', detail: `video ${id} failed (${state.error?.code}); it has no preview` });
  if (state.status === 'cancelled') throw new ProblemError({ status: 410, code: 'video_cancelled', detail: `video ${id} was cancelled; its preview is gone` });
  if (isContentExpired(state, Math.floor(Date.now() / 1000))) throw videoExpired(id, state.expiresAt);
}

export const previewRoutes: FastifyPluginAsync<VideosContext> = async (app, context) => {
  const { blobs, ownedState } = context;
  const cache = new FragmentCache();
  // The context's factory finds ffmpeg once, on first use.
  const packager = (): Ffmpeg => {
    if (!context.ffmpeg) throw new ProblemError({ status: 503, code: 'preview_unavailable', detail: 'this server has no ffmpeg to package the preview with' });
    return context.ffmpeg();
  };

  const previewResponses = {
    404: problemResponse("No such video, or not the caller's (the preview is its owner's alone)"),
    409: problemResponse('The video was blocked by moderation or consent (`video_blocked`), or failed (`video_failed`): nothing of it is shown'),
    410: problemResponse('The video was cancelled (`video_cancelled`), or its content expired (`video_expired`)'),
  };

  app.get<{ Params: VideoIdParams }>(
    '/v1/videos/:id/preview.m3u8',
    {
      schema: {
        tags: ['videos'],
        summary: 'The live preview: an HLS playlist of the chunks rendered and checked so far (owner only)',
        description:
          'reelforge. An HLS EVENT playlist (version 7) of fMP4 fragments, one per one-second chunk, each with its audio, after one init segment (EXT-X-MAP). ' +
          'A chunk is listed only once it passed its own output checks (the flash analysis up to it, the safety classifier on its frames); the playlist grows ' +
          'while the video renders and ends (EXT-X-ENDLIST) once it is completed. Segment URIs are relative and need the same Authorization header.',
        params: VideoIdParams,
        response: { 200: { description: 'The playlist', content: { [PLAYLIST_TYPE]: { schema: { type: 'string' } } } }, ...previewResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { state } = await ownedState(callerOf(request), id);
      refusePreview(id, state);
      return reply.header('content-type', PLAYLIST_TYPE).header('cache-control', 'private, no-store').send(previewPlaylist(state));
    },
  );

  app.get<{ Params: Static<typeof PreviewSegmentParams> }>(
    '/v1/videos/:id/preview/:segment',
    {
      schema: {
        tags: ['videos'],
        summary: "A fragment of the live preview: the init segment or a chunk's fMP4 media segment (owner only)",
        params: PreviewSegmentParams,
        response: {
          200: {
            description: 'The init segment (ftyp, moov) or a media segment (moof, mdat)',
            content: { 'video/mp4': { schema: { type: 'string', format: 'binary' } } },
          },
          ...previewResponses,
          404: problemResponse('No such video or segment, or the segment is not shown yet (`preview_segment_not_ready`)'),
        },
      },
    },
    async (request, reply) => {
      const { id, segment } = request.params;
      const { state } = await ownedState(callerOf(request), id);
      refusePreview(id, state);
      const match = /^(?:(init)\.mp4|(0|[1-9]\d{0,5})\.m4s)$/.exec(segment);
      if (!match) throw new ProblemError({ status: 404, code: 'not_found', detail: `the preview has no ${segment}: it has init.mp4 and <chunk index>.m4s` });
      const shown = previewedChunks(state);
      const index = match[1] ? 0 : Number(match[2]);
      if (index >= shown) {
        throw new ProblemError({
          status: 404,
          code: 'preview_segment_not_ready',
          detail: `segment ${index} of video ${id} is not in its preview yet (${shown} of ${state.chunks.total} chunks are)`,
        });
      }
      const fragment = await cache.get(`${id}/${index}`, () => packageChunk(blobs, packager(), state, index));
      return reply
        .header('content-type', 'video/mp4')
        .header('cache-control', 'private, max-age=3600')
        .send(match[1] ? fragment.init : fragment.media);
    },
  );
};

/** Chunk `index` of the video as a preview fragment: its segment and its PCM (after the previous chunk's tail). */
async function packageChunk(blobs: BlobStore, ffmpeg: Ffmpeg, state: VideoState, index: number): Promise<Fragment> {
  const chunk = state.chunks.plan[index]!;
  const videoKey = state.videoChunkKeys[index];
  const audioKey = state.audioChunkKeys[index];
  if (videoKey === undefined || audioKey === undefined) throw new Error(`chunk ${index} of video ${state.request?.video_id} is not recorded`);
  const previousAudio = index > 0 ? state.audioChunkKeys[index - 1] : undefined;
  const preroll = Buffer.alloc(PREROLL_SAMPLES * BYTES_PER_SAMPLE);
  if (previousAudio !== undefined) {
    const before = await blobs.get(previousAudio);
    before.copy(preroll, Math.max(0, preroll.length - before.length), Math.max(0, before.length - preroll.length));
  }
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'reelforge-preview-'));
  try {
    const segment = path.join(dir, 'chunk.ts');
    const audioFile = path.join(dir, 'chunk.pcm');
    await fs.promises.writeFile(segment, await blobs.get(videoKey));
    await fs.promises.writeFile(audioFile, Buffer.concat([preroll, await blobs.get(audioKey)]));
    return await ffmpeg.previewFragment({
      segment,
      audioFile,
      prerollSamples: PREROLL_SAMPLES,
      sampleRateHz: SAMPLE_RATE_HZ,
      channels: CHANNELS,
      startS: PREVIEW_TIMELINE_START_S + chunk.start_frame / FPS,
      outFile: path.join(dir, 'fragment.mp4'),
    });
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}
