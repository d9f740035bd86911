// Retention's one activity: every blob of a video whose content expired (retentionWorkflow records the expiry first).
import type { BlobStore } from '../infra/blobs';
import type { Logger } from '../infra/logger';

const VIDEO_ID = /^video_[0-9a-f]{32}$/;

export function createRetentionActivities(deps: { blobs: BlobStore; logger: Logger }) {
  return {
    /** Deletes everything under `videos/<id>/`; idempotent (a retry finds less, or nothing). */
    async deleteVideoContent(input: { videoId: string }): Promise<{ deleted: number }> {
      if (!VIDEO_ID.test(input.videoId)) throw new Error(`deleteVideoContent: ${JSON.stringify(input.videoId)} is not a video id`);
      const deleted = await deps.blobs.deletePrefix(`videos/${input.videoId}/`);
      deps.logger.info({ videoId: input.videoId, deleted }, 'expired video content deleted');
      return { deleted };
    },
  };
}
