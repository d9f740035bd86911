// Changing videos over HTTP against the real stack (test/support/videosApi.ts): cancel, the progress stream (which
// ends with the video), and delete, on videos still being generated.
import { once } from 'node:events';
import http from 'node:http';
import { createVideoReadModel, type VideoReadModel } from '../../api/videos/readModel';
import { eventually } from '../support/env';
import { PNG, problem, PROMPT, readSse, useVideosApi, type Video, type VideoPage } from '../support/videosApi';

const api = useVideosApi();
const { keys, ids, taskQueue, listen, videosDeps, serverBase, call, create, getVideo, untilStage, streamEvents } = api;

describe('cancel, stream and delete', () => {
  it('cancel → 202; the video ends cancelled; a second cancel → 409 video_finished', async () => {
    const video = await create(keys.alice, { prompt: PROMPT, size: '256x256' });
    await untilStage(keys.alice, video.id, 'rendering');
    expect((await problem(await call('POST', `/v1/videos/${video.id}/cancel`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');

    const res = await call('POST', `/v1/videos/${video.id}/cancel`, { key: keys.alice });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ id: video.id });
    const cancelled = await untilStage(keys.alice, video.id, 'cancelled');
    expect(cancelled).toMatchObject({ status: 'cancelled', completed_at: expect.any(Number) });
    // The workflow records the cancellation, then closes as cancelled.
    await eventually(
      async () => ((await api.env.client.workflow.getHandle(`video-${video.id}`).describe()).status.name === 'CANCELLED' ? true : undefined),
      'the workflow to close cancelled',
    );
    const last = (await streamEvents(video.id)).at(-1)!;
    expect(last).toEqual({ type: 'VideoCancelled', data: expect.objectContaining({ by: ids.alice }) });

    const again = await problem(await call('POST', `/v1/videos/${video.id}/cancel`, { key: keys.alice }), 409);
    expect(again.error.code).toBe('video_finished');
  });

  it('the stream sends progress events, then done with the terminal Video, then closes', async () => {
    const video = await create(keys.alice, { prompt: PROMPT, size: '256x256' });
    await untilStage(keys.alice, video.id, 'rendering');
    expect((await problem(await call('GET', `/v1/videos/${video.id}/stream`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');

    const res = await call('GET', `/v1/videos/${video.id}/stream`, { key: keys.alice });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    let cancelled = false;
    const events = await readSse(res, async (e) => {
      if (e.event === 'progress' && !cancelled) {
        cancelled = true;
        expect((await call('POST', `/v1/videos/${video.id}/cancel`, { key: keys.alice })).status).toBe(202);
      }
    });
    expect(events[0]).toEqual({ event: 'progress', data: expect.objectContaining({ id: video.id, stage: 'rendering', status: 'in_progress' }) });
    expect(events.at(-1)).toEqual({ event: 'done', data: expect.objectContaining({ id: video.id, status: 'cancelled', stage: 'cancelled' }) });
    expect(events.filter((e) => e.event === 'done')).toHaveLength(1);
    // One event per change: no two consecutive progress events carry the same Video.
    const progress = events.filter((e) => e.event === 'progress').map((e) => JSON.stringify(e.data));
    expect(progress.every((p, i) => i === 0 || p !== progress[i - 1])).toBe(true);

    // A finished video's stream is just its done event.
    const finished = await readSse(await call('GET', `/v1/videos/${video.id}/stream`, { key: keys.alice }));
    expect(finished).toEqual([{ event: 'done', data: expect.objectContaining({ status: 'cancelled' }) }]);
  });

  it('a client that goes away ends its stream: the server stops polling for it', async () => {
    const video = await create(keys.alice, { prompt: PROMPT, size: '256x256' });
    // A server of its own whose read model notes when it was last asked: only this stream asks it anything.
    const real = createVideoReadModel(api.pool, { schema: api.schemas.readModels });
    let lastGetAt = 0;
    const watched: VideoReadModel = {
      get: (id) => {
        lastGetAt = Date.now();
        return real.get(id);
      },
      list: (o) => real.list(o),
      findByContent: (sha256, viewer) => real.findByContent(sha256, viewer),
      countActive: (ownerId) => real.countActive(ownerId),
      secondsSince: (ownerId, since) => real.secondsSince(ownerId, since),
    };
    const own = await listen({ ...serverBase(), videos: videosDeps(taskQueue, { readModel: watched }) });
    try {
      // node:http with its own socket, so "the client goes away" is exactly this socket closing.
      const request = http.get(`${own.url}/v1/videos/${video.id}/stream`, { headers: { authorization: `Bearer ${keys.alice}` }, agent: false });
      const [res] = (await once(request, 'response')) as [http.IncomingMessage];
      expect(res.statusCode).toBe(200);
      await once(res, 'data');
      await eventually(() => (Date.now() - lastGetAt < 150 ? true : undefined), 'the stream to poll');
      request.destroy();
      // Polled every 100 ms while the client listens; a second of silence means the loop ended.
      await eventually(() => (Date.now() - lastGetAt > 1000 ? true : undefined), 'the stream to stop polling', 10000);
      await eventually(
        () => new Promise<true | undefined>((resolve) => own.app.server.getConnections((_err, n) => resolve(n === 0 ? true : undefined))),
        'the stream connection to close',
        10000,
      );
    } finally {
      await own.app.close();
    }
  });

  it('delete cancels a running generation, records VideoDeleted, removes its files; GET is then 404', async () => {
    const form = new FormData();
    form.append('prompt', PROMPT);
    form.append('size', '256x256');
    form.append('input_reference', new Blob([PNG], { type: 'image/png' }), 'b.png');
    const res = await call('POST', '/v1/videos', { key: keys.alice, body: form });
    expect(res.status).toBe(200);
    const video = (await res.json()) as Video;
    await untilStage(keys.alice, video.id, 'rendering');
    expect(await api.blobs.list(`videos/${video.id}/`)).toEqual([`videos/${video.id}/input_reference`]);
    expect((await problem(await call('DELETE', `/v1/videos/${video.id}`, { key: keys.bob }), 404)).error.code).toBe('video_not_found');
    expect((await problem(await call('DELETE', `/v1/videos/${video.id}`, { key: keys.admin }), 404)).error.code).toBe('video_not_found');

    const deleted = await call('DELETE', `/v1/videos/${video.id}`, { key: keys.alice });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ id: video.id, object: 'video.deleted', deleted: true });
    expect((await problem(await getVideo(keys.alice, video.id), 404)).error.code).toBe('video_not_found');
    expect(await api.blobs.list(`videos/${video.id}/`)).toEqual([]);
    const listed = (await (await call('GET', '/v1/videos?limit=100', { key: keys.alice })).json()) as VideoPage;
    expect(listed.data.map((v) => v.id)).not.toContain(video.id);

    // The events stay, as the record: the cancellation, then the deletion by its owner.
    const events = (await (await call('GET', `/v1/videos/${video.id}/events`, { key: keys.auditor })).json()) as Array<{
      type: string;
      data: Record<string, unknown>;
      metadata: Record<string, unknown>;
    }>;
    expect(events.slice(-2).map((e) => e.type)).toEqual(['VideoCancelled', 'VideoDeleted']);
    expect(events.at(-1)).toMatchObject({ data: { by: ids.alice }, metadata: { actor: ids.alice, correlationId: video.id } });
    expect((await problem(await call('DELETE', `/v1/videos/${video.id}`, { key: keys.alice }), 404)).error.code).toBe('video_not_found');
    expect((await problem(await call('POST', `/v1/videos/${video.id}/cancel`, { key: keys.alice }), 404)).error.code).toBe('video_not_found');
  });
});
