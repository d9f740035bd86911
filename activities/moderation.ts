// Moderation classifiers as activities: the prompt policy (from its file), the photosensitivity check on the
// decoded output, and the safety verdict on the output's frame scores (the policy's threshold). The policy file is read once per worker; a bad file stops the worker at start with its path.
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { AutomatedOutcome, ReviewTerms } from '../domain/moderation/events';
import { joinOutputVerdicts, judgeOutputSafety, type ScoredFrame } from '../domain/moderation/outputSafety';
import { analyzeRegionSeries, joinRegionSeries, type RegionSeries } from '../domain/moderation/photosensitivity';
import { checkPrompt, parsePolicy, type PromptPolicy } from '../domain/moderation/promptPolicy';
import type { BlobStore } from '../infra/blobs';
import type { Logger } from '../infra/logger';
import type { Ffmpeg } from '../infra/media/ffmpeg';
import { measureSegmentFlashes, type StoredMeasurement } from '../infra/media/flashes';

export interface AutomatedVerdict {
  verdict: AutomatedOutcome;
  categories: string[];
  reasons: string[];
  details: Record<string, unknown>;
  /** With a `review` verdict: how long the case waits for a person, and its default (the policy's `review`). */
  review?: ReviewTerms;
}

export const DEFAULT_POLICY_PATH = path.resolve(__dirname, '..', 'config', 'moderation-policy.json');

export function loadPolicy(file: string): PromptPolicy {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the moderation policy ${file}: ${(err as Error).message}`);
  }
  return parsePolicy(raw);
}

export function createModerationActivities(deps: { policy: PromptPolicy; blobs: BlobStore; ffmpeg: Ffmpeg; logger: Logger }) {
  /** The safety verdict on scored frames against the policy's threshold, with the policy's version. */
  function safetyVerdict(frames: ScoredFrame[]): AutomatedVerdict {
    let judged: ReturnType<typeof judgeOutputSafety>;
    try {
      judged = judgeOutputSafety(frames, deps.policy.outputSafety);
    } catch (err) {
      // Scores that are not there or not probabilities will not be on a retry either.
      throw ApplicationFailure.nonRetryable(`the output's safety scores: ${(err as Error).message}`, 'InvalidSafetyScores');
    }
    return withReview({ ...judged, details: { ...judged.details, policyVersion: deps.policy.version } });
  }

  /** A `review` verdict carries the policy's review terms, which the case's timers then follow. */
  function withReview(verdict: AutomatedVerdict): AutomatedVerdict {
    return verdict.verdict === 'review' ? { ...verdict, review: deps.policy.review } : verdict;
  }

  /** The flash analysis over measured segments (measureSegmentFlashes), in playback order, joined into one series. */
  async function flashVerdict(measurementKeys: string[], fps: number, progress?: (frames: number) => void): Promise<AutomatedVerdict> {
    if (measurementKeys.length === 0) throw new Error('the flash analysis needs the measurements of at least one segment');
    const pieces: RegionSeries[][] = [];
    let frames = 0;
    for (const key of measurementKeys) {
      const stored = JSON.parse((await deps.blobs.get(key)).toString('utf8')) as StoredMeasurement;
      pieces.push(stored.regions);
      frames += stored.frames;
    }
    progress?.(frames);
    const report = analyzeRegionSeries(joinRegionSeries(pieces), fps);
    return {
      verdict: report.verdict,
      categories: report.verdict === 'block' ? ['photosensitivity'] : [],
      reasons: report.reasons,
      details: { generalFlashesPerSecond: report.generalFlashesPerSecond, redFlashesPerSecond: report.redFlashesPerSecond, worst: report.worst, frames },
    };
  }

  return {
    async moderatePrompt(input: { prompt: string }): Promise<AutomatedVerdict> {
      const result = checkPrompt(input.prompt, deps.policy);
      return withReview({
        verdict: result.verdict,
        categories: result.categories,
        reasons: result.reasons,
        details: { score: result.score, thresholds: deps.policy.thresholds, matches: result.matches, policyVersion: deps.policy.version },
      });
    },

    /** The policy's review terms: how long an appeal waits for a moderator before it escalates, then ends. */
    async moderationReviewTerms(): Promise<ReviewTerms> {
      return deps.policy.review;
    },

    /**
     * Decodes one video segment of an output (the MP4's video stream is these segments, copied) and stores the
     * per-frame region means the flash analysis needs. Runs as each chunk is rendered, so the output review after
     * the mux only has to join and analyse them.
     */
    async measureSegmentFlashes(input: { segmentKey: string; width: number; height: number }): Promise<{ measurementKey: string; frames: number }> {
      return await measureSegmentFlashes(deps, input);
    },

    /**
     * The safety verdict on an output's sampled frames as the GPU workers scored them (scoreSegmentSafety): blocked
     * when a frame scores the policy's `output_safety.nsfw_threshold` or more; every frame and score goes into the
     * case's details.
     */
    async checkOutputSafety(input: { frames: ScoredFrame[] }): Promise<AutomatedVerdict> {
      return safetyVerdict(input.frames);
    },

    /** The photosensitivity verdict on an output's measured segments (measureSegmentFlashes), in playback order. */
    async checkOutputFlashes(input: { measurementKeys: string[]; fps: number }): Promise<AutomatedVerdict> {
      return await flashVerdict(input.measurementKeys, input.fps, (frames) => Context.current().heartbeat({ measuredFrames: frames }));
    },

    /**
     * The output's whole verdict at once: the flash analysis over its measured segments and the safety verdict on its
     * frames' scores, joined (blocked if either blocks). No heartbeats: the generation workflow runs it as a local
     * activity (it reads a few small measurements), where the moderation workflow ran the two apart.
     */
    async judgeOutput(input: { measurementKeys: string[]; fps: number; frames: ScoredFrame[] }): Promise<AutomatedVerdict> {
      return withReview(joinOutputVerdicts(await flashVerdict(input.measurementKeys, input.fps), safetyVerdict(input.frames)));
    },

    /**
     * Whether a segment may be shown in the live preview while the video renders: the flash analysis over it and every
     * segment before it (a one-second window may straddle the boundary with the previous one), and the safety
     * verdict on its own sampled frames (`frames`; absent for a run without the classifier). Run as a local activity
     * once the segment is measured and scored; the output review after the mux still judges the whole video.
     */
    async checkPreviewSegment(input: { measurementKeys: string[]; fps: number; frames?: ScoredFrame[] }): Promise<{ passed: boolean; reasons: string[] }> {
      const flashes = await flashVerdict(input.measurementKeys, input.fps);
      const safety = input.frames ? judgeOutputSafety(input.frames, deps.policy.outputSafety) : undefined;
      const reasons = [...flashes.reasons, ...(safety?.reasons ?? [])];
      // A segment in the review band is not shown before a person has looked at the video.
      return { passed: flashes.verdict === 'allow' && (safety === undefined || safety.verdict === 'allow'), reasons };
    },
  };
}
