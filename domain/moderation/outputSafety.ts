// The output safety verdict: the NSFW probability of each sampled frame of a rendered output (open_nsfw, scored on
// the GPU worker as each chunk renders) against the policy's threshold, and how it joins the flash verdict into one.
// Pure: the scores come in as data and the threshold from the policy file.
import type { AutomatedOutcome } from './events';

/** One sampled frame as scored: where it comes from, the stored copy the classifier saw, and its NSFW probability. */
export interface ScoredFrame {
  /** The chunk segment the frame was decoded from. */
  segment_key: string;
  /** The frame's index within that segment (0-based). */
  frame: number;
  /** The 224x224 JPEG the classifier scored, in the blob store (for a moderator to look at). */
  blob_key: string;
  /** open_nsfw's NSFW probability, 0..1. */
  nsfw: number;
}

/** The policy's output safety section (`output_safety` in config/moderation-policy.json). */
export interface OutputSafetyPolicy {
  /** The classifier the threshold was chosen for: scores of another model mean something else. */
  model: 'open_nsfw';
  /** A frame scoring this or more blocks the output. */
  nsfwThreshold: number;
  /** The highest frame scoring this or more (and under `nsfwThreshold`) sends the output to a person; equal to it: no band. */
  reviewThreshold: number;
}

export interface ClassifierVerdict {
  verdict: AutomatedOutcome;
  categories: string[];
  reasons: string[];
  details: Record<string, unknown>;
}

/** The category an output blocked by the safety classifier is filed under (the prompt policy's id for the same harm). */
export const SAFETY_CATEGORY = 'sexual';

/**
 * Blocks when any sampled frame scores at or over the threshold; sends the output to a person when the highest scores
 * in the review band; the case's details keep every frame and score.
 */
export function judgeOutputSafety(frames: ScoredFrame[], policy: OutputSafetyPolicy): ClassifierVerdict {
  if (frames.length === 0) throw new RangeError('the safety verdict needs at least one scored frame');
  for (const f of frames) {
    if (!(f.nsfw >= 0 && f.nsfw <= 1)) throw new RangeError(`frame ${f.frame} of ${f.segment_key}: NSFW score ${f.nsfw} is not a probability`);
  }
  const over = frames.filter((f) => f.nsfw >= policy.nsfwThreshold);
  const worst = frames.reduce((a, b) => (b.nsfw > a.nsfw ? b : a));
  const details = {
    model: policy.model,
    threshold: policy.nsfwThreshold,
    review_threshold: policy.reviewThreshold,
    max_nsfw: worst.nsfw,
    frames,
    over_threshold: over.map((f) => f.blob_key),
  };
  if (over.length === 0 && worst.nsfw >= policy.reviewThreshold) {
    return {
      verdict: 'review',
      categories: [SAFETY_CATEGORY],
      reasons: [
        `possibly sexual or nude content in the rendered frames (highest score ${worst.nsfw.toFixed(3)}, review from ${policy.reviewThreshold}): for a person to look at`,
      ],
      details,
    };
  }
  if (over.length === 0) return { verdict: 'allow', categories: [], reasons: [], details };
  return {
    verdict: 'block',
    categories: [SAFETY_CATEGORY],
    reasons: [
      `sexual or nude content in the rendered frames: ${over.length} of ${frames.length} sampled frames scored ${policy.nsfwThreshold} or more (highest ${worst.nsfw.toFixed(3)})`,
    ],
    details,
  };
}

/**
 * The output's one verdict from its classifiers: blocked when any blocks, in review when none blocks and one asks for
 * a person, with every category and reason; each
 * classifier's details under its own name (the flash analysis's also at the top level, where cases recorded before the
 * safety classifier have them).
 */
export function joinOutputVerdicts(flashes: ClassifierVerdict, safety: ClassifierVerdict): ClassifierVerdict {
  const either = (v: AutomatedOutcome) => flashes.verdict === v || safety.verdict === v;
  const verdict: AutomatedOutcome = either('block') ? 'block' : either('review') ? 'review' : 'allow';
  return {
    verdict,
    categories: [...flashes.categories, ...safety.categories],
    reasons: [...flashes.reasons, ...safety.reasons],
    details: { ...flashes.details, safety: safety.details },
  };
}

/** Checks the policy file's `output_safety` section; errors name the path of the bad value. */
export function parseOutputSafetyPolicy(value: unknown, fail: (path: string, reason: string) => Error): OutputSafetyPolicy {
  const at = '$.output_safety';
  if (typeof value !== 'object' || value === null)
    throw fail(at, 'must be an object: {"model": "open_nsfw", "nsfw_threshold": <0..1>, "review_threshold": <0..1>}');
  const v = value as Record<string, unknown>;
  if (v.model !== 'open_nsfw') throw fail(`${at}.model`, 'must be "open_nsfw" (the classifier the GPU workers run)');
  const threshold = v.nsfw_threshold;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold <= 1)) throw fail(`${at}.nsfw_threshold`, 'must be a number above 0 and at most 1');
  const review = v.review_threshold ?? threshold;
  if (typeof review !== 'number' || !(review > 0 && review <= threshold))
    throw fail(`${at}.review_threshold`, 'must be a number above 0 and at most nsfw_threshold');
  return { model: 'open_nsfw', nsfwThreshold: threshold, reviewThreshold: review };
}
