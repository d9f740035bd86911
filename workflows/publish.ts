// publishWorkflow: makes a completed video public. It decides on the video's current stream and appends at the
// revision it read (again, if likes moved the stream meanwhile), so a concurrent deletion or takedown makes it fail
// rather than publish over it. Each cameo use is confirmed by the cameo's workflow at this moment; a use no longer
// covered by consent makes publishing fail with the consent code, and VideoPublished records the grant revision
// behind each.
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { appendToVideo, decideOrFail } from './videoStream';

const { publishCameoUse } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});

export interface PublishInput {
  videoId: string;
  actor: string;
}

export async function publishWorkflow(input: PublishInput): Promise<{ published: boolean; revision: string }> {
  const at = Math.floor(Date.now() / 1000);
  const { revision } = await appendToVideo(input.videoId, { actor: input.actor }, async (state) => {
    // The decider first (a video not completed, or taken down, is refused before any cameo is asked).
    decideOrFail({ type: 'PublishVideo', data: { by: input.actor, cameo_uses: [], at } }, state);
    const cameoUses: { cameo_id: string; grant_revision: number }[] = [];
    if (state.visibility !== 'published') {
      for (const reservation of state.cameoReservations ?? []) {
        // Confirming again after the stream moved is harmless: the cameo's decider records a use's publication once.
        const confirmed = await publishCameoUse({ cameoId: reservation.cameo_id, videoId: input.videoId, userId: state.request!.owner_id });
        if (!confirmed.ok) throw ApplicationFailure.nonRetryable(`cameo ${reservation.cameo_id}: ${confirmed.reason}`, confirmed.code);
        cameoUses.push({ cameo_id: reservation.cameo_id, grant_revision: confirmed.grant_revision });
      }
    }
    return decideOrFail({ type: 'PublishVideo', data: { by: input.actor, cameo_uses: cameoUses, at } }, state);
  });
  return { published: true, revision };
}
