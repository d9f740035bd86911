// takedownWorkflow: takes a finished video off the feed and out of others' reach (VideoTakenDown), for the owner of a
// cameo in it or because that cameo was deleted with its videos. Like publishWorkflow, it reads the video's stream,
// asks the decider, and appends at the revision it read.
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { decide as decideVideo, foldVideo, VideoCommandRefused, type VideoCommand, type VideoEvent } from '../domain/video';

/** The decider's refusal as the workflow's failure (a plain error would fail the workflow task and retry forever). */
function decide(command: VideoCommand, state: Parameters<typeof decideVideo>[1]): VideoEvent[] {
  try {
    return decideVideo(command, state);
  } catch (err) {
    if (err instanceof VideoCommandRefused) throw ApplicationFailure.nonRetryable(err.message, err.code);
    throw err;
  }
}

const { appendEvents, readVideoStream } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});

export interface TakedownInput {
  videoId: string;
  /** Who took it down (a cameo owner's user id). */
  by: string;
  reason: string;
}

export async function takedownWorkflow(input: TakedownInput): Promise<{ takenDown: boolean; revision: string }> {
  const stream = `video-${input.videoId}`;
  const { events, revision } = await readVideoStream({ stream });
  const state = foldVideo(events as VideoEvent[]);
  const newEvents = decide({ type: 'TakeDownVideo', data: { by: input.by, reason: input.reason, at: Math.floor(Date.now() / 1000) } }, state);
  if (newEvents.length === 0) return { takenDown: state.visibility === 'taken_down' || state.deleted, revision };
  // Ids derive from this workflow's id and the stream revision it extends.
  const result = await appendEvents({ stream, expectedRevision: revision, firstSeq: Number(revision) + 1, events: newEvents, metadata: { actor: input.by, correlationId: input.videoId } });
  return { takenDown: true, revision: result.nextExpectedRevision };
}
