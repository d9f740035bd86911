// The automated prompt policy: categories of terms, each with the reason a person is shown, matched against a
// normalized prompt so that tricky spellings ("g0r3", "d.e.c.a.p.i.t.a.t.e", "ＳＵＩＣＩＤＥ") do not slip through.
// A category's `terms` score 1 and its `review_terms` (borderline words) its `review_score`; the prompt's score is its
// highest match's, and the policy's `prompt_thresholds` turn it into a verdict: block, review (a person decides), allow.
// Pure: the policy itself is data, loaded from a file by the caller (config/moderation-policy.json by default), which
// also holds the output review's safety thresholds (outputSafety.ts) and how long a review waits (`review`).
import type { AutomatedOutcome, ReviewTerms } from './events';
import { parseOutputSafetyPolicy, type OutputSafetyPolicy } from './outputSafety';

export interface PolicyCategory {
  id: string;
  /** What a person is told when a prompt is blocked for this category. */
  reason: string;
  /** Words or phrases; phrases match on word boundaries after normalization. Each scores 1. */
  terms: string[];
  /** Borderline words or phrases, matched the same way: each scores `reviewScore`. */
  reviewTerms: string[];
  reviewScore: number;
}

/** A prompt scoring `block` or more is blocked; `review` or more (and under `block`), sent to a person. */
export interface PromptThresholds {
  review: number;
  block: number;
}

export interface PromptPolicy {
  version: number;
  categories: PolicyCategory[];
  thresholds: PromptThresholds;
  /** The output review's safety classifier thresholds (the policy file's `output_safety`). */
  outputSafety: OutputSafetyPolicy;
  /** How long a case in review waits for a person, and how it ends when nobody decides (the policy file's `review`). */
  review: ReviewTerms;
}

export interface PromptVerdict {
  verdict: AutomatedOutcome;
  /** The highest score of a matched term (0 when none matched). */
  score: number;
  categories: string[];
  reasons: string[];
  /** Which term of which category matched and what it scored, for the moderation case's record. */
  matches: { category: string; term: string; score: number }[];
}

/** A borderline term's score when its category names none: in the default review band. */
export const DEFAULT_REVIEW_SCORE = 0.5;
export const DEFAULT_THRESHOLDS: PromptThresholds = { review: 0.5, block: 1 };
/** An hour for a first look, then a day for a senior one; nobody deciding blocks. */
export const DEFAULT_REVIEW_TERMS: ReviewTerms = { escalate_after_seconds: 3600, default_after_seconds: 86_400, default: 'block' };

export class InvalidPolicy extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`invalid moderation policy at ${path}: ${reason}`);
    this.name = 'InvalidPolicy';
  }
}

const LEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '@': 'a', $: 's', '!': 'i', '|': 'l', '+': 't' };

/** Lower case, compatibility forms folded (full-width letters), accents removed, look-alike digits and symbols mapped. */
function fold(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[0-9@$!|+]/g, (c) => LEET[c] ?? c);
}

/** Runs of the same letter collapse to one, so "kiiiiill" and "kill" compare equal; terms get the same treatment. */
function squeeze(word: string): string {
  return word.replace(/(\p{L})\1+/gu, '$1');
}

export interface NormalizedPrompt {
  /** Words after folding and squeezing. */
  words: string[];
  /** All letters run together: catches words split by dots, dashes or spaces ("d.e.c.a.p"). */
  joined: string;
}

export function normalizePrompt(prompt: string): NormalizedPrompt {
  const folded = fold(prompt);
  const words = folded
    .split(/[^\p{L}]+/u)
    .filter((w) => w.length > 0)
    .map(squeeze);
  // Single letters separated by punctuation or spaces ("k.i.l.l", "g o r e") are glued back into one word.
  const glued: string[] = [];
  let run = '';
  for (const w of words) {
    if (w.length === 1) run += w;
    else {
      if (run) glued.push(squeeze(run));
      run = '';
      glued.push(w);
    }
  }
  if (run) glued.push(squeeze(run));
  return { words: glued, joined: squeeze(glued.join('')) };
}

function termWords(term: string): string[] {
  return normalizePrompt(term).words;
}

function containsPhrase(words: string[], phrase: string[]): boolean {
  outer: for (let i = 0; i + phrase.length <= words.length; i++) {
    for (let j = 0; j < phrase.length; j++) if (words[i + j] !== phrase[j]) continue outer;
    return true;
  }
  return false;
}

/** Long single-word terms (7+ letters) are also looked for inside the joined letters, which catches a word split
 * by dashes or dots ("be-head-ing"); short terms and phrases match only as whole words, which keeps "skill",
 * "class" or "Scunthorpe" from matching a short term hidden inside them. */
const JOINED_MIN_LENGTH = 7;

export function checkPrompt(prompt: string, policy: PromptPolicy): PromptVerdict {
  const normalized = normalizePrompt(prompt);
  const hits = (term: string): boolean => {
    const words = termWords(term);
    if (words.length === 0) return false;
    const joinedTerm = words.join('');
    return containsPhrase(normalized.words, words) || (words.length === 1 && joinedTerm.length >= JOINED_MIN_LENGTH && normalized.joined.includes(joinedTerm));
  };
  // One match per category: its strongest (a blocking term before a borderline one).
  const matches: PromptVerdict['matches'] = [];
  for (const category of policy.categories) {
    const term = category.terms.find(hits);
    const borderline = term === undefined ? category.reviewTerms.find(hits) : undefined;
    if (term !== undefined) matches.push({ category: category.id, term, score: 1 });
    else if (borderline !== undefined) matches.push({ category: category.id, term: borderline, score: category.reviewScore });
  }
  const score = matches.reduce((max, m) => Math.max(max, m.score), 0);
  const { thresholds } = policy;
  const verdict: AutomatedOutcome = score >= thresholds.block ? 'block' : score >= thresholds.review ? 'review' : 'allow';
  // The categories that put it where it is: those scoring the block threshold when blocked, the review band's when in review.
  const counted = verdict === 'allow' ? [] : matches.filter((m) => m.score >= (verdict === 'block' ? thresholds.block : thresholds.review));
  const reasonOf = (id: string) => policy.categories.find((c) => c.id === id)!.reason;
  const categories = counted.map((m) => m.category);
  const reasons = counted.map((m) => (m.score >= thresholds.block ? reasonOf(m.category) : `possibly ${reasonOf(m.category)} (for a person to look at)`));
  return { verdict, score, categories, reasons, matches };
}

/** Checks the shape of a policy read from a file; errors name the path of the bad value. */
export function parsePolicy(value: unknown): PromptPolicy {
  if (typeof value !== 'object' || value === null) throw new InvalidPolicy('$', 'must be an object');
  const v = value as Record<string, unknown>;
  if (typeof v.version !== 'number') throw new InvalidPolicy('$.version', 'must be a number');
  if (!Array.isArray(v.categories) || v.categories.length === 0) throw new InvalidPolicy('$.categories', 'must be a non-empty array');
  const ids = new Set<string>();
  const categories = v.categories.map((c: unknown, i: number) => {
    const at = `$.categories[${i}]`;
    if (typeof c !== 'object' || c === null) throw new InvalidPolicy(at, 'must be an object');
    const cat = c as Record<string, unknown>;
    if (typeof cat.id !== 'string' || !/^[a-z][a-z0-9_]*$/.test(cat.id)) throw new InvalidPolicy(`${at}.id`, 'must be a lower_snake_case string');
    if (ids.has(cat.id)) throw new InvalidPolicy(`${at}.id`, `repeats ${cat.id}`);
    ids.add(cat.id);
    if (typeof cat.reason !== 'string' || cat.reason.trim() === '') throw new InvalidPolicy(`${at}.reason`, 'must be a non-empty string');
    if (!Array.isArray(cat.terms) || cat.terms.length === 0 || !cat.terms.every((t) => typeof t === 'string' && t.trim() !== '')) {
      throw new InvalidPolicy(`${at}.terms`, 'must be a non-empty array of non-empty strings');
    }
    const reviewTerms = cat.review_terms ?? [];
    if (!Array.isArray(reviewTerms) || !reviewTerms.every((t) => typeof t === 'string' && t.trim() !== '')) {
      throw new InvalidPolicy(`${at}.review_terms`, 'must be an array of non-empty strings');
    }
    const reviewScore = cat.review_score ?? DEFAULT_REVIEW_SCORE;
    if (typeof reviewScore !== 'number' || !(reviewScore > 0 && reviewScore < 1))
      throw new InvalidPolicy(`${at}.review_score`, 'must be a number above 0 and below 1');
    return { id: cat.id, reason: cat.reason, terms: cat.terms as string[], reviewTerms: reviewTerms as string[], reviewScore };
  });
  const outputSafety = parseOutputSafetyPolicy(v.output_safety, (at, reason) => new InvalidPolicy(at, reason));
  return { version: v.version, categories, thresholds: parseThresholds(v.prompt_thresholds), outputSafety, review: parseReviewTerms(v.review) };
}

function parseThresholds(value: unknown): PromptThresholds {
  if (value === undefined) return DEFAULT_THRESHOLDS;
  const at = '$.prompt_thresholds';
  if (typeof value !== 'object' || value === null) throw new InvalidPolicy(at, 'must be an object: {"review": <0..1>, "block": <0..1>}');
  const { review, block } = value as Record<string, unknown>;
  if (typeof block !== 'number' || !(block > 0 && block <= 1)) throw new InvalidPolicy(`${at}.block`, 'must be a number above 0 and at most 1');
  if (typeof review !== 'number' || !(review > 0 && review <= block)) throw new InvalidPolicy(`${at}.review`, 'must be a number above 0 and at most block');
  return { review, block };
}

function parseReviewTerms(value: unknown): ReviewTerms {
  if (value === undefined) return DEFAULT_REVIEW_TERMS;
  const at = '$.review';
  if (typeof value !== 'object' || value === null) {
    throw new InvalidPolicy(at, 'must be an object: {"escalate_after_seconds": <s>, "default_after_seconds": <s>, "default": "allow" | "block"}');
  }
  const v = value as Record<string, unknown>;
  for (const key of ['escalate_after_seconds', 'default_after_seconds'] as const) {
    const s = v[key];
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 1) throw new InvalidPolicy(`${at}.${key}`, 'must be a whole number of seconds, at least 1');
  }
  if (v.default !== 'allow' && v.default !== 'block') throw new InvalidPolicy(`${at}.default`, 'must be "allow" or "block"');
  return { escalate_after_seconds: v.escalate_after_seconds as number, default_after_seconds: v.default_after_seconds as number, default: v.default };
}
