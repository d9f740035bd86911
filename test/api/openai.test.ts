// The official `openai` SDK, pointed at reelforge, drives the Videos API unchanged: create, retrieve until completed,
// list with pagination, download every variant, delete; and its error objects carry our messages.
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import type { Collision } from '../../domain/video';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { detectOnsets } from '../gpu-workers/support/onsets';
import { syncReport } from '../support/sync';
import { startApiStack } from '../support/apiStack';
import { eventually, testEnv } from '../support/env';

describe('OpenAI SDK compatibility', () => {
  let stack: Awaited<ReturnType<typeof startApiStack>>;
  let client: OpenAI;
  let apiKey: string;

  beforeAll(async () => {
    stack = await startApiStack();
    ({ apiKey } = await stack.user('sdk-user'));
    client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey, maxRetries: 0 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('creates a video with seconds and size, retrieves it until completed, and downloads every variant', async () => {
    const created = await client.videos.create({ prompt: 'three red balls bouncing', seconds: '4', size: '720x1280' });
    expect(created).toMatchObject({ object: 'video', seconds: '4', size: '720x1280', prompt: 'three red balls bouncing' });
    // Queued, or (the read model may show the video first after its prompt was moderated) already in progress.
    expect(['queued', 'in_progress']).toContain(created.status);
    expect(created.id).toMatch(/^video_[0-9a-f]{32}$/);

    const done = await eventually(
      async () => {
        const video = await client.videos.retrieve(created.id);
        if (video.status === 'failed') throw new Error(`video failed: ${JSON.stringify(video.error)}`);
        return video.status === 'completed' ? video : undefined;
      },
      'the video to complete',
      180_000,
      250,
    );
    expect(done).toMatchObject({ id: created.id, status: 'completed', progress: 100, error: null });
    expect(done.completed_at).toBeGreaterThanOrEqual(done.created_at);

    const mp4 = Buffer.from(await (await client.videos.downloadContent(created.id)).arrayBuffer());
    const file = path.join(stack.dataDir, 'sdk.mp4');
    fs.writeFileSync(file, mp4);
    const info = await createFfmpeg({ ffmpegPath: testEnv.ffmpegPath }).probe(file);
    expect(info.video).toMatchObject({ codec: 'h264', width: 720, height: 1280, fps: 24 });
    expect(info.audio).toMatchObject({ codec: 'aac' });
    expect(info.videoFrames).toBe(96);
    expect(Math.abs(info.durationS! - 4)).toBeLessThanOrEqual(1 / 24);

    // In sync: onsets in the decoded audio fall within one frame of the collisions the video's events record.
    const events = (await (await fetch(`${stack.url}/v1/videos/${created.id}/events`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as {
      type: string;
      data: { collisions?: Collision[] };
    }[];
    const collisions = events.filter((e) => e.type === 'VideoChunkRendered').flatMap((e) => e.data.collisions ?? []);
    const onsets = detectOnsets(await createFfmpeg({ ffmpegPath: testEnv.ffmpegPath }).decodeAudio(file));
    const sync = syncReport(collisions, onsets, 2000);
    expect(sync.audible).toBeGreaterThan(0);
    expect(sync).toMatchObject({ silent: [], unexplained: [] });
    for (const variant of ['thumbnail', 'spritesheet'] as const) {
      const image = Buffer.from(await (await client.videos.downloadContent(created.id, { variant })).arrayBuffer());
      expect(image.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    }
  }, 240_000);

  it('lists with cursor pagination', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await client.videos.create({ prompt: `a blue ball number ${i}`, seconds: '4', size: '720x1280' })).id);
    // The list reads the read model, which a busy machine may update later than the create's 2 s wait for it.
    await eventually(async () => {
      const listed = new Set<string>();
      for await (const video of client.videos.list({ limit: 100 })) listed.add(video.id);
      return ids.every((id) => listed.has(id)) ? true : undefined;
    }, 'the read model to list the new videos');
    const firstPage = await client.videos.list({ limit: 2, order: 'asc' });
    expect(firstPage.data).toHaveLength(2);
    expect(firstPage.hasNextPage()).toBe(true);
    const seen: { id: string; created_at: number }[] = [];
    for await (const video of client.videos.list({ limit: 2, order: 'asc' })) seen.push({ id: video.id, created_at: video.created_at });
    // Every video exactly once, oldest first (videos made within one second are ordered by id).
    expect(new Set(seen.map((v) => v.id)).size).toBe(seen.length);
    expect(seen.map((v) => v.id)).toEqual(expect.arrayContaining(ids));
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.created_at).toBeGreaterThanOrEqual(seen[i - 1]!.created_at);
    // Listing was the point: cancel them (our extra endpoint) rather than keep the GPU worker busy for the next test.
    for (const id of ids) {
      const res = await fetch(`${stack.url}/v1/videos/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` } });
      expect([202, 409]).toContain(res.status);
    }
  });

  it('extends and edits a video named by id, as the SDK sends them (a form with the text field video[id])', async () => {
    const source = await client.videos.create({ prompt: 'two yellow balls', seconds: '4', size: '256x256' as never });
    await eventually(async () => ((await client.videos.retrieve(source.id)).status === 'completed' ? true : undefined), 'completion', 120_000, 250);
    const extension = await client.videos.extend({ video: { id: source.id }, prompt: 'they keep bouncing', seconds: '4' });
    expect(extension).toMatchObject({ object: 'video', seconds: '8', prompt: 'they keep bouncing' });
    expect((extension as unknown as { extended_from_video_id: string }).extended_from_video_id).toBe(source.id);
    const edit = await client.videos.edit({ video: { id: source.id }, prompt: 'add rain' });
    expect(edit).toMatchObject({ object: 'video', remixed_from_video_id: source.id, prompt: 'add rain' });
    // A missing source is the SDK's NotFoundError, as for JSON.
    await expect(client.videos.edit({ video: { id: 'video_00000000000000000000000000000000' }, prompt: 'add rain' })).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
    for (const id of [extension.id, edit.id]) {
      const res = await fetch(`${stack.url}/v1/videos/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` } });
      expect([202, 409]).toContain(res.status);
    }
  });

  it('deletes a finished video', async () => {
    const video = await client.videos.create({ prompt: 'one green ball', seconds: '4', size: '720x1280' });
    await eventually(async () => ((await client.videos.retrieve(video.id)).status === 'completed' ? true : undefined), 'completion', 120_000, 250);
    expect(await client.videos.delete(video.id)).toMatchObject({ id: video.id, object: 'video.deleted', deleted: true });
    await expect(client.videos.retrieve(video.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('surfaces our error message and parameter in the SDK error object', async () => {
    const err = (await client.videos.create({ prompt: '', seconds: '4' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/prompt/);
    expect(err.param).toBe('prompt');
    const unauthorized = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'rf_not-a-key', maxRetries: 0 });
    await expect(unauthorized.videos.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });
});
