// The GPU queue's definition and estimates as pure functions (projections/gpuQueue.ts): when a video starts and stops
// waiting for a GPU, the rates measured on recent renders, and the estimates of a waiting video.
import { foldVideo, type VideoEvent } from '../../domain/video';
import { estimateWait, gpuQueueColumns, renderRates, type GpuQueueColumns } from '../../projections/gpuQueue';
import { videoRequest } from '../support/videos';

const none: GpuQueueColumns = { gpu_wait_since_ms: null, render_started_at: null };

/** The queue columns after each event of a story, each recorded at 1000 * its `at`. */
function columnsAlong(events: VideoEvent[]): GpuQueueColumns[] {
  const out: GpuQueueColumns[] = [];
  let columns = none;
  events.forEach((event, i) => {
    columns = gpuQueueColumns(columns, event, foldVideo(events.slice(0, i + 1)), event.data.at * 1000);
    out.push(columns);
  });
  return out;
}

const requested: VideoEvent = { type: 'VideoRequested', data: videoRequest('two red balls', { video_id: 'video_a', owner_id: 'user_a', seconds: 2, at: 100 }) };
const allowed: VideoEvent = { type: 'PromptModerated', data: { case_id: 'case_1', verdict: 'allow', categories: [], reasons: [], at: 101 } };
const planned: VideoEvent = {
  type: 'ChunksPlanned',
  data: { total: 1, fps: 24, frames: 24, chunks: [{ index: 0, start_frame: 0, num_frames: 24 }], at: 102 },
};
const scene = (source: 'prompt' | 'extension', at: number): VideoEvent => ({
  type: 'SceneDescribed',
  data: { prompt_used: 'p', seed: 1, pack: 'reference@1', width: 256, height: 256, bodies: [], world: [], ambient: [], initial_state: [], source, at },
});
const chunk = (at: number): VideoEvent => ({ type: 'VideoChunkRendered', data: { index: 0, blob_key: 'k', frames: 24, collisions: [], at } });

describe('waiting for a GPU', () => {
  it('starts at ChunksPlanned and ends at the first GPU output, whose time is the render start', () => {
    // Given a prompt's video, when it is requested, moderated, planned and its scene described on the GPU
    const columns = columnsAlong([requested, allowed, planned, scene('prompt', 110), chunk(115)]);
    // Then it waits from its plan's record until the scene, which started its render
    expect(columns).toEqual([
      none,
      none,
      { gpu_wait_since_ms: 102_000, render_started_at: null },
      { gpu_wait_since_ms: null, render_started_at: 110 },
      { gpu_wait_since_ms: null, render_started_at: 110 },
    ]);
  });

  it("an extension's scene needs no GPU: it waits until its first chunk", () => {
    const columns = columnsAlong([requested, allowed, planned, scene('extension', 103), chunk(120)]);
    expect(columns[3]).toEqual({ gpu_wait_since_ms: 102_000, render_started_at: null });
    expect(columns[4]).toEqual({ gpu_wait_since_ms: null, render_started_at: 120 });
  });

  it('a video cancelled while waiting leaves the queue without a render start', () => {
    const columns = columnsAlong([requested, allowed, planned, { type: 'VideoCancelled', data: { by: 'user_a', at: 130 } }]);
    expect(columns[3]).toEqual(none);
  });
});

describe('render rates', () => {
  it('are null with no completed render to measure', () => {
    expect(renderRates([], [])).toBeNull();
    expect(renderRates([], [{ seconds: 4, startedAt: 100 }])).toBeNull();
  });

  it('are the total render time over the total seconds of video, on as many slots as were seen busy at once', () => {
    // Given two overlapping renders (8 s for 4 s of video, 12 s for 2 s) and one running now
    const rates = renderRates(
      [
        { seconds: 4, startedAt: 100, completedAt: 108 },
        { seconds: 2, startedAt: 104, completedAt: 116 },
      ],
      [{ seconds: 1, startedAt: 200 }],
    );
    // Then 20 s / 6 s of video, and two slots
    expect(rates).toEqual({ secondsPerVideoSecond: 20 / 6, slots: 2 });
  });
});

describe('the estimates of a waiting video', () => {
  const rates = { secondsPerVideoSecond: 2, slots: 2 };

  it('the first in line with a free slot starts now', () => {
    // Given one slot rendering (done at 1010) and one free, when the first in line asks at 1000
    const estimate = estimateWait(rates, { now: 1000, rendering: [{ seconds: 5, startedAt: 1000 }], aheadSeconds: 0, seconds: 4 });
    // Then it starts now and takes 4 s of video at 2 s each
    expect(estimate).toEqual({ startAt: 1000, completionAt: 1008 });
  });

  it('the work ahead is shared by the slots as they free up', () => {
    // Given slots free at 1000 and 1010, and 14 s of work ahead (7 s of video): the first slot alone works to 1010
    // (10 s), then both share the last 4 s
    const estimate = estimateWait(rates, { now: 1000, rendering: [{ seconds: 5, startedAt: 1000 }], aheadSeconds: 7, seconds: 1 });
    expect(estimate).toEqual({ startAt: 1012, completionAt: 1014 });
  });

  it('is ordered like the positions: more work ahead never starts earlier', () => {
    const starts = [0, 4, 8, 12, 16, 20].map((ahead) => estimateWait(rates, { now: 1000, rendering: [], aheadSeconds: ahead, seconds: 4 }).startAt);
    expect(starts).toEqual([1000, 1004, 1008, 1012, 1016, 1020]);
  });

  it('a render overdue by the rate is taken to end now, never in the past', () => {
    const estimate = estimateWait(
      { secondsPerVideoSecond: 2, slots: 1 },
      { now: 1000, rendering: [{ seconds: 1, startedAt: 900 }], aheadSeconds: 0, seconds: 1 },
    );
    expect(estimate).toEqual({ startAt: 1000, completionAt: 1002 });
  });
});
