// The output safety verdict: sampled frames' NSFW scores against the policy's threshold, joined with the flash verdict.
import { joinOutputVerdicts, judgeOutputSafety, type ScoredFrame } from '../../domain/moderation/outputSafety';

const policy = { model: 'open_nsfw' as const, nsfwThreshold: 0.8, reviewThreshold: 0.8 };
const frame = (nsfw: number, n = 4): ScoredFrame => ({
  segment_key: 'videos/v/chunks/000.ts',
  frame: n,
  blob_key: `videos/v/chunks/000.ts.safety-${String(n).padStart(3, '0')}.jpg`,
  nsfw,
});

describe('the output safety verdict', () => {
  it('allows an output whose every sampled frame scores under the threshold, keeping every frame and score', () => {
    const frames = [frame(0.01, 4), frame(0.3, 12), frame(0.7999, 20)];
    const judged = judgeOutputSafety(frames, policy);
    expect(judged).toMatchObject({ verdict: 'allow', categories: [], reasons: [] });
    expect(judged.details).toEqual({ model: 'open_nsfw', threshold: 0.8, review_threshold: 0.8, max_nsfw: 0.7999, frames, over_threshold: [] });
  });

  it('blocks an output with one frame at or over the threshold, naming the frames over it', () => {
    const frames = [frame(0.01, 4), frame(0.8, 12), frame(0.95, 20)];
    const judged = judgeOutputSafety(frames, policy);
    expect(judged.verdict).toBe('block');
    expect(judged.categories).toEqual(['sexual']);
    expect(judged.reasons).toEqual(['sexual or nude content in the rendered frames: 2 of 3 sampled frames scored 0.8 or more (highest 0.950)']);
    expect(judged.details).toMatchObject({ max_nsfw: 0.95, over_threshold: [frames[1]!.blob_key, frames[2]!.blob_key] });
  });

  it('refuses no frames, or a score that is not a probability', () => {
    expect(() => judgeOutputSafety([], policy)).toThrow('needs at least one scored frame');
    expect(() => judgeOutputSafety([frame(Number.NaN)], policy)).toThrow('frame 4 of videos/v/chunks/000.ts: NSFW score NaN is not a probability');
    expect(() => judgeOutputSafety([frame(1.2)], policy)).toThrow('is not a probability');
  });

  it('joins the flash and safety verdicts: blocked when either blocks, with both reasons and both details', () => {
    const flashes = { verdict: 'allow' as const, categories: [], reasons: [], details: { generalFlashesPerSecond: 0 } };
    const safety = judgeOutputSafety([frame(0.9)], policy);
    const joined = joinOutputVerdicts(flashes, safety);
    expect(joined).toMatchObject({ verdict: 'block', categories: ['sexual'], reasons: safety.reasons });
    expect(joined.details).toEqual({ generalFlashesPerSecond: 0, safety: safety.details });
    const flashing = { verdict: 'block' as const, categories: ['photosensitivity'], reasons: ['5.0 general flashes per second'], details: {} };
    expect(joinOutputVerdicts(flashing, judgeOutputSafety([frame(0.1)], policy))).toMatchObject({
      verdict: 'block',
      categories: ['photosensitivity'],
      reasons: ['5.0 general flashes per second'],
    });
    expect(joinOutputVerdicts(flashes, judgeOutputSafety([frame(0.1)], policy)).verdict).toBe('allow');
  });

  it('given a review band, when the highest frame falls in it, then the output goes to a person; a block still wins', () => {
    const banded = { ...policy, reviewThreshold: 0.6 };
    const inBand = judgeOutputSafety([frame(0.1, 4), frame(0.65, 12)], banded);
    expect(inBand).toMatchObject({ verdict: 'review', categories: ['sexual'] });
    expect(inBand.reasons[0]).toContain('for a person to look at');
    expect(judgeOutputSafety([frame(0.59)], banded).verdict).toBe('allow');
    expect(judgeOutputSafety([frame(0.65), frame(0.85)], banded).verdict).toBe('block');
    const flashes = { verdict: 'allow' as const, categories: [], reasons: [], details: {} };
    expect(joinOutputVerdicts(flashes, inBand).verdict).toBe('review');
    const flashing = { verdict: 'block' as const, categories: ['photosensitivity'], reasons: ['flashes'], details: {} };
    expect(joinOutputVerdicts(flashing, inBand).verdict).toBe('block');
  });
});
