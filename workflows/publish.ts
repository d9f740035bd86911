// publishWorkflow: makes a completed video public. It reads the video's stream, asks the decider, and records
// VideoPublished at the revision it read, so a concurrent change (a deletion, a takedown) makes it fail rather than
// publish over it. Consent re-checks for cameos join here when cameos arrive.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { decide, foldVideo, type VideoEvent } from '../domain/video';

const { appendEvents, readVideoStream } = proxyActivities<Activities>({
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
  const newEvents = decide({ type: 'PublishVideo', data: { by: input.actor, cameo_uses: [], at: Math.floor(Date.now() / 1000) } }, state);
  if (newEvents.length === 0) return { published: true, revision };
  // Ids derive from this workflow's id (publish-<video>) and the stream revision it extends.
  const result = await appendEvents({ stream, expectedRevision: revision, firstSeq: Number(revision) + 1, events: newEvents, metadata: { actor: input.actor, correlationId: input.videoId } });
  return { published: true, revision: result.nextExpectedRevision };
}
