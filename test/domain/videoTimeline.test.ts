// A video job's timeline (domain/video/timeline.ts), given/when/then: given the stages the folded state went through
// with the events' recorded times, then contiguous entries, the open one last while the job runs.
import { evolve, initialVideoState, planChunks, type VideoEvent, type VideoStage } from '../../domain/video';
import { advanceTimeline, type TimelineEntry } from '../../domain/video/timeline';

const T0 = Date.parse('2026-11-25T14:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();

/** The timeline of `steps`: each the stage an event left the state in and its time (ms after T0). */
function timelineOf(steps: Array<[VideoStage, number]>): TimelineEntry[] {
  return steps.reduce<TimelineEntry[]>((timeline, [stage, ms]) => advanceTimeline(timeline, stage, T0 + ms), []);
}

describe('video timeline', () => {
  it('a stage per change of the folded stage, each ending when the next starts; the running one open', () => {
    expect(
      timelineOf([
        ['moderating', 0],
        ['moderating', 40],
        ['rendering', 120],
        ['rendering', 900],
      ]),
    ).toEqual([
      { stage: 'moderating', started_at: iso(0), ended_at: iso(120), duration_ms: 120 },
      { stage: 'rendering', started_at: iso(120), ended_at: null, duration_ms: null },
    ]);
  });

  it('a final stage starts and ends at once, so a finished job has no open entry; later events change nothing', () => {
    const done = timelineOf([
      ['moderating', 0],
      ['rendering', 100],
      ['muxing', 5000],
      ['reviewing', 5600],
      ['completed', 5700],
      ['completed', 9000],
    ]);
    expect(done.map((e) => [e.stage, e.duration_ms])).toEqual([
      ['moderating', 100],
      ['rendering', 4900],
      ['muxing', 600],
      ['reviewing', 100],
      ['completed', 0],
    ]);
    expect(done.at(-1)).toEqual({ stage: 'completed', started_at: iso(5700), ended_at: iso(5700), duration_ms: 0 });
    for (const [i, entry] of done.entries()) if (i > 0) expect(entry.started_at).toBe(done[i - 1]!.ended_at);
  });

  it('a time before the open stage began (writers stamped out of order) counts as its start: no negative durations', () => {
    expect(
      timelineOf([
        ['moderating', 500],
        ['rendering', 450],
      ]),
    ).toEqual([
      { stage: 'moderating', started_at: iso(500), ended_at: iso(500), duration_ms: 0 },
      { stage: 'rendering', started_at: iso(500), ended_at: null, duration_ms: null },
    ]);
  });

  it('follows the stages the domain evolve gives: moderating, rendering, muxing, reviewing, blocked', () => {
    const at = 1;
    const events: VideoEvent[] = [
      {
        type: 'VideoRequested',
        data: {
          video_id: 'video_1',
          owner_id: 'u',
          prompt: 'p',
          model: 'reference',
          seconds: 1,
          size: '256x256',
          style: 'cinematic',
          camera: 'static',
          seed: 1,
          cameo_ids: [],
          publish: false,
          remixed_from_video_id: null,
          extended_from_video_id: null,
          has_input_reference: false,
          at,
        },
      },
      { type: 'PromptModerated', data: { case_id: 'c', verdict: 'allow', categories: [], reasons: [], at } },
      { type: 'ChunksPlanned', data: { total: 1, fps: 24, frames: 24, chunks: planChunks(1, 24, 24), at } },
      { type: 'VideoChunkRendered', data: { index: 0, blob_key: 'v', frames: 24, collisions: [], at } },
      { type: 'AudioChunkRendered', data: { index: 0, blob_key: 'a', samples: 48000, at } },
      { type: 'Muxed', data: { content_key: 'c', thumbnail_key: 't', spritesheet_key: 's', duration_s: 1, bytes: 1, at } },
      { type: 'VideoBlocked', data: { code: 'moderation_blocked', message: 'output blocked', at } },
    ];
    let state = initialVideoState;
    let timeline: TimelineEntry[] = [];
    events.forEach((e, i) => {
      state = evolve(state, e);
      timeline = advanceTimeline(timeline, state.stage, T0 + i * 10);
    });
    expect(timeline.map((e) => [e.stage, e.started_at, e.ended_at])).toEqual([
      ['moderating', iso(0), iso(20)],
      ['rendering', iso(20), iso(40)],
      ['muxing', iso(40), iso(50)],
      ['reviewing', iso(50), iso(60)],
      ['blocked', iso(60), iso(60)],
    ]);
  });
});
