// recordRemixWorkflow: records VideoRemixed on a parent's stream once a remix of it has completed. Like publishWorkflow,
// it reads the parent's stream, asks the decider, and appends at the revision it read; a concurrent append (a like, a
// publication) makes it read again and decide again, so the event lands once, at an exact revision.
import { appendToVideo, decideOrFail } from './videoStream';

export interface RecordRemixInput {
  parentVideoId: string;
  childVideoId: string;
  /** The remix's owner. */
  by: string;
  actor: string;
}

export async function recordRemixWorkflow(input: RecordRemixInput): Promise<{ recorded: boolean; revision: string }> {
  const at = Math.floor(Date.now() / 1000);
  const { appended, revision } = await appendToVideo(input.parentVideoId, { actor: input.actor }, (state) =>
    decideOrFail({ type: 'RecordRemix', data: { child_video_id: input.childVideoId, by: input.by, at } }, state),
  );
  return { recorded: appended, revision };
}
