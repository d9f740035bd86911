// publishWorkflow: makes a completed video public. It decides on the video's current stream and appends at the
// revision it read (again, if likes moved the stream meanwhile), so a concurrent deletion or takedown makes it fail
// rather than publish over it. Each cameo use is confirmed by the cameo's workflow at this moment (all of them in one
// activity); a use no longer covered by consent makes publishing fail with the consent code, and VideoPublished
// records the grant revision behind each.
import { ApplicationFailure, patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { appendToVideo, decideOrFail } from './videoStream';

const { publishCameoUse, publishCameoUses } = proxyActivities<Activities>({
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
    const reservations = state.visibility === 'published' ? [] : (state.cameoReservations ?? []);
    if (reservations.length === 0) return decideOrFail({ type: 'PublishVideo', data: { by: input.actor, cameo_uses: [], at } }, state);
    // Confirming again after the stream moved is harmless: the cameo's decider records a use's publication once.
    const uses = reservations.map((r) => ({ cameoId: r.cameo_id, videoId: input.videoId, userId: state.request!.owner_id }));
    // Determinism: confirming all uses in one publishCameoUses (not one publishCameoUse per cameo) changes the commands
    // this workflow issues, so it is guarded. A publication that ran before the change replays down the old branch
    // (no patch marker in its history: patched() is false); a new one records the marker and takes the new branch.
    // test/workflows/replay.test.ts replays one of each (publish-with-cameo-before-patch.json, publish-with-cameo.json).
    // - deprecatePatch('publish-cameo-uses-in-one-activity') in place of patched(), dropping the old branch, once no
    //   publishWorkflow started by code without this patch is still running (they last seconds: once this is deployed
    //   on every worker and the open ones have finished) and no such history must replay any more (drop the
    //   before-patch fixture then);
    // - no call at all, once no publishWorkflow started by code with patched() (before the deprecatePatch deployment)
    //   is still running. publishCameoUse can then leave the activities.
    let confirmed: Awaited<ReturnType<typeof publishCameoUse>>[] = [];
    if (patched('publish-cameo-uses-in-one-activity')) {
      confirmed = await publishCameoUses({ uses });
    } else {
      for (const use of uses) {
        const outcome = await publishCameoUse(use);
        confirmed.push(outcome);
        if (!outcome.ok) break;
      }
    }
    const cameoUses: { cameo_id: string; grant_revision: number }[] = [];
    for (const [i, outcome] of confirmed.entries()) {
      const cameoId = uses[i]!.cameoId;
      if (!outcome.ok) throw ApplicationFailure.nonRetryable(`cameo ${cameoId}: ${outcome.reason}`, outcome.code);
      cameoUses.push({ cameo_id: cameoId, grant_revision: outcome.grant_revision });
    }
    return decideOrFail({ type: 'PublishVideo', data: { by: input.actor, cameo_uses: cameoUses, at } }, state);
  });
  return { published: true, revision };
}
