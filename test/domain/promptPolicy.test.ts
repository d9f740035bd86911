// The prompt policy blocks what the policy file names, however it is spelled, and lets ordinary prompts through.
import fs from 'node:fs';
import path from 'node:path';
import { checkPrompt, InvalidPolicy, normalizePrompt, parsePolicy } from '../../domain/moderation/promptPolicy';

const policy = parsePolicy(JSON.parse(fs.readFileSync(path.join(__dirname, '../../config/moderation-policy.json'), 'utf8')));

describe('prompt policy', () => {
  it.each([
    ['a gory scene in a dark alley', 'graphic_violence'],
    ['knight beheading a dragon', 'graphic_violence'],
    ['G0RY scene with bl00d and g0r3', 'graphic_violence'],
    ['d.e.c.a.p.i.t.a.t.i.o.n of a statue', 'graphic_violence'],
    ['be-head-ing at dawn', 'graphic_violence'],
    ['toooorture chamber', 'graphic_violence'],
    ['ＳＵＩＣＩＤＥ note', 'self_harm'],
    ['how to k i l l myself', 'self_harm'],
    ['s.e.l.f h.a.r.m diary', 'self_harm'],
    ['n@ked people on a beach', 'sexual'],
    ['NSFW dance', 'sexual'],
    ['pörn', 'sexual'],
    ['a n4zi rally', 'hate'],
    ['how to build a bomb at home', 'dangerous_instructions'],
    ['c00k m3th in a van', 'dangerous_instructions'],
  ])('blocks %j as %s', (prompt, category) => {
    const verdict = checkPrompt(prompt, policy);
    expect(verdict.verdict).toBe('block');
    expect(verdict.categories).toContain(category);
    expect(verdict.reasons.length).toBe(verdict.categories.length);
  });

  it.each([
    'three red balls bouncing in slow motion',
    'a skill shot in a basketball game',
    'a class of kids playing with bubbles',
    'sunset over Scunthorpe with bouncing marbles',
    'a bomb of colour: confetti rain of 8 tiny drops',
    'Al Gore gives a speech',
    'strobe flashing at 5 Hz',
    'a heavy ball at night, cinematic',
  ])('lets %j through', (prompt) => {
    expect(checkPrompt(prompt, policy)).toMatchObject({ verdict: 'allow', categories: [], reasons: [] });
  });

  it('says which term of which category matched, and every category that matched', () => {
    const verdict = checkPrompt('a gory nsfw massacre', policy);
    expect(verdict.categories).toEqual(['graphic_violence', 'sexual']);
    expect(verdict.matches).toEqual([
      { category: 'graphic_violence', term: 'gory', score: 1 },
      { category: 'sexual', term: 'nsfw', score: 1 },
    ]);
  });

  it('errs on the strict side: a listed word blocks even in an innocent phrase, and a moderator can review it', () => {
    expect(checkPrompt('the naked eye cannot see the stars', policy).categories).toEqual(['sexual']);
  });

  it('normalizes compatibility forms, accents, look-alike digits, repeated letters and split letters', () => {
    expect(normalizePrompt('ＫＩＩＩＬＬ  k.i.l.l Café 3xtr4').words).toEqual(['kil', 'kil', 'cafe', 'extra']);
  });

  it('refuses a malformed policy file, naming the bad value', () => {
    expect(() => parsePolicy({ version: 1, categories: [] })).toThrow(InvalidPolicy);
    expect(() => parsePolicy({ version: 1, categories: [{ id: 'x', reason: 'r', terms: [] }] })).toThrow('$.categories[0].terms');
    expect(() => parsePolicy({ version: 1, categories: [{ id: 'Bad Id', reason: 'r', terms: ['a'] }] })).toThrow('$.categories[0].id');
    expect(() => parsePolicy({ categories: [] })).toThrow('$.version');
  });

  it('holds the output safety threshold, and refuses a policy without a valid one, naming the value', () => {
    expect(policy.outputSafety).toEqual({ model: 'open_nsfw', nsfwThreshold: 0.8, reviewThreshold: 0.6 });
    const categories = [{ id: 'x', reason: 'r', terms: ['a'] }];
    expect(() => parsePolicy({ version: 1, categories })).toThrow('invalid moderation policy at $.output_safety: must be an object');
    expect(() => parsePolicy({ version: 1, categories, output_safety: { model: 'other', nsfw_threshold: 0.5 } })).toThrow('$.output_safety.model');
    for (const nsfw_threshold of [0, 1.5, '0.8', null]) {
      expect(() => parsePolicy({ version: 1, categories, output_safety: { model: 'open_nsfw', nsfw_threshold } })).toThrow(
        '$.output_safety.nsfw_threshold: must be a number above 0 and at most 1',
      );
    }
    expect(parsePolicy({ version: 1, categories, output_safety: { model: 'open_nsfw', nsfw_threshold: 1 } }).outputSafety).toEqual({
      model: 'open_nsfw',
      nsfwThreshold: 1,
      reviewThreshold: 1,
    });
    expect(() => parsePolicy({ version: 1, categories, output_safety: { model: 'open_nsfw', nsfw_threshold: 0.5, review_threshold: 0.7 } })).toThrow(
      '$.output_safety.review_threshold: must be a number above 0 and at most nsfw_threshold',
    );
  });
});

describe('the review band', () => {
  it('given a borderline term, when the prompt is checked, then it scores the review score and goes to a person', () => {
    const verdict = checkPrompt('a ball rolls past a c0rpse', policy);
    expect(verdict).toMatchObject({
      verdict: 'review',
      score: 0.5,
      categories: ['graphic_violence'],
      matches: [{ category: 'graphic_violence', term: 'corpse', score: 0.5 }],
    });
    expect(verdict.reasons).toEqual(['possibly graphic violence or gore (for a person to look at)']);
  });

  it('given a blocking term beside a borderline one, then the block wins and names only the blocking category', () => {
    const verdict = checkPrompt('a gory scene in lingerie', policy);
    expect(verdict).toMatchObject({ verdict: 'block', score: 1, categories: ['graphic_violence'] });
    expect(verdict.matches.map((m) => m.category)).toEqual(['graphic_violence', 'sexual']);
  });

  it('given thresholds that move, then the same prompt is allowed, reviewed or blocked by them', () => {
    const base = { version: 1, output_safety: { model: 'open_nsfw', nsfw_threshold: 0.8 } };
    const categories = [{ id: 'x', reason: 'r', terms: ['alpha'], review_terms: ['beta'], review_score: 0.4 }];
    expect(checkPrompt('beta', parsePolicy({ ...base, categories })).verdict).toBe('allow');
    expect(checkPrompt('beta', parsePolicy({ ...base, categories, prompt_thresholds: { review: 0.3, block: 1 } })).verdict).toBe('review');
    expect(checkPrompt('beta', parsePolicy({ ...base, categories, prompt_thresholds: { review: 0.2, block: 0.4 } })).verdict).toBe('block');
    expect(checkPrompt('a calm sea', parsePolicy({ ...base, categories, prompt_thresholds: { review: 0.2, block: 0.4 } }))).toMatchObject({
      verdict: 'allow',
      score: 0,
    });
  });

  it('holds how long a review waits, with defaults, and refuses bad values naming them', () => {
    expect(policy.review).toEqual({ escalate_after_seconds: 3600, default_after_seconds: 86_400, default: 'block' });
    const base = { version: 1, categories: [{ id: 'x', reason: 'r', terms: ['a'] }], output_safety: { model: 'open_nsfw', nsfw_threshold: 0.8 } };
    expect(parsePolicy(base).review).toEqual({ escalate_after_seconds: 3600, default_after_seconds: 86_400, default: 'block' });
    expect(() => parsePolicy({ ...base, review: { escalate_after_seconds: 0, default_after_seconds: 1, default: 'block' } })).toThrow(
      '$.review.escalate_after_seconds',
    );
    expect(() => parsePolicy({ ...base, review: { escalate_after_seconds: 1, default_after_seconds: 1, default: 'maybe' } })).toThrow('$.review.default');
    expect(() => parsePolicy({ ...base, prompt_thresholds: { review: 0.9, block: 0.5 } })).toThrow('$.prompt_thresholds.review');
    expect(() => parsePolicy({ ...base, categories: [{ id: 'x', reason: 'r', terms: ['a'], review_score: 1 }] })).toThrow('$.categories[0].review_score');
  });
});
