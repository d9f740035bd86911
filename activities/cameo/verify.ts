// The cameo verification activity: judges an uploaded recording with a CameoVerifier and, when it passes, derives the
// likeness and stores it as `cameos/<cameoId>/likeness.json`. A rejection is a value for the workflow to record.
import { ApplicationFailure } from '@temporalio/common';
import { BlobNotFound, InvalidBlobKey, checkKey, type BlobStore } from '../../infra/blobs';
import type { Logger } from '../../infra/logger';
import type { Ffmpeg } from '../../infra/media/ffmpeg';
import { withLocalCopy } from '../../infra/blobs';
import { deriveLikeness, LikenessUnavailable, type Likeness } from '../../infra/media/likeness';
import type { VerificationCode } from '../../domain/cameo/events';
import { createDetectorVerifier, type CameoVerifier, type DetectorCheck, type RecordingChecks, type VerificationReport } from './verifier';

export { loadLikeness } from '../../infra/media/likeness';

export interface CameoVerification {
  accepted: boolean;
  reason: string | null;
  /** The refusal code; null when accepted. */
  code: VerificationCode | null;
  checks: RecordingChecks;
  /** Each detector's verdict with its scores and thresholds, recorded as CameoVerificationChecked. */
  detections: DetectorCheck[];
  /** Where the likeness was stored; null when rejected. */
  likeness_key: string | null;
  /** Which verifier judged it, for the record. */
  verifier: string;
}

export function likenessKey(cameoId: string): string {
  return `cameos/${cameoId}/likeness.json`;
}

export function createCameoVerificationActivities(deps: {
  blobs: BlobStore;
  ffmpeg: Ffmpeg;
  logger: Logger;
  verifier?: CameoVerifier;
  cameoFaceModelPath?: string;
}) {
  const verifier = deps.verifier ?? createDetectorVerifier({ ffmpeg: deps.ffmpeg, faceModelPath: deps.cameoFaceModelPath });
  return {
    async verifyCameoRecording(input: { cameoId: string; recordingKey: string; phrase: string | null }): Promise<CameoVerification> {
      const log = deps.logger.child({ cameoId: input.cameoId });
      const key = likenessKey(input.cameoId);
      try {
        checkKey(key);
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`cameo id ${JSON.stringify(input.cameoId)} cannot name a blob: ${(err as Error).message}`, 'InvalidCameoId');
      }
      const judged = await withLocalCopy(deps.blobs, input.recordingKey, async (file): Promise<VerificationReport & { likeness: Likeness | null }> => {
        const report = await verifier.verify({ file, phrase: input.phrase });
        if (!report.accepted) return { ...report, likeness: null };
        try {
          // A character need not speak: its voice is neutral when its clip has none.
          return { ...report, likeness: await deriveLikeness(deps.ffmpeg, file, { voice: input.phrase === null ? 'optional' : 'required' }) };
        } catch (err) {
          // The checks passed but there is no face or voice to take (e.g. only whispering): still the user's to fix.
          if (err instanceof LikenessUnavailable) return { ...report, accepted: false, reason: err.message, code: 'invalid_recording', likeness: null };
          throw err;
        }
      }).catch((err: unknown) => {
        // A recording that is not there will not appear on a retry.
        if (err instanceof BlobNotFound || err instanceof InvalidBlobKey) throw ApplicationFailure.nonRetryable(err.message, 'RecordingNotFound');
        throw err;
      });

      if (judged.likeness) await deps.blobs.put(key, Buffer.from(JSON.stringify(judged.likeness)));
      const result: CameoVerification = {
        accepted: judged.accepted,
        reason: judged.reason,
        code: judged.accepted ? null : (judged.code ?? 'invalid_recording'),
        checks: judged.checks,
        detections: judged.detections,
        likeness_key: judged.likeness ? key : null,
        verifier: verifier.name,
      };
      log.info(
        { accepted: result.accepted, reason: result.reason, code: result.code, checks: result.checks, detections: result.detections, verifier: verifier.name },
        result.accepted ? 'cameo recording accepted' : 'cameo recording rejected',
      );
      return result;
    },
  };
}
