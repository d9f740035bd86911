// Completed videos over HTTP against the real stack (test/support/videosApi.ts): one recorded through the decider
// (its content whole and by Range, cancel refused, publish, delete), and one made end to end with a GPU worker of the
// file's own (the reference pack on the CPU): followed on the stream to done, its timeline, its MP4, published. The
// content route is also served from an S3 blob store (moto): streamed through with Range, or redirected to a signed URL.
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { contentKeys } from '../../domain/video/content';
import { createGpuActivities } from '../../gpu-workers/activities';
import { DEFAULT_WATERMARK } from '../../infra/config';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { S3BlobStore } from '../../infra/blobs';
import { createLogger } from '../../infra/logger';
import { testEnv } from '../support/env';
import { testEngine, testSafetyClassifier } from '../support/pipeline';
import { startS3Server, type S3Server } from '../support/s3';
import { problem, PROMPT, readSse, type Running, useVideosApi, type Video } from '../support/videosApi';

const api = useVideosApi();
const { keys, ids, taskQueue, listen, videosDeps, serverBase, call, create, getVideo, streamEvents, seedCompletedVideo } = api;

describe('a completed video', () => {
  const content = randomBytes(50_000);
  let id: string;
  beforeAll(async () => {
    id = await seedCompletedVideo(ids.alice, content);
  });

  it('serves its content whole, with Accept-Ranges and Content-Length', async () => {
    const res = await call('GET', `/v1/videos/${id}/content`, { key: keys.alice });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-length')).toBe(String(content.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(content)).toBe(true);
    // HEAD says the same size, with no body (a player sizes its buffer from it).
    const head = await call('HEAD', `/v1/videos/${id}/content`, { key: keys.alice });
    expect([head.status, head.headers.get('content-length'), head.headers.get('accept-ranges')]).toEqual([200, String(content.length), 'bytes']);
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const thumbnail = await call('GET', `/v1/videos/${id}/content?variant=thumbnail`, { key: keys.alice });
    expect(thumbnail.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await thumbnail.arrayBuffer()).equals(await api.blobs.get(contentKeys(id).thumbnail))).toBe(true);
    const sprites = await call('GET', `/v1/videos/${id}/content?variant=spritesheet`, { key: keys.alice });
    expect(Buffer.from(await sprites.arrayBuffer()).equals(await api.blobs.get(contentKeys(id).spritesheet))).toBe(true);
  });

  it('answers Range requests with 206 and Content-Range, and 416 outside the file', async () => {
    const range = async (header: string) => call('GET', `/v1/videos/${id}/content`, { key: keys.alice, headers: { range: header } });
    const head = await range('bytes=0-99');
    expect(head.status).toBe(206);
    expect(head.headers.get('content-range')).toBe(`bytes 0-99/${content.length}`);
    expect(head.headers.get('content-length')).toBe('100');
    expect(Buffer.from(await head.arrayBuffer()).equals(content.subarray(0, 100))).toBe(true);

    const open = await range('bytes=49000-');
    expect(open.headers.get('content-range')).toBe(`bytes 49000-49999/${content.length}`);
    expect(Buffer.from(await open.arrayBuffer()).equals(content.subarray(49000))).toBe(true);
    const suffixRange = await range('bytes=-10');
    expect(Buffer.from(await suffixRange.arrayBuffer()).equals(content.subarray(-10))).toBe(true);
    const past = await range('bytes=49990-60000');
    expect(past.headers.get('content-range')).toBe(`bytes 49990-49999/${content.length}`);
    await past.arrayBuffer();

    const outside = await range(`bytes=${content.length}-`);
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${content.length}`);
    expect(outside.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    await outside.arrayBuffer();
    // A header we do not understand is ignored: the whole file.
    const odd = await range('bytes=0-1,5-9');
    expect(odd.status).toBe(200);
    expect((await odd.arrayBuffer()).byteLength).toBe(content.length);
  });

  it('cannot be cancelled (409 video_finished); only its owner may publish it; publishing makes it visible to everyone', async () => {
    expect((await problem(await call('POST', `/v1/videos/${id}/cancel`, { key: keys.alice }), 409)).error.code).toBe('video_finished');
    expect((await problem(await getVideo(keys.bob, id), 404)).error.code).toBe('video_not_found');
    expect((await problem(await call('POST', `/v1/videos/${id}/publish`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');

    const res = await call('POST', `/v1/videos/${id}/publish`, { key: keys.alice });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id, visibility: 'published', status: 'completed' });
    expect((await streamEvents(id)).at(-1)).toEqual({ type: 'VideoPublished', data: expect.objectContaining({ by: ids.alice }) });
    const description = await api.env.client.workflow.getHandle(`publish-${id}`).describe();
    expect(description).toMatchObject({ type: 'publishWorkflow', taskQueue });

    // Published: anyone may see it and its content, but still not change it.
    expect(await (await getVideo(keys.bob, id)).json()).toMatchObject({ id, visibility: 'published' });
    expect((await call('GET', `/v1/videos/${id}/content?variant=thumbnail`, { key: keys.bob })).status).toBe(200);
    expect((await problem(await call('GET', `/v1/videos/${id}/events`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');
    expect((await problem(await call('DELETE', `/v1/videos/${id}`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');
    // Publishing again answers the published video and records nothing more.
    expect(await (await call('POST', `/v1/videos/${id}/publish`, { key: keys.alice })).json()).toMatchObject({ visibility: 'published' });
    expect((await streamEvents(id)).filter((e) => e.type === 'VideoPublished')).toHaveLength(1);
  });

  it('a video that is not completed cannot be published (409)', async () => {
    const video = await create(keys.alice, { prompt: PROMPT, size: '256x256' });
    const body = await problem(await call('POST', `/v1/videos/${video.id}/publish`, { key: keys.alice }), 409);
    expect(body.error.code).toBe('video_not_completed');
  });

  it('delete of a finished video removes it and its content', async () => {
    const other = await seedCompletedVideo(ids.alice, randomBytes(1000));
    expect((await call('DELETE', `/v1/videos/${other}`, { key: keys.alice })).status).toBe(200);
    expect(await api.blobs.list(`videos/${other}/`)).toEqual([]);
    expect((await problem(await call('GET', `/v1/videos/${other}/content`, { key: keys.alice }), 404)).error.code).toBe('video_not_found');
  });
});

describe('content from an S3 blob store', () => {
  // 12 MiB: stored in three parts, and more than a range request should ever move.
  const content = randomBytes(12 * 1024 * 1024 + 7);
  let moto: S3Server;
  let s3: S3BlobStore;
  let streaming: Running;
  let redirecting: Running;
  let id: string;

  beforeAll(async () => {
    moto = await startS3Server({ buckets: ['reelforge-api'] });
    s3 = new S3BlobStore(moto.client(), { bucket: 'reelforge-api', prefix: 'blobs' });
    id = await seedCompletedVideo(ids.alice, content);
    for (const key of Object.values(contentKeys(id))) await s3.put(key, await api.blobs.stream(key));
    const deps = videosDeps(taskQueue);
    streaming = await listen({ ...serverBase(), videos: { ...deps, blobs: s3 } });
    redirecting = await listen({ ...serverBase(), videos: { ...deps, blobs: s3, config: { ...deps.config, contentRedirectSeconds: 60 } } });
  });
  afterAll(async () => {
    await streaming?.app.close();
    await redirecting?.app.close();
    await moto?.stop();
  });

  const get = (target: Running, headers: Record<string, string> = {}, method = 'GET') =>
    call(method, `/v1/videos/${id}/content`, { key: keys.alice, headers, target });

  it('streams the content and its ranges from the store', async () => {
    const whole = await get(streaming);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-length')).toBe(String(content.length));
    expect(Buffer.from(await whole.arrayBuffer()).equals(content)).toBe(true);
    // A range across the store's part boundaries is one ranged GET of the store, passed through.
    const start = 5 * 1024 * 1024 - 10;
    const part = await get(streaming, { range: `bytes=${start}-${start + 99}` });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes ${start}-${start + 99}/${content.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(content.subarray(start, start + 100))).toBe(true);
    const suffix = await get(streaming, { range: 'bytes=-10' });
    expect(Buffer.from(await suffix.arrayBuffer()).equals(content.subarray(-10))).toBe(true);
    const outside = await get(streaming, { range: `bytes=${content.length}-` });
    expect(outside.status).toBe(416);
    await outside.arrayBuffer();
    // If-Range with the ETag the store's stat gives: the range; with another: the whole file.
    const etag = whole.headers.get('etag')!;
    expect((await get(streaming, { range: 'bytes=0-9', 'if-range': etag })).status).toBe(206);
    const stale = await get(streaming, { range: 'bytes=0-9', 'if-range': '"0-0"' });
    expect(stale.status).toBe(200);
    await stale.body?.cancel();
  });

  it('redirects to a signed URL of the store when told to, which serves the file and its ranges itself', async () => {
    const redirect = await fetch(`${redirecting.url}/v1/videos/${id}/content`, { headers: { authorization: `Bearer ${keys.alice}` }, redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get('location')!;
    expect(location.startsWith(`${moto.endpoint}/reelforge-api/blobs/videos/${id}/`)).toBe(true);
    expect(location).toContain('X-Amz-Expires=60');
    // Followed, as players do (the API key is not sent on to the store: it is another origin).
    const part = await get(redirecting, { range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(content.subarray(100, 200))).toBe(true);
    // HEAD is still answered by the API, and the visibility rules are checked before any redirect.
    const head = await get(redirecting, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(content.length));
    expect(head.headers.get('location')).toBeNull();
    expect((await problem(await call('GET', `/v1/videos/${id}/content`, { key: keys.bob, target: redirecting }), 404)).error.code).toBe('video_not_found');
  });
});

describe('end to end with the real renderer', () => {
  // A GPU worker (the reference pack on the CPU) on a queue of its own, and an API that sends renders there.
  const liveGpuQueue = `gpu-live-${randomUUID()}`;
  let gpuWorker: Worker;
  let gpuRun: Promise<void>;
  let live: Running;
  const ffmpeg = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });

  beforeAll(async () => {
    gpuWorker = await Worker.create({
      connection: api.env.nativeConnection,
      taskQueue: liveGpuQueue,
      activities: createGpuActivities({
        engine: await testEngine(),
        safety: await testSafetyClassifier(),
        blobs: api.blobs,
        ffmpeg,
        logger: createLogger({ level: 'silent', name: 'test-gpu' }),
        watermark: DEFAULT_WATERMARK,
      }),
    });
    gpuRun = gpuWorker.run();
    const deps = videosDeps(taskQueue);
    live = await listen({ ...serverBase(), videos: { ...deps, config: { ...deps.config, gpuTaskQueue: liveGpuQueue } } });
  });
  afterAll(async () => {
    await live?.app.close();
    gpuWorker?.shutdown();
    await gpuRun;
  });

  it('a prompt becomes an MP4: followed on the stream to done, downloaded with Range, then published', async () => {
    const res = await call('POST', '/v1/videos', { key: keys.alice, json: { prompt: PROMPT, seconds: 1, size: '256x256' }, target: live });
    expect(res.status).toBe(200);
    const video = (await res.json()) as Video;

    const events = await readSse(await call('GET', `/v1/videos/${video.id}/stream`, { key: keys.alice, target: live }));
    const done = events.at(-1)!;
    expect(done).toEqual({ event: 'done', data: expect.objectContaining({ id: video.id, status: 'completed', stage: 'completed', progress: 100 }) });
    const progress = events.filter((e) => e.event === 'progress').map((e) => (e.data as Video).progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));

    // Where its time went: the stages in order, contiguous, each ended (the final one at once), timed by its events.
    const { timeline } = (await (await getVideo(keys.alice, video.id)).json()) as {
      timeline: Array<{ stage: string; started_at: string; ended_at: string | null; duration_ms: number | null }>;
    };
    expect(timeline.map((e) => e.stage)).toEqual(['moderating', 'rendering', 'muxing', 'reviewing', 'completed']);
    const recorded = await api.eventStore.readStream(`video-${video.id}`);
    expect(timeline[0]!.started_at).toBe(recorded[0]!.created.toISOString());
    expect(timeline.at(-1)).toMatchObject({ started_at: recorded.find((e) => e.type === 'VideoCompleted')!.created.toISOString(), duration_ms: 0 });
    for (const [i, entry] of timeline.entries()) {
      expect(entry.ended_at).not.toBeNull();
      expect(entry.duration_ms).toBe(Date.parse(entry.ended_at!) - Date.parse(entry.started_at));
      expect(entry.duration_ms).toBeGreaterThanOrEqual(0);
      if (i > 0) expect(entry.started_at).toBe(timeline[i - 1]!.ended_at);
    }
    // Rendering is where a video's time goes; a timeline that misplaced it would not show that.
    expect(timeline.find((e) => e.stage === 'rendering')!.duration_ms).toBeGreaterThan(0);

    const whole = await call('GET', `/v1/videos/${video.id}/content`, { key: keys.alice, target: live });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('video/mp4');
    const bytes = Buffer.from(await whole.arrayBuffer());
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    const file = path.join(testEnv.tmpDir, `${video.id}.mp4`);
    fs.writeFileSync(file, bytes);
    const info = await ffmpeg.probe(file);
    expect(info.video).toMatchObject({ codec: 'h264', width: 256, height: 256 });
    expect(info.audio).toMatchObject({ codec: 'aac' });

    const part = await call('GET', `/v1/videos/${video.id}/content`, { key: keys.alice, target: live, headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
    const thumbnail = await call('GET', `/v1/videos/${video.id}/content?variant=thumbnail`, { key: keys.alice, target: live });
    expect(thumbnail.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await thumbnail.arrayBuffer()).subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));

    const published = await call('POST', `/v1/videos/${video.id}/publish`, { key: keys.alice, target: live });
    expect(await published.json()).toMatchObject({ id: video.id, visibility: 'published' });
    expect((await getVideo(keys.bob, video.id)).status).toBe(200);
  });
});
