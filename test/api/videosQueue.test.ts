// Queue positions and estimates over HTTP, on a stack with no GPU worker, so every video waits for a GPU after its
// plan: ten videos created one after another (by two users: the queue is everyone's) stand at 1..10 in creation
// order, on GET and in list items; cancelling the first ones moves the others up without gaps. The estimates are null
// until a completed render has been recorded (seeded on the stack's event store, with known times), then numbers
// ordered like the positions; a video whose first GPU output is recorded leaves the queue with its real start.
import { randomUUID } from 'node:crypto';
import { decide, evolve, foldVideo, type VideoCommand, type VideoEvent } from '../../domain/video';
import { startApiStack } from '../support/apiStack';
import { seedVideo } from '../support/seedVideo';
import { apiCaller } from '../support/apiCall';

interface QueuedVideo {
  id: string;
  status: string;
  stage: string;
  queue_position: number | null;
  estimated_start_at: number | null;
  estimated_completion_at: number | null;
}

describe('queue position and estimates', () => {
  let stack: Awaited<ReturnType<typeof startApiStack>>;
  const keys: Record<'alice' | 'bob', string> = { alice: '', bob: '' };
  let aliceId = '';

  beforeAll(async () => {
    stack = await startApiStack({ renders: false });
    const alice = await stack.user('alice');
    keys.alice = alice.apiKey;
    aliceId = alice.user.id;
    keys.bob = (await stack.user('bob')).apiKey;
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const call = apiCaller(() => stack.url, keys);
  const get = async (who: 'alice' | 'bob', id: string) => (await call(who, 'GET', `/v1/videos/${id}`)).body as unknown as QueuedVideo;
  const until = async (who: 'alice' | 'bob', id: string, ok: (v: QueuedVideo) => boolean): Promise<QueuedVideo> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const video = await get(who, id);
      if (ok(video)) return video;
      if (Date.now() > deadline) throw new Error(`video ${id} never got there: ${JSON.stringify(video)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  /** Decides the commands on the video's stream as it stands and appends their events (a seeded video has no workflow). */
  const record = async (id: string, commands: VideoCommand[]) => {
    const recorded = await stack.eventStore.readStream(`video-${id}`);
    let state = foldVideo(recorded.map((e) => ({ type: e.type, data: e.data }) as VideoEvent));
    const events: VideoEvent[] = [];
    for (const command of commands) {
      const decided = decide(command, state);
      state = decided.reduce(evolve, state);
      events.push(...decided);
    }
    await stack.eventStore.appendToStream(
      `video-${id}`,
      events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata: { actor: aliceId } })),
      { expectedRevision: BigInt(recorded.length - 1) },
    );
  };

  const owners: Array<'alice' | 'bob'> = [];
  const ids: string[] = [];

  it('ten videos created one after another stand at 1..10 in creation order, on GET and in list items', async () => {
    for (let i = 0; i < 10; i++) {
      const who = i % 3 === 0 ? 'bob' : 'alice';
      const created = await call(who, 'POST', '/v1/videos', { prompt: `two red balls ${i}`, seconds: 4, size: '256x256' });
      expect(created.status).toBe(200);
      const id = created.body.id as string;
      // Waiting once its chunks are planned (its prompt allowed): the next video is created after that.
      await until(who, id, (v) => v.queue_position !== null);
      owners.push(who);
      ids.push(id);
    }
    const videos = await Promise.all(ids.map((id, i) => get(owners[i]!, id)));
    expect(videos.map((v) => v.queue_position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(videos.every((v) => v.stage === 'rendering' && v.status === 'in_progress')).toBe(true);
    // Nothing has completed on this stack yet: no rate to estimate from, so no made-up numbers.
    expect(videos.map((v) => [v.estimated_start_at, v.estimated_completion_at])).toEqual(ids.map(() => [null, null]));

    const list = (await call('alice', 'GET', '/v1/videos?order=asc&limit=100')).body.data as QueuedVideo[];
    // The list orders by created_at (seconds) then id; each item carries its place in the whole queue.
    const alices = ids.filter((_, i) => owners[i] === 'alice');
    expect(new Set(list.map((v) => v.id))).toEqual(new Set(alices));
    expect(list.map((v) => [v.id, v.queue_position])).toEqual(list.map((v) => [v.id, ids.indexOf(v.id) + 1]));
  });

  it('with a completed render recorded, estimates are numbers, ordered like the positions', async () => {
    // One completed video: 1 s of video rendered from its first chunk to completion in 8 s.
    const done = await seedVideo(stack.eventStore, {
      ownerId: aliceId,
      finished: false,
      then: (id, at) => [
        { type: 'PlanChunks', data: { fps: 24, frames_per_chunk: 24, at: at - 20 } },
        { type: 'RecordVideoChunk', data: { index: 0, blob_key: `videos/${id}/chunks/000.ts`, frames: 24, collisions: [], at: at - 20 } },
        { type: 'RecordAudioChunk', data: { index: 0, blob_key: `videos/${id}/chunks/000.pcm`, samples: 48000, at: at - 19 } },
        {
          type: 'RecordMux',
          data: {
            content_key: `videos/${id}/video.mp4`,
            thumbnail_key: `videos/${id}/t.jpg`,
            spritesheet_key: `videos/${id}/s.jpg`,
            duration_s: 1,
            bytes: 100,
            at: at - 14,
          },
        },
        {
          type: 'RecordOutputVerdict',
          data: { case_id: `case_${randomUUID().replace(/-/g, '')}`, verdict: 'allow', categories: [], reasons: [], at: at - 13 },
        },
        { type: 'CompleteVideo', data: { at: at - 12 } },
      ],
    });
    // (Until the read model has it, GET answers it folded from its stream, without the render start.)
    const completed = await until('alice', done, (v) => v.status === 'completed' && v.estimated_start_at !== null);
    expect(completed.queue_position).toBeNull();
    expect(completed.estimated_completion_at).toBe(completed.estimated_start_at! + 8);

    const videos = await Promise.all(ids.map((id, i) => until(owners[i]!, id, (v) => v.estimated_start_at !== null)));
    expect(videos.map((v) => v.queue_position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const starts = videos.map((v) => v.estimated_start_at!);
    const now = Math.floor(Date.now() / 1000);
    expect(starts[0]).toBeGreaterThanOrEqual(now - 2);
    expect(starts[0]).toBeLessThanOrEqual(now + 2);
    // One slot seen working, 8 s per second of video, 4 s each: each starts 32 s after the one ahead of it.
    expect(starts.slice(1).map((s, i) => s - starts[i]!)).toEqual(Array(9).fill(32));
    for (const v of videos) expect(v.estimated_completion_at).toBe(v.estimated_start_at! + 32);
  });

  it('cancelling the first three moves the others up to 1..7, without gaps', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await call(owners[i]!, 'POST', `/v1/videos/${ids[i]}/cancel`)).status).toBe(202);
    }
    for (let i = 0; i < 3; i++) {
      const cancelled = await until(owners[i]!, ids[i]!, (v) => v.status === 'cancelled');
      expect([cancelled.queue_position, cancelled.estimated_start_at, cancelled.estimated_completion_at]).toEqual([null, null, null]);
    }
    const rest = await Promise.all(ids.slice(3).map((id, i) => until(owners[i + 3]!, id, (v) => v.queue_position !== null && v.queue_position <= 7)));
    expect(rest.map((v) => v.queue_position)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const starts = rest.map((v) => v.estimated_start_at!);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
  });

  it('a video whose first GPU output is recorded leaves the queue with its real start; the queue waits for its slot', async () => {
    // A seeded video (no workflow) joins the queue at its plan, behind the seven.
    const late = await seedVideo(stack.eventStore, {
      ownerId: aliceId,
      finished: false,
      then: (_, at) => [{ type: 'PlanChunks', data: { fps: 24, frames_per_chunk: 24, at } }],
    });
    expect((await until('alice', late, (v) => v.queue_position !== null)).queue_position).toBe(8);
    const at = Math.floor(Date.now() / 1000);
    await record(late, [{ type: 'RecordVideoChunk', data: { index: 0, blob_key: `videos/${late}/chunks/000.ts`, frames: 24, collisions: [], at } }]);
    const rendering = await until('alice', late, (v) => v.queue_position === null);
    expect(rendering.status).toBe('in_progress');
    expect(rendering.estimated_start_at).toBe(at);
    // Still rendering: expected to finish its 1 s at the measured rate, not before now.
    expect(rendering.estimated_completion_at).toBeGreaterThanOrEqual(at + 8);
    // The seven stay 1..7, now behind a slot that is busy: the head starts when it is expected to free up.
    const rest = await Promise.all(ids.slice(3).map((id, i) => get(owners[i + 3]!, id)));
    expect(rest.map((v) => v.queue_position)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(rest[0]!.estimated_start_at).toBe(rendering.estimated_completion_at);
  });
});
