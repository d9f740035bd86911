// publishWorkflow: makes a completed video public. It reads the video's stream, asks the decider, and records
// VideoPublished at the revision it read, so a concurrent change (a deletion, a takedown) makes it fail rather than
// publish over it. Each cameo use is confirmed by the cameo's workflow at this moment; a use no longer covered by
// consent makes publishing fail with the consent code, and VideoPublished records the grant revision behind each.
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

const { appendEvents, readVideoStream, publishCameoUse } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});

export interface PublishInput {
  videoId: string;
  actor: string;
}

export async function publishWorkflow(input: PublishInput): Promise<{ published: boolean; revision: string }> {
  const stream = `video-${input.videoId}`;
  const { events, revision } = await readVideoStream({ stream });
  const state = foldVideo(events as VideoEvent[]);
  const at = Math.floor(Date.now() / 1000);
  // The decider first (a video not completed, or taken down, is refused before any cameo is asked).
  decide({ type: 'PublishVideo', data: { by: input.actor, cameo_uses: [], at } }, state);
  const cameoUses: { cameo_id: string; grant_revision: number }[] = [];
  if (state.visibility !== 'published') {
    for (const reservation of state.cameoReservations ?? []) {
      const confirmed = await publishCameoUse({ cameoId: reservation.cameo_id, videoId: input.videoId, userId: state.request!.owner_id });
      if (!confirmed.ok) throw ApplicationFailure.nonRetryable(`cameo ${reservation.cameo_id}: ${confirmed.reason}`, confirmed.code);
      cameoUses.push({ cameo_id: reservation.cameo_id, grant_revision: confirmed.grant_revision });
    }
  }
  const newEvents = decide({ type: 'PublishVideo', data: { by: input.actor, cameo_uses: cameoUses, at } }, state);
  if (newEvents.length === 0) return { published: true, revision };
  // Ids derive from this workflow's id (publish-<video>) and the stream revision it extends.
  const result = await appendEvents({ stream, expectedRevision: revision, firstSeq: Number(revision) + 1, events: newEvents, metadata: { actor: input.actor, correlationId: input.videoId } });
  return { published: true, revision: result.nextExpectedRevision };
}
