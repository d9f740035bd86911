// The video decider, given/when/then: what each command records, and what it refuses.
import { decide, evolve, foldVideo, initialVideoState, planChunks, VideoCommandRefused, type VideoEvent, type VideoRequestedData } from '../../domain/video';
import { specFor } from '../support/decider';
import { videoRequest } from '../support/videos';

const spec = specFor({ decide, evolve, initialState: initialVideoState });

const request: VideoRequestedData = {
  ...videoRequest('three red balls', { video_id: 'video_1', owner_id: 'user_1', seed: 42, at: 1000 }),
};
const requested: VideoEvent = { type: 'VideoRequested', data: request };
const allowed: VideoEvent = { type: 'PromptModerated', data: { case_id: 'case_1', verdict: 'allow', categories: [], reasons: [], at: 1001 } };
const planned: VideoEvent = {
  type: 'ChunksPlanned',
  data: { total: 2, fps: 24, frames: 48, chunks: planChunks(2, 24, 24), at: 1002 },
};
const rendered = (index: number): VideoEvent[] => [
  {
    type: 'VideoChunkRendered',
    data: { index, blob_key: `v/${index}`, frames: 24, collisions: [{ frame: 3, sample: 7250, speed: 1.5, body: 0, kind: 'floor' }], at: 1003 },
  },
  { type: 'AudioChunkRendered', data: { index, blob_key: `a/${index}`, samples: 48000, at: 1003 } },
];
const muxed: VideoEvent = {
  type: 'Muxed',
  data: { content_key: 'c.mp4', thumbnail_key: 't.jpg', spritesheet_key: 's.jpg', duration_s: 2, bytes: 100, at: 1004 },
};
const outputAllowed: VideoEvent = { type: 'OutputModerated', data: { case_id: 'case_2', verdict: 'allow', categories: [], reasons: [], at: 1005 } };
const completed: VideoEvent = { type: 'VideoCompleted', data: { at: 1006 } };
const refusal = (code: string) => (err: unknown) => err instanceof VideoCommandRefused && err.code === code;

describe('video decider', () => {
  it('records a request once and refuses the same video twice', () => {
    spec.given([]).when({ type: 'RequestVideo', data: request }).then([requested]);
    spec.given([requested]).when({ type: 'RequestVideo', data: request }).thenThrows(refusal('already_exists'));
  });

  it('blocks the video before any rendering when the prompt is blocked', () => {
    spec
      .given([requested])
      .when({ type: 'RecordPromptVerdict', data: { case_id: 'c', verdict: 'block', categories: ['violence'], reasons: ['graphic violence'], at: 1001 } })
      .then([
        { type: 'PromptModerated', data: { case_id: 'c', verdict: 'block', categories: ['violence'], reasons: ['graphic violence'], at: 1001 } },
        {
          type: 'VideoBlocked',
          data: { code: 'moderation_blocked', message: 'prompt blocked by moderation (case c): graphic violence', case_id: 'c', at: 1001 },
        },
      ]);
    const state = foldVideo([
      requested,
      ...decide({ type: 'RecordPromptVerdict', data: { case_id: 'c', verdict: 'block', categories: ['x'], reasons: ['y'], at: 1 } }, foldVideo([requested])),
    ]);
    expect(state).toMatchObject({ status: 'failed', stage: 'blocked', error: { code: 'moderation_blocked' } });
    spec
      .given([requested, { type: 'VideoBlocked', data: { code: 'moderation_blocked', message: 'm', at: 1 } }])
      .when({ type: 'PlanChunks', data: { fps: 24, frames_per_chunk: 24, at: 2 } })
      .thenThrows(refusal('already_finished'));
  });

  it('plans chunks of 24 frames with a shorter last one', () => {
    expect(planChunks(2, 24, 24)).toEqual([
      { index: 0, start_frame: 0, num_frames: 24 },
      { index: 1, start_frame: 24, num_frames: 24 },
    ]);
    expect(planChunks(1, 24, 10).map((c) => c.num_frames)).toEqual([10, 10, 4]);
    spec
      .given([requested, allowed])
      .when({ type: 'PlanChunks', data: { fps: 24, frames_per_chunk: 24, at: 1002 } })
      .then([planned]);
  });

  it('records each chunk once, even when a retried activity reports it again', () => {
    const chunk = { index: 0, blob_key: 'v/0', frames: 24, collisions: [{ frame: 3, sample: 7250, speed: 1.5, body: 0, kind: 'floor' as const }], at: 1003 };
    spec
      .given([requested, allowed, planned])
      .when({ type: 'RecordVideoChunk', data: chunk })
      .then([{ type: 'VideoChunkRendered', data: chunk }]);
    spec
      .given([requested, allowed, planned, { type: 'VideoChunkRendered', data: chunk }])
      .when({ type: 'RecordVideoChunk', data: chunk })
      .then([]);
    spec
      .given([requested, allowed, planned])
      .when({ type: 'RecordVideoChunk', data: { ...chunk, index: 2 } })
      .thenThrows(refusal('invalid_chunk'));
  });

  it('tracks progress and stages through rendering, muxing and review', () => {
    const states = [requested, allowed, planned, ...rendered(0), ...rendered(1), muxed, outputAllowed, completed].map((_, i, all) =>
      foldVideo(all.slice(0, i + 1)),
    );
    expect(states.map((s) => s.stage)).toEqual([
      'moderating',
      'moderating',
      'rendering',
      'rendering',
      'rendering',
      'rendering',
      'muxing',
      'reviewing',
      'reviewing',
      'completed',
    ]);
    const progress = states.map((s) => s.progress);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!).toBeGreaterThanOrEqual(progress[i - 1]!);
    expect(progress[progress.length - 1]).toBe(100);
    expect(states[states.length - 1]).toMatchObject({ status: 'completed', chunks: { total: 2, videoDone: 2, audioDone: 2 }, completedAt: 1006 });
  });

  it('refuses to mux before every chunk is rendered', () => {
    spec
      .given([requested, allowed, planned, ...rendered(0)])
      .when({ type: 'RecordMux', data: muxed.data as never })
      .thenThrows(refusal('wrong_stage'));
  });

  it('blocks a video whose output fails moderation, so it never becomes available', () => {
    const blocked = { case_id: 'c2', verdict: 'block' as const, categories: ['photosensitivity'], reasons: ['5.0 general flashes per second'], at: 1005 };
    const history = [requested, allowed, planned, ...rendered(0), ...rendered(1), muxed];
    spec
      .given(history)
      .when({ type: 'RecordOutputVerdict', data: blocked })
      .then([
        { type: 'OutputModerated', data: blocked },
        {
          type: 'VideoBlocked',
          data: { code: 'moderation_blocked', message: 'output blocked by moderation (case c2): 5.0 general flashes per second', case_id: 'c2', at: 1005 },
        },
      ]);
    spec
      .given([...history, { type: 'OutputModerated', data: blocked }, { type: 'VideoBlocked', data: { code: 'moderation_blocked', message: 'm', at: 1005 } }])
      .when({ type: 'CompleteVideo', data: { at: 1006 } })
      .thenThrows(refusal('already_finished'));
  });

  it('cancels a running video and refuses to cancel a finished one', () => {
    spec
      .given([requested, allowed, planned])
      .when({ type: 'CancelVideo', data: { by: 'user_1', at: 1003 } })
      .then([{ type: 'VideoCancelled', data: { by: 'user_1', at: 1003 } }]);
    spec
      .given([requested, allowed, planned, ...rendered(0), ...rendered(1), muxed, outputAllowed, completed])
      .when({ type: 'CancelVideo', data: { by: 'user_1', at: 1 } })
      .thenThrows(refusal('already_finished'));
  });

  it('cancels a running video at its deadline, the cancellation naming why', () => {
    const byDeadline = { by: 'user_1', at: 1003, code: 'deadline_exceeded' as const, message: 'the job was not done by its deadline' };
    spec
      .given([requested, allowed, planned])
      .when({ type: 'CancelVideo', data: byDeadline })
      .then([{ type: 'VideoCancelled', data: byDeadline }]);
    const state = [requested, allowed, planned, { type: 'VideoCancelled', data: byDeadline } as VideoEvent].reduce(evolve, initialVideoState);
    expect(state).toMatchObject({ status: 'cancelled', error: { code: 'deadline_exceeded', message: 'the job was not done by its deadline' } });
  });

  it('ignores a failure reported after the video ended', () => {
    spec
      .given([requested, { type: 'VideoCancelled', data: { by: 'u', at: 1 } }])
      .when({ type: 'FailVideo', data: { code: 'render_failed', message: 'x', at: 2 } })
      .then([]);
    spec
      .given([requested])
      .when({ type: 'FailVideo', data: { code: 'render_failed', message: 'boom', at: 2 } })
      .then([{ type: 'VideoFailed', data: { code: 'render_failed', message: 'boom', at: 2 } }]);
  });

  it('publishes only a completed video, once', () => {
    const done = [requested, allowed, planned, ...rendered(0), ...rendered(1), muxed, outputAllowed, completed];
    const publish = { by: 'user_1', cameo_uses: [], at: 1007 };
    spec
      .given(done)
      .when({ type: 'PublishVideo', data: publish })
      .then([{ type: 'VideoPublished', data: publish }]);
    spec
      .given([...done, { type: 'VideoPublished', data: publish }])
      .when({ type: 'PublishVideo', data: publish })
      .then([]);
    spec.given([requested, allowed, planned]).when({ type: 'PublishVideo', data: publish }).thenThrows(refusal('not_completed'));
    expect(foldVideo([...done, { type: 'VideoPublished', data: publish }]).visibility).toBe('published');
  });

  it('deletes a finished video once, and refuses to delete one still being generated', () => {
    const cancelled: VideoEvent = { type: 'VideoCancelled', data: { by: 'user_1', at: 5 } };
    spec
      .given([requested, cancelled])
      .when({ type: 'DeleteVideo', data: { by: 'user_1', at: 6 } })
      .then([{ type: 'VideoDeleted', data: { by: 'user_1', at: 6 } }]);
    spec
      .given([requested, cancelled, { type: 'VideoDeleted', data: { by: 'user_1', at: 6 } }])
      .when({ type: 'DeleteVideo', data: { by: 'user_1', at: 7 } })
      .then([]);
    spec
      .given([requested, allowed, planned])
      .when({ type: 'DeleteVideo', data: { by: 'user_1', at: 6 } })
      .thenThrows(refusal('wrong_stage'));
  });
});

describe('the live preview', () => {
  const passed = (index: number): VideoEvent => ({ type: 'PreviewSegmentPassed', data: { index, at: 1004 } });
  const pass = (index: number) => ({ type: 'PassPreviewSegment' as const, data: { index, at: 1004 } });

  it('passes a segment once both its chunks are recorded, in order from the first', () => {
    spec
      .given([requested, allowed, planned, ...rendered(0)])
      .when(pass(0))
      .then([passed(0)]);
    spec
      .given([requested, allowed, planned, ...rendered(0), ...rendered(1), passed(0)])
      .when(pass(1))
      .then([passed(1)]);
    expect(foldVideo([requested, allowed, planned, ...rendered(0), ...rendered(1), passed(0), passed(1)]).previewSegments).toBe(2);
  });

  it('records a segment once when the same pass comes again', () => {
    spec
      .given([requested, allowed, planned, ...rendered(0), passed(0)])
      .when(pass(0))
      .then([]);
  });

  it('refuses a segment before the one ahead of it, or before its audio is recorded', () => {
    spec
      .given([requested, allowed, planned, ...rendered(0), ...rendered(1)])
      .when(pass(1))
      .thenThrows(refusal('wrong_stage'));
    spec
      .given([requested, allowed, planned, rendered(0)[0]!])
      .when(pass(0))
      .thenThrows(refusal('wrong_stage'));
  });

  it('refuses a pass once the video has ended', () => {
    spec
      .given([requested, allowed, planned, ...rendered(0), { type: 'VideoCancelled', data: { by: 'user_1', at: 1004 } }])
      .when(pass(0))
      .thenThrows(refusal('already_finished'));
  });
});

describe('video engagement', () => {
  const finished = [requested, allowed, planned, ...rendered(0), ...rendered(1), muxed, outputAllowed, completed];
  const liked = (user_id: string, at = 2000): VideoEvent => ({ type: 'VideoLiked', data: { user_id, at } });

  it('records a like once per user and an unlike only of a like', () => {
    spec
      .given(finished)
      .when({ type: 'LikeVideo', data: { user_id: 'user_2', at: 2000 } })
      .then([liked('user_2')]);
    spec
      .given([...finished, liked('user_2')])
      .when({ type: 'LikeVideo', data: { user_id: 'user_2', at: 2001 } })
      .then([]);
    spec
      .given([...finished, liked('user_2')])
      .when({ type: 'UnlikeVideo', data: { user_id: 'user_2', at: 2002 } })
      .then([{ type: 'VideoUnliked', data: { user_id: 'user_2', at: 2002 } }]);
    spec
      .given(finished)
      .when({ type: 'UnlikeVideo', data: { user_id: 'user_2', at: 2002 } })
      .then([]);
  });

  it('counts likes and keeps the likers, across likes and unlikes', () => {
    const state = foldVideo([...finished, liked('user_2'), liked('user_3'), { type: 'VideoUnliked', data: { user_id: 'user_2', at: 2003 } }, liked('user_4')]);
    expect(state).toMatchObject({ likes: 2, likers: ['user_3', 'user_4'] });
    expect(foldVideo([...finished, { type: 'VideoViewed', data: { count: 3, at: 2000 } }, { type: 'VideoViewed', data: { count: 2, at: 2005 } }]).views).toBe(
      5,
    );
  });

  it('refuses a like on an unfinished, deleted or taken-down video', () => {
    const like = { type: 'LikeVideo' as const, data: { user_id: 'user_2', at: 2000 } };
    spec.given([requested, allowed, planned]).when(like).thenThrows(refusal('not_completed'));
    spec
      .given([...finished, { type: 'VideoDeleted', data: { by: 'user_1', at: 1500 } }])
      .when(like)
      .thenThrows(refusal('already_finished'));
    spec
      .given([...finished, { type: 'VideoTakenDown', data: { by: 'user_9', reason: 'cameo owner', at: 1500 } }])
      .when(like)
      .thenThrows(refusal('already_finished'));
    spec.given([]).when(like).thenThrows(refusal('not_found'));
  });
});

describe('video scenes, remixes and extensions', () => {
  const scene = {
    prompt_used: 'three red balls',
    seed: 42,
    pack: 'reference@1.0.0',
    width: 256,
    height: 256,
    bodies: [1, 0.9, 0.1, 0.1, 0.06, 1, 0.72, 0],
    world: [1.6, 0.8, 0, 0, 0.1, 0.1, 0.1, 1],
    ambient: [0.3, 110, 0.3, 0],
    initial_state: [0.2, 0.5, 0.1, 0],
    source: 'prompt' as const,
    at: 1002,
  };
  const described: VideoEvent = { type: 'SceneDescribed', data: scene };
  const finished = [requested, allowed, planned, described, ...rendered(0), ...rendered(1), muxed, outputAllowed, completed];

  it('records the scene once, once the chunks are planned and before any is rendered, and keeps it in the state', () => {
    spec.given([requested, allowed, planned]).when({ type: 'RecordScene', data: scene }).then([described]);
    spec
      .given([requested, allowed, planned, described])
      .when({ type: 'RecordScene', data: { ...scene, at: 1003 } })
      .then([]);
    spec.given([requested, allowed]).when({ type: 'RecordScene', data: scene }).thenThrows(refusal('wrong_stage'));
    spec
      .given([requested, allowed, planned, ...rendered(0)])
      .when({ type: 'RecordScene', data: scene })
      .thenThrows(refusal('wrong_stage'));
    spec.given([]).when({ type: 'RecordScene', data: scene }).thenThrows(refusal('not_found'));
    expect(foldVideo([requested, allowed, planned, described]).scene).toEqual(scene);
  });

  it("plans an extension's chunks from its source's last frame, on the whole render's boundaries", () => {
    const extension: VideoEvent = { type: 'VideoRequested', data: { ...request, seconds: 8, extended_from_video_id: 'video_0' } };
    const chunks = planChunks(8, 24, 24, 96);
    expect(chunks).toEqual(
      planChunks(8, 24, 24)
        .slice(4)
        .map((c, i) => ({ ...c, index: i })),
    );
    spec
      .given([extension, allowed])
      .when({ type: 'PlanChunks', data: { fps: 24, frames_per_chunk: 24, from_frame: 96, at: 1002 } })
      .then([{ type: 'ChunksPlanned', data: { total: 4, fps: 24, frames: 192, chunks, from_frame: 96, at: 1002 } }]);
    spec
      .given([extension, allowed])
      .when({ type: 'PlanChunks', data: { fps: 24, frames_per_chunk: 24, from_frame: 100, at: 1002 } })
      .thenThrows(refusal('invalid_chunk'));
    spec
      .given([extension, allowed])
      .when({ type: 'PlanChunks', data: { fps: 24, frames_per_chunk: 24, from_frame: 192, at: 1002 } })
      .thenThrows(refusal('invalid_chunk'));
  });

  it('records a remix on its completed parent once', () => {
    const remixed: VideoEvent = { type: 'VideoRemixed', data: { child_video_id: 'video_2', by: 'user_2', at: 2000 } };
    spec
      .given(finished)
      .when({ type: 'RecordRemix', data: { child_video_id: 'video_2', by: 'user_2', at: 2000 } })
      .then([remixed]);
    spec
      .given([...finished, remixed])
      .when({ type: 'RecordRemix', data: { child_video_id: 'video_2', by: 'user_2', at: 2001 } })
      .then([]);
    spec
      .given([requested, allowed, planned])
      .when({ type: 'RecordRemix', data: { child_video_id: 'video_2', by: 'user_2', at: 2000 } })
      .thenThrows(refusal('not_completed'));
    spec
      .given([])
      .when({ type: 'RecordRemix', data: { child_video_id: 'video_2', by: 'user_2', at: 2000 } })
      .thenThrows(refusal('not_found'));
    expect(foldVideo([...finished, remixed]).remixes).toEqual(['video_2']);
  });
});

describe('video decider: human review and appeals', () => {
  const review = (case_id: string, at = 1001): VideoEvent => ({
    type: 'PromptModerated',
    data: { case_id, verdict: 'review', categories: ['graphic_violence'], reasons: ['possibly graphic'], at },
  });

  it('given a prompt in the review band, then the video waits in review, and a decision for another case is refused', () => {
    spec
      .given([requested])
      .when({ type: 'RecordPromptVerdict', data: review('case_r').data as never })
      .then([review('case_r')]);
    expect(foldVideo([requested, review('case_r')])).toMatchObject({
      status: 'queued',
      stage: 'in_review',
      moderation: { case_id: 'case_r', waiting: 'review' },
    });
    spec
      .given([requested, review('case_r')])
      .when({ type: 'RecordReviewDecision', data: { case_id: 'case_x', decision: 'allow', by: 'user_mod', reason: 'r', at: 1002 } })
      .thenThrows(refusal('not_in_review'));
  });

  it('given a video in review, when a moderator allows it, then it goes on to rendering; when blocked, it ends naming the case', () => {
    const allowedByPerson: VideoEvent = {
      type: 'ModerationReviewed',
      data: { case_id: 'case_r', stage: 'prompt', decision: 'allow', by: 'user_mod', reason: 'fine', at: 1002 },
    };
    spec
      .given([requested, review('case_r')])
      .when({ type: 'RecordReviewDecision', data: { case_id: 'case_r', decision: 'allow', by: 'user_mod', reason: 'fine', at: 1002 } })
      .then([allowedByPerson]);
    expect(foldVideo([requested, review('case_r'), allowedByPerson])).toMatchObject({ status: 'in_progress', stage: 'moderating' });
    spec
      .given([requested, review('case_r'), allowedByPerson])
      .when({ type: 'PlanChunks', data: { fps: 24, frames_per_chunk: 24, at: 1003 } })
      .then([{ type: 'ChunksPlanned', data: { total: 2, fps: 24, frames: 48, chunks: planChunks(2, 24, 24), at: 1003 } }]);
    spec
      .given([requested, review('case_r')])
      .when({ type: 'RecordReviewDecision', data: { case_id: 'case_r', decision: 'block', by: null, reason: 'nobody decided', at: 1002 } })
      .then([
        { type: 'ModerationReviewed', data: { case_id: 'case_r', stage: 'prompt', decision: 'block', by: null, reason: 'nobody decided', at: 1002 } },
        {
          type: 'VideoBlocked',
          data: {
            code: 'moderation_blocked',
            message: "prompt blocked by moderation (case case_r): the policy's default (no moderator decided in time): nobody decided",
            case_id: 'case_r',
            at: 1002,
          },
        },
      ]);
  });

  it('given a blocked video, when its owner appeals, then it waits in review once; upheld, a prompt renders and an output completes', () => {
    const blocked = [
      requested,
      review('case_r'),
      ...decide(
        { type: 'RecordReviewDecision', data: { case_id: 'case_r', decision: 'block', by: 'm', reason: 'no', at: 2 } },
        foldVideo([requested, review('case_r')]),
      ),
    ];
    const appealed: VideoEvent = { type: 'VideoAppealed', data: { case_id: 'case_r', stage: 'prompt', by: 'user_1', at: 3 } };
    spec
      .given(blocked)
      .when({ type: 'AppealBlock', data: { case_id: 'case_r', by: 'user_1', at: 3 } })
      .then([appealed]);
    spec
      .given(blocked)
      .when({ type: 'AppealBlock', data: { case_id: 'case_other', by: 'user_1', at: 3 } })
      .thenThrows(refusal('wrong_stage'));
    expect(foldVideo([...blocked, appealed])).toMatchObject({ status: 'failed', stage: 'in_review', moderation: { waiting: 'appeal', appealed: true } });
    const upheld: VideoEvent = {
      type: 'ModerationReviewed',
      data: { case_id: 'case_r', stage: 'prompt', decision: 'allow', by: 'm2', reason: 'ok', appeal: true, at: 4 },
    };
    spec
      .given([...blocked, appealed])
      .when({ type: 'RecordAppealDecision', data: { case_id: 'case_r', decision: 'allow', by: 'm2', reason: 'ok', at: 4 } })
      .then([upheld]);
    expect(foldVideo([...blocked, appealed, upheld])).toMatchObject({ status: 'in_progress', stage: 'moderating', error: null });
    const denied: VideoEvent = { type: 'ModerationReviewed', data: { ...upheld.data, decision: 'block' } as never };
    expect(foldVideo([...blocked, appealed, denied])).toMatchObject({ status: 'failed', stage: 'blocked', error: { code: 'moderation_blocked' } });
    // Appealed once: the block that stands after it is not appealed again.
    spec
      .given([...blocked, appealed, denied])
      .when({ type: 'AppealBlock', data: { case_id: 'case_r', by: 'user_1', at: 5 } })
      .thenThrows(refusal('wrong_stage'));

    // An output blocked, appealed and upheld completes from the content already muxed.
    const outputBlocked = { case_id: 'case_o', verdict: 'block' as const, categories: ['sexual'], reasons: ['frames'], at: 1005 };
    const history = [requested, allowed, planned, ...rendered(0), ...rendered(1), muxed];
    const afterBlock = [...history, ...decide({ type: 'RecordOutputVerdict', data: outputBlocked }, foldVideo(history))];
    const outAppealed = [...afterBlock, ...decide({ type: 'AppealBlock', data: { case_id: 'case_o', by: 'user_1', at: 1006 } }, foldVideo(afterBlock))];
    const outUpheld = [
      ...outAppealed,
      ...decide({ type: 'RecordAppealDecision', data: { case_id: 'case_o', decision: 'allow', by: 'm2', reason: 'ok', at: 1007 } }, foldVideo(outAppealed)),
    ];
    expect(foldVideo(outUpheld)).toMatchObject({ status: 'in_progress', stage: 'reviewing' });
    spec
      .given(outUpheld)
      .when({ type: 'CompleteVideo', data: { at: 1008 } })
      .then([{ type: 'VideoCompleted', data: { at: 1008 } }]);
  });
});
