// Domain streams folded by category (domain/streams.ts), given/when/then: given a stream's events, when folded as of a
// revision, then the state the system's own evolve gives; names of no known category and events no evolve knows are
// refused with errors that say what was wrong.
import { foldCameo, initialCameoState, type CameoEvent } from '../../domain/cameo';
import { initialModerationState, type ModerationEvent } from '../../domain/moderation/events';
import { categoryOf, foldStream, STREAM_CATEGORIES, UnfoldableEvent, UnknownStreamCategory, type FoldedStream, type StreamEvent } from '../../domain/streams';
import { foldVideo, planChunks, type VideoEvent } from '../../domain/video';
import { videoRequest } from '../support/videos';

/** given(stream, events).whenFoldedUntil(revision).then(state) / .thenThrows(check). */
function given(stream: string, events: Array<{ type: string; data: unknown }>) {
  const recorded: StreamEvent[] = events.map((e, i) => ({ ...e, revision: BigInt(i) }));
  return {
    whenFoldedUntil(revision: number = recorded.length - 1) {
      const run = () => foldStream(stream, recorded.slice(0, revision + 1));
      return {
        then(expected: FoldedStream) {
          expect(run()).toEqual(expected);
        },
        thenThrows<E extends Error>(type: new (...args: never[]) => E, check: (err: E) => void) {
          let thrown: unknown;
          try {
            run();
          } catch (err) {
            thrown = err;
          }
          expect(thrown).toBeInstanceOf(type);
          check(thrown as E);
        },
      };
    },
  };
}

const at = 1000;
const video: VideoEvent[] = [
  {
    type: 'VideoRequested',
    data: {
      ...videoRequest('three red balls', { video_id: 'video_1', owner_id: 'user_1', seconds: 1, at }),
    },
  },
  { type: 'PromptModerated', data: { case_id: 'case_1', verdict: 'allow', categories: [], reasons: [], at } },
  { type: 'ChunksPlanned', data: { total: 1, fps: 24, frames: 24, chunks: planChunks(1, 24, 24), at } },
  { type: 'VideoChunkRendered', data: { index: 0, blob_key: 'v/0', frames: 24, collisions: [], at } },
  { type: 'AudioChunkRendered', data: { index: 0, blob_key: 'a/0', samples: 48000, at } },
  { type: 'Muxed', data: { content_key: 'c.mp4', thumbnail_key: 't.jpg', spritesheet_key: 's.jpg', duration_s: 1, bytes: 100, at } },
  { type: 'OutputModerated', data: { case_id: 'case_2', verdict: 'allow', categories: [], reasons: [], at } },
  { type: 'VideoCompleted', data: { at: at + 1 } },
];

const cameo: CameoEvent[] = [
  {
    type: 'CameoRegistered',
    data: {
      cameo_id: 'cameo_1',
      owner_id: 'user_1',
      display_name: 'Ada',
      permission: 'approved',
      challenge_id: null,
      phrase: null,
      recording_key: 'cameos/cameo_1/recording',
      at,
    },
  },
  { type: 'CameoVerified', data: { likeness_key: 'cameos/cameo_1/likeness', checks: {}, at } },
  { type: 'CameoAccessGranted', data: { user_id: 'user_2', by: 'user_1', at: at + 1 } },
  { type: 'CameoAccessRevoked', data: { user_id: 'user_2', by: 'user_1', at: at + 2 } },
];

describe('folding a stream by its category', () => {
  it('video-<id>: the state foldVideo gives for the events up to the revision', () => {
    given('video-video_1', video)
      .whenFoldedUntil()
      .then({ category: 'video', state: foldVideo(video) });
    given('video-video_1', video)
      .whenFoldedUntil(2)
      .then({ category: 'video', state: foldVideo(video.slice(0, 3)) });
    // The same evolve: as of ChunksPlanned the job is rendering, as of AudioChunkRendered muxing.
    expect((foldStream('video-video_1', video.slice(0, 3)).state as { stage: string }).stage).toBe('rendering');
    expect((foldStream('video-video_1', video.slice(0, 5)).state as { stage: string }).stage).toBe('muxing');
  });

  it('cameo-<id>: foldCameo; a grant shows as of its revision and is gone as of the revocation', () => {
    given('cameo-cameo_1', cameo)
      .whenFoldedUntil(0)
      .then({ category: 'cameo', state: foldCameo(cameo.slice(0, 1)) });
    const granted = foldStream('cameo-cameo_1', cameo.slice(0, 3));
    expect(granted).toEqual({
      category: 'cameo',
      state: expect.objectContaining({ status: 'verified', revision: 2, grants: { user_2: { revision: 2, granted_at: at + 1 } } }),
    });
    given('cameo-cameo_1', cameo)
      .whenFoldedUntil(3)
      .then({ category: 'cameo', state: { ...foldCameo(cameo), grants: {} } });
  });

  it('cameo-<id> with no events yet: the initial state', () => {
    given('cameo-cameo_1', []).whenFoldedUntil().then({ category: 'cameo', state: initialCameoState });
  });

  it('user-<id>: the followees followeesOf gives, in the order followed', () => {
    given('user-user_1', [
      { type: 'UserFollowed', data: { followee_id: 'user_a', at } },
      { type: 'UserFollowed', data: { followee_id: 'user_b', at } },
      { type: 'UserUnfollowed', data: { followee_id: 'user_a', at } },
      { type: 'UserFollowed', data: { followee_id: 'user_c', at } },
    ])
      .whenFoldedUntil()
      .then({ category: 'user', state: { followees: ['user_b', 'user_c'] } });
  });

  it('moderation-<case id>: the case as evolveModeration folds it, open until closed', () => {
    const events: ModerationEvent[] = [
      { type: 'CaseOpened', data: { case_id: 'case_1', subject_id: 'video_1', stage: 'prompt', at } },
      { type: 'AutomatedVerdict', data: { verdict: 'block', categories: ['violence'], reasons: ['graphic'], details: {}, at } },
      { type: 'CaseClosed', data: { verdict: 'block', at } },
    ];
    const expected = {
      ...initialModerationState,
      openedAt: at,
      updatedAt: at,
      caseId: 'case_1',
      subjectId: 'video_1',
      stage: 'prompt' as const,
      verdict: 'block' as const,
      categories: ['violence'],
      reasons: ['graphic'],
    };
    given('moderation-case_1', events)
      .whenFoldedUntil(1)
      .then({ category: 'moderation', state: { ...expected, status: 'open' } });
    given('moderation-case_1', events)
      .whenFoldedUntil(2)
      .then({ category: 'moderation', state: { ...expected, status: 'closed' } });
  });
});

describe('what cannot be folded', () => {
  it('a name of no known category (or with no id) is refused, naming the known ones', () => {
    for (const stream of ['feed-1', 'video', 'video-', '-video_1', '$all', 'Video-video_1', 'constructor-x']) {
      expect(categoryOf(stream)).toBeUndefined();
      given(stream, [])
        .whenFoldedUntil()
        .thenThrows(UnknownStreamCategory, (err) => {
          expect(err.message).toBe(`stream ${JSON.stringify(stream)} is not one of video-<id>, cameo-<id>, user-<id>, moderation-<id>`);
        });
    }
    expect(STREAM_CATEGORIES).toEqual(['video', 'cameo', 'user', 'moderation']);
  });

  it('an event its category does not know: refused at its revision rather than folded into a wrong state', () => {
    given('video-video_1', [...video.slice(0, 2), { type: 'CameoAccessGranted', data: { user_id: 'user_2', by: 'user_1', at } }, ...video.slice(2)])
      .whenFoldedUntil()
      .thenThrows(UnfoldableEvent, (err) => {
        expect(err).toMatchObject({ stream: 'video-video_1', revision: 2n, eventType: 'CameoAccessGranted' });
        expect(err.message).toMatch(/^video-video_1 at revision 2: CameoAccessGranted: not an event of a video stream \(known: VideoRequested, /);
      });
    // As of the revision before it, the stream folds.
    given('video-video_1', [...video.slice(0, 2), { type: 'Nonsense', data: {} }])
      .whenFoldedUntil(1)
      .then({ category: 'video', state: foldVideo(video.slice(0, 2)) });
  });

  it('an event whose data makes evolve throw: refused, naming that event', () => {
    given('cameo-cameo_1', [...cameo.slice(0, 2), { type: 'CameoRegistered', data: null }, cameo[2]!])
      .whenFoldedUntil()
      .thenThrows(UnfoldableEvent, (err) => {
        expect(err).toMatchObject({ revision: 2n, eventType: 'CameoRegistered' });
        expect(err.message).toMatch(/^cameo-cameo_1 at revision 2: CameoRegistered: evolve failed: /);
      });
  });
});
