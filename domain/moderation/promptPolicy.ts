// The automated prompt policy: categories of terms, each with the reason a person is shown, matched against a
// normalized prompt so that tricky spellings ("g0r3", "d.e.c.a.p.i.t.a.t.e", "ＳＵＩＣＩＤＥ") do not slip through.
// Pure: the policy itself is data, loaded from a file by the caller (config/moderation-policy.json by default), which
// also holds the output review's safety threshold (outputSafety.ts).
import { parseOutputSafetyPolicy, type OutputSafetyPolicy } from './outputSafety';

export interface PolicyCategory {
  id: string;
  /** What a person is told when a prompt is blocked for this category. */
  reason: string;
  /** Words or phrases; phrases match on word boundaries after normalization. */
  terms: string[];
}

export interface PromptPolicy {
  version: number;
  categories: PolicyCategory[];
  /** The output review's safety classifier threshold (the policy file's `output_safety`). */
  outputSafety: OutputSafetyPolicy;
}

export interface PromptVerdict {
  verdict: 'allow' | 'block';
  categories: string[];
  reasons: string[];
  /** Which term of which category matched, for the moderation case's record. */
  matches: { category: string; term: string }[];
}

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
  const matches: { category: string; term: string }[] = [];
  for (const category of policy.categories) {
    for (const term of category.terms) {
      const words = termWords(term);
      if (words.length === 0) continue;
      const joinedTerm = words.join('');
      const hit =
        containsPhrase(normalized.words, words) || (words.length === 1 && joinedTerm.length >= JOINED_MIN_LENGTH && normalized.joined.includes(joinedTerm));
      if (hit) {
        matches.push({ category: category.id, term });
        break;
      }
    }
  }
  const categories = matches.map((m) => m.category);
  const reasons = categories.map((id) => policy.categories.find((c) => c.id === id)!.reason);
  return { verdict: matches.length ? 'block' : 'allow', categories, reasons, matches };
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
    return { id: cat.id, reason: cat.reason, terms: cat.terms as string[] };
  });
  const outputSafety = parseOutputSafetyPolicy(v.output_safety, (at, reason) => new InvalidPolicy(at, reason));
  return { version: v.version, categories, outputSafety };
}
