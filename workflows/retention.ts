// retentionWorkflow: a completed video's content is deleted when its `expires_at` passes (VIDEO_RETENTION_SECONDS
// after completion), unless it was published meanwhile. One per video (`retention-<video id>`), started by
// generationWorkflow as an abandoned child when the video completes with an expiry: a durable Temporal timer until
// `expires_at`, then VideoContentExpired is decided on the video's current stream and appended at the revision read
// (so a publication racing it either lands first, and nothing expires, or is refused), and only then are the blobs
// under `videos/<id>/` deleted (the MP4, thumbnail, spritesheet, chunk segments, audio, carries, the input image).
// The events stay: the history shows when the content went.
import { proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { appendToVideo, decideOrFail } from './videoStream';

const { deleteVideoContent } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  // A blob store that is away is waited for: the expiry is recorded, the files must go.
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

export interface RetentionInput {
  videoId: string;
  /** Unix seconds: when the content is deleted. */
  expiresAt: number;
  actor: string;
}

export interface RetentionResult {
  /** VideoContentExpired is on the stream (recorded now or before). */
  expired: boolean;
  /** Blobs deleted by this run. */
  deleted: number;
}

export async function retentionWorkflow(input: RetentionInput): Promise<RetentionResult> {
  const wait = input.expiresAt * 1000 - Date.now();
  if (wait > 0) await sleep(wait);
  const at = Math.max(input.expiresAt, Math.floor(Date.now() / 1000));
  const { appended, state } = await appendToVideo(input.videoId, { actor: input.actor }, (current) =>
    decideOrFail({ type: 'ExpireContent', data: { at } }, current),
  );
  // Published (kept), deleted (its files went with it) or never given this expiry: nothing to delete.
  if (!appended && !state.contentExpired) return { expired: false, deleted: 0 };
  const { deleted } = await deleteVideoContent({ videoId: input.videoId });
  return { expired: true, deleted };
}
