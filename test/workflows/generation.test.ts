// generationWorkflow end to end on the dev server: real moderation, real inference on the CPU, real ffmpeg mux.
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { Collision, VideoEvent, VideoRequestedData } from '../../domain/video';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { generationWorkflow, progressQuery } from '../../workflows';
import { detectOnsets } from '../gpu-workers/support/onsets';
import { eventually, testEnv } from '../support/env';
import { videoRequest as request, usePipeline } from '../support/pipeline';
import { syncReport } from '../support/sync';

const ffmpeg = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });

describe('generationWorkflow', () => {
  const stack = usePipeline('wf');

  const run = stack.generate;
  const eventsOf = async (req: VideoRequestedData) =>
    (await stack.store.readStream(`video-${req.video_id}`)).map((e) => ({ type: e.type, data: e.data }) as VideoEvent);

  it('turns a prompt into an MP4 with H.264 and AAC whose sounds fall on the collisions', async () => {
    const req = request('three red balls bouncing');
    const result = await run(req);
    expect(result).toMatchObject({ status: 'completed', stage: 'completed', progress: 100, chunks: { total: 2, video_done: 2, audio_done: 2 } });

    const events = await eventsOf(req);
    const types = events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual(['VideoRequested', 'PromptModerated', 'ChunksPlanned', 'SceneDescribed']);
    expect(types.slice(-3)).toEqual(['Muxed', 'OutputModerated', 'VideoCompleted']);
    // Audio chunk 0 renders beside video chunk 1, so their order in the middle may vary.
    expect(types.slice(4, -3).sort()).toEqual([
      'AudioChunkRendered',
      'AudioChunkRendered',
      'PreviewSegmentPassed',
      'PreviewSegmentPassed',
      'VideoChunkRendered',
      'VideoChunkRendered',
    ]);
    // Each segment passes the live preview's checks after both of its chunks are recorded, in order.
    const passed = events.filter((e) => e.type === 'PreviewSegmentPassed').map((e) => (e.data as { index: number }).index);
    expect(passed).toEqual([0, 1]);
    for (const index of passed) {
      const at = events.findIndex((e) => e.type === 'PreviewSegmentPassed' && (e.data as { index: number }).index === index);
      const audio = events.findIndex((e) => e.type === 'AudioChunkRendered' && (e.data as { index: number }).index === index);
      expect(audio).toBeLessThan(at);
    }
    expect(types.indexOf('VideoChunkRendered')).toBeLessThan(types.indexOf('AudioChunkRendered'));
    expect(events.filter((e) => e.type === 'VideoChunkRendered')).toHaveLength(2);

    const muxed = events.find((e) => e.type === 'Muxed')!.data as { content_key: string };
    const file = path.join(stack.pipeline.dataDir, 'check.mp4');
    fs.writeFileSync(file, await stack.pipeline.blobs.get(muxed.content_key));
    const info = await ffmpeg.probe(file);
    expect(info.video).toMatchObject({ codec: 'h264', width: 256, height: 256, fps: 24 });
    expect(info.audio).toMatchObject({ codec: 'aac', sampleRateHz: 48000 });
    expect(info.videoFrames).toBe(48);
    expect(Math.abs(info.durationS! - 2)).toBeLessThanOrEqual(1 / 24);

    // Audio and video in sync: onsets found in the decoded audio fall within one frame of the recorded collisions.
    const collisions = events.filter((e) => e.type === 'VideoChunkRendered').flatMap((e) => (e.data as { collisions: Collision[] }).collisions);
    const audio = await ffmpeg.decodeAudio(file);
    const onsets = detectOnsets(audio);
    const sync = syncReport(collisions, onsets, 2000);
    expect(sync.audible).toBeGreaterThan(0);
    expect(sync).toMatchObject({ silent: [], unexplained: [] });
    // Tighter than the one-frame requirement: the AAC encoder's priming delay must be compensated in the file.
    expect(syncReport(collisions, onsets, 48)).toMatchObject({ silent: [], unexplained: [] });
  });

  it('blocks a prompt the policy names before any GPU work', async () => {
    const req = request('a gory bloodbath');
    expect(await run(req)).toMatchObject({ status: 'failed', stage: 'blocked' });
    const events = await eventsOf(req);
    expect(events.map((e) => e.type)).toEqual(['VideoRequested', 'PromptModerated', 'VideoBlocked']);
    expect(events[2]!.data).toMatchObject({ code: 'moderation_blocked' });
  });

  it('renders a 5 Hz strobe but blocks it at the output check; a 1 Hz one completes', async () => {
    const fast = request('strobe flashing at 5 hz with two balls');
    expect(await run(fast)).toMatchObject({ status: 'failed', stage: 'blocked' });
    const fastEvents = await eventsOf(fast);
    expect(fastEvents.map((e) => e.type)).toContain('Muxed');
    expect(fastEvents.find((e) => e.type === 'VideoBlocked')!.data).toMatchObject({ code: 'moderation_blocked' });
    expect(fastEvents.map((e) => e.type)).not.toContain('VideoCompleted');

    const slow = request('strobe flashing at 1 hz with two balls');
    expect(await run(slow)).toMatchObject({ status: 'completed' });
  });

  it('is cancelled cleanly mid-render and records VideoCancelled', async () => {
    const req = request('eight bouncy balls', { seconds: 8, size: '512x512' });
    const handle = await stack.env.client.workflow.start(generationWorkflow, {
      taskQueue: stack.pipeline.taskQueue,
      workflowId: `video-${req.video_id}`,
      args: [{ request: req, actor: req.owner_id, gpuTaskQueue: stack.pipeline.gpuTaskQueue }],
    });
    await eventually(async () => ((await handle.query(progressQuery)).stage === 'rendering' ? true : undefined), 'rendering to start');
    await eventually(
      async () => ((await stack.store.readStream(`video-${req.video_id}`)).some((e) => e.type === 'VideoChunkRendered') ? true : undefined),
      'a first chunk',
    );
    await handle.cancel();
    // Cancelled within 2 s: VideoCancelled is on the stream by then.
    await eventually(
      async () => ((await stack.store.readStream(`video-${req.video_id}`)).some((e) => e.type === 'VideoCancelled') ? true : undefined),
      'VideoCancelled',
      2000,
    );
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    // GPU work stops: the chunk in flight sees the cancellation at its next heartbeat, and no further chunk starts.
    const chunkFiles = async () => (await stack.pipeline.blobs.list(`videos/${req.video_id}/`)).filter((k) => k.endsWith('.carry.json'));
    await eventually(() => (stack.pipeline.inFlight() === 0 ? true : undefined), 'the GPU activity in flight to stop', 5000);
    const rendered = (await chunkFiles()).length;
    expect(rendered).toBeLessThan(8);
    const events = await eventsOf(req);
    expect(events[events.length - 1]!.type).toBe('VideoCancelled');
    // No content.
    expect(await stack.pipeline.blobs.exists(`videos/${req.video_id}/content.mp4`)).toBe(false);
    expect(events.map((e) => e.type)).not.toContain('Muxed');
  });

  it('fails a prompt the engine refuses at once: one describeVideoScene attempt, not retried, and VideoFailed recorded', async () => {
    // What the API refuses at submission (domain/text.ts); a request that reached the workflow another way
    // (recorded before the rule, or a direct start) must still fail at once rather than after ten retries.
    const req = request('three balls \u0093 bouncing');
    const started = Date.now();
    await expect(run(req)).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(Date.now() - started).toBeLessThan(20_000);
    const events = await eventsOf(req);
    expect(events.map((e) => e.type)).toEqual(['VideoRequested', 'PromptModerated', 'ChunksPlanned', 'VideoFailed']);
    expect(events[3]!.data).toMatchObject({
      code: 'render_failed',
      message: expect.stringContaining('invalid prompt: contains control character U+0093 at index 12'),
    });
    const history = await stack.env.client.workflow.getHandle(`video-${req.video_id}`).fetchHistory();
    const attempts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
    const failure = (history.events ?? []).find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes?.failure;
    expect(failure?.applicationFailureInfo).toMatchObject({ type: 'InvalidRenderInput', nonRetryable: true });
    expect(attempts.every((a) => a === 1)).toBe(true);
  });
});
