// The live preview over HTTP on the real stack, read by a real HLS client (ffmpeg's HLS demuxer, which follows an
// EVENT playlist as it grows and stops at its ENDLIST): the first segments reach it while the video still renders, the
// whole video once it is completed. A flashing video never shows a frame; a cancelled one's preview is gone; only the
// owner sees it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { startApiStack } from '../support/apiStack';
import { eventually, testEnv } from '../support/env';

type Json = Record<string, any>;

const ctx = {} as { stack: Awaited<ReturnType<typeof startApiStack>>; owner: Record<string, string>; other: Record<string, string> };

beforeAll(async () => {
  ctx.stack = await startApiStack();
  ctx.owner = { authorization: `Bearer ${(await ctx.stack.user('preview-owner')).apiKey}` };
  ctx.other = { authorization: `Bearer ${(await ctx.stack.user('preview-other')).apiKey}` };
}, 60_000);

afterAll(async () => {
  await ctx.stack?.stop();
});

async function create(body: Json): Promise<Json> {
  const res = await fetch(`${ctx.stack.url}/v1/videos`, {
    method: 'POST',
    headers: { ...ctx.owner, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Json;
}

const get = async (path: string, headers = ctx.owner) => fetch(`${ctx.stack.url}${path}`, { headers });
const video = async (id: string) => (await (await get(`/v1/videos/${id}`)).json()) as Json;
const ended = (id: string) =>
  eventually(
    async () => {
      const v = await video(id);
      return ['completed', 'failed', 'cancelled'].includes(v.status) ? v : undefined;
    },
    `video ${id} to end`,
    180_000,
    100,
  );

/** The media segments a playlist lists. */
const segmentsOf = (playlist: string) => playlist.split('\n').filter((line) => line !== '' && !line.startsWith('#'));

/**
 * ffmpeg reading the preview as an HLS client from its first segment, copying the video packets out as framecrc
 * lines (one per frame) and decoding the audio to PCM; `firstFrameAt` is when its first frame line arrived.
 */
function readPreview(id: string): Promise<{ frames: number; firstFrameAt: number; audioBytes: number }> {
  const audioFile = path.join(testEnv.tmpDir, `preview-${id}.pcm`);
  const binary = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath }).binary;
  const args = [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error'],
    ...['-headers', `Authorization: ${ctx.owner.authorization}\r\n`, '-live_start_index', '0', '-i', `${ctx.stack.url}/v1/videos/${id}/preview.m3u8`],
    ...['-map', '0:v:0', '-c:v', 'copy', '-f', 'framecrc', 'pipe:1'],
    ...['-map', '0:a:0', '-c:a', 'pcm_s16le', '-f', 's16le', '-y', audioFile],
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(binary.path, args, { env: { ...process.env, ...binary.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let frames = 0;
    let firstFrameAt = 0;
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (piece: string) => {
      text += piece;
      const lines = text.split('\n');
      text = lines.pop()!;
      const count = lines.filter((l) => l !== '' && !l.startsWith('#')).length;
      if (count > 0 && firstFrameAt === 0) firstFrameAt = Date.now();
      frames += count;
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (piece: string) => (stderr += piece));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`ffmpeg exited ${code}: ${stderr}`));
      const audioBytes = fs.statSync(audioFile).size;
      fs.rmSync(audioFile, { force: true });
      resolve({ frames, firstFrameAt, audioBytes });
    });
  });
}

describe('the live preview', () => {
  it('reaches an HLS client while the video renders, chunk by chunk, and ends with the whole video', async () => {
    const { id, preview_url } = await create({ prompt: 'three bouncy red balls collide on a wooden floor', seconds: 12, size: '256x256' });
    expect(preview_url).toBe(`/v1/videos/${id}/preview.m3u8`);
    // The playlist exists at once, empty, and grows.
    const first = await eventually(
      async () => {
        const res = await get(preview_url);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
        const body = await res.text();
        return segmentsOf(body).length > 0 ? body : undefined;
      },
      'the first preview segment',
      120_000,
      50,
    );
    expect(first).toMatch(/^#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:EVENT\n/);
    expect(first).toContain('#EXT-X-MAP:URI="preview/init.mp4"');
    expect(first).not.toContain('#EXT-X-ENDLIST');
    expect(segmentsOf(first)[0]).toBe('preview/0.m4s');

    const result = await readPreview(id);
    expect((await ended(id)).status).toBe('completed');
    // The first frames reached the client before the job completed (as the event store timed it); then it read every
    // frame and every sample.
    const completed = (await ctx.stack.eventStore.readStream(`video-${id}`)).find((e) => e.type === 'VideoCompleted')!;
    expect(result.firstFrameAt).toBeGreaterThan(0);
    expect(result.firstFrameAt).toBeLessThan(completed.created.getTime());
    expect(result.frames).toBe(12 * 24);
    expect(result.audioBytes / 4 / 48000).toBeCloseTo(12, 1);

    const final = await (await get(preview_url)).text();
    expect(segmentsOf(final)).toEqual(Array.from({ length: 12 }, (_, i) => `preview/${i}.m4s`));
    expect(final.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    // Each fragment is fMP4: the init segment a moov, a media segment a moof.
    const init = Buffer.from(await (await get(`/v1/videos/${id}/preview/init.mp4`)).arrayBuffer());
    const media = Buffer.from(await (await get(`/v1/videos/${id}/preview/3.m4s`)).arrayBuffer());
    expect(init.toString('latin1', 4, 8)).toBe('ftyp');
    expect(init.includes(Buffer.from('moov'))).toBe(true);
    expect(media.toString('latin1', 4, 8)).toBe('moof');
  }, 240_000);

  it('shows nothing of a video whose output the review blocks, and is withdrawn once it is blocked', async () => {
    const { id } = await create({ prompt: 'strobe flashing at 5 hz with two balls', seconds: 4, size: '256x256' });
    const seen: number[] = [];
    const done = await eventually(
      async () => {
        const res = await get(`/v1/videos/${id}/preview.m3u8`);
        if (res.status === 200) seen.push(segmentsOf(await res.text()).length);
        else expect(res.status).toBe(409);
        const v = await video(id);
        return ['completed', 'failed', 'cancelled'].includes(v.status) ? v : undefined;
      },
      `video ${id} to end`,
      120_000,
      50,
    );
    expect(done).toMatchObject({ status: 'failed', stage: 'blocked', preview_url: null });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((n) => n === 0)).toBe(true);
    const res = await get(`/v1/videos/${id}/preview.m3u8`);
    expect(res.status).toBe(409);
    expect(((await res.json()) as Json).error).toMatchObject({ code: 'video_blocked' });
    expect((await get(`/v1/videos/${id}/preview/0.m4s`)).status).toBe(409);
  }, 180_000);

  it("is its owner's alone, names what is not there yet, and is gone once the video is cancelled", async () => {
    const { id } = await create({ prompt: 'a blue cube slides on ice', seconds: 12, size: '256x256' });
    expect((await get(`/v1/videos/${id}/preview.m3u8`, ctx.other)).status).toBe(404);
    expect((await get(`/v1/videos/${id}/preview/0.m4s`, ctx.other)).status).toBe(404);
    const notYet = await get(`/v1/videos/${id}/preview/11.m4s`);
    expect(notYet.status).toBe(404);
    expect(((await notYet.json()) as Json).error).toMatchObject({ code: 'preview_segment_not_ready' });
    const unknown = await get(`/v1/videos/${id}/preview/segment.ts`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as Json).error.message).toMatch(/init\.mp4 and <chunk index>\.m4s/);

    const cancelled = await fetch(`${ctx.stack.url}/v1/videos/${id}/cancel`, { method: 'POST', headers: ctx.owner });
    expect([200, 202]).toContain(cancelled.status);
    expect(await ended(id)).toMatchObject({ status: 'cancelled', preview_url: null });
    const gone = await get(`/v1/videos/${id}/preview.m3u8`);
    expect(gone.status).toBe(410);
    expect(((await gone.json()) as Json).error).toMatchObject({ code: 'video_cancelled' });
  }, 120_000);
});
