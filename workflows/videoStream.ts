// Writing to a video's stream from a short workflow (publish, takedown, remix bookkeeping) once its generation has
// ended: read the stream, fold it, decide, append at the revision read. Likes and view counts land on the same
// stream at any time, so an append that finds the stream moved reads and decides again instead of failing.
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { decide, foldVideo, VideoCommandRefused, type VideoCommand, type VideoEvent, type VideoState } from '../domain/video';

const { appendEvents, readVideoStream } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});

/** Reads any stream as plain {type, data} and the revision to append at (a case's, a video's). */
export const readStream = readVideoStream;

/** Times the stream may move under one decision before the workflow gives up. */
const ATTEMPTS = 8;

/** The decider's refusal as the workflow's failure (a plain error would fail the workflow task and retry forever). */
export function decideOrFail(command: VideoCommand, state: VideoState): VideoEvent[] {
  try {
    return decide(command, state);
  } catch (err) {
    if (err instanceof VideoCommandRefused) throw ApplicationFailure.nonRetryable(err.message, err.code);
    throw err;
  }
}

/**
 * Reads `video-<videoId>`, gives its state to `decideOn` and appends what it returns at the revision read; when the
 * stream moved meanwhile, does it all again. Event ids derive from the workflow id and the revision extended.
 */
export async function appendToVideo(
  videoId: string,
  metadata: { actor: string },
  decideOn: (state: VideoState) => Promise<VideoEvent[]> | VideoEvent[],
): Promise<{ appended: boolean; revision: string; state: VideoState }> {
  const stream = `video-${videoId}`;
  for (let attempt = 1; ; attempt++) {
    const { events, revision } = await readVideoStream({ stream });
    const state = foldVideo(events as VideoEvent[]);
    const newEvents = await decideOn(state);
    if (newEvents.length === 0) return { appended: false, revision, state };
    try {
      const result = await appendEvents({
        stream,
        expectedRevision: revision,
        firstSeq: Number(revision) + 1,
        events: newEvents,
        metadata: { ...metadata, correlationId: videoId },
      });
      return { appended: true, revision: result.nextExpectedRevision, state };
    } catch (err) {
      const moved = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'WrongExpectedVersion';
      if (!moved || attempt >= ATTEMPTS) throw err;
    }
  }
}
