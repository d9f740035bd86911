// takedownWorkflow: takes a finished video off the feed and out of others' reach (VideoTakenDown), for the owner of a
// cameo in it or because that cameo was deleted with its videos.
import { appendToVideo, decideOrFail } from './videoStream';

export interface TakedownInput {
  videoId: string;
  /** Who took it down (a cameo owner's user id). */
  by: string;
  reason: string;
}

export async function takedownWorkflow(input: TakedownInput): Promise<{ takenDown: boolean; revision: string }> {
  const at = Math.floor(Date.now() / 1000);
  const { revision } = await appendToVideo(input.videoId, { actor: input.by }, (state) =>
    decideOrFail({ type: 'TakeDownVideo', data: { by: input.by, reason: input.reason, at } }, state),
  );
  return { takenDown: true, revision };
}
