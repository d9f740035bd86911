// The prompt tokenizer text.onnx expects (gpu-workers/models/README.md) and the prompt's validation.
// Pure and deterministic: the same prompt and vocabulary always give the same 64 ids, on every machine.
import { PROMPT_MAX_CHARS, promptProblem } from '../../domain/text';
import { InvalidRenderInput } from './errors';

export const MAX_TOKENS = 64;
export const HASH_BUCKETS = 1024;
export const MAX_PROMPT_CHARS = PROMPT_MAX_CHARS;

// "Letter or digit" read as Unicode letters (L) and decimal digits (Nd); everything else separates words.
const SEPARATORS = /[^\p{L}\p{Nd}]+/u;

/** FNV-1a, 32 bit, over the word's UTF-8 bytes (so ids do not depend on JavaScript's UTF-16 strings). */
export function fnv1a32(word: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(word, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function words(prompt: string): string[] {
  return prompt
    .normalize('NFKC')
    .toLowerCase()
    .split(SEPARATORS)
    .filter((w) => w.length > 0);
}

export function tokenize(prompt: string, vocabWords: readonly string[]): BigInt64Array {
  const index = new Map<string, number>();
  vocabWords.forEach((w, i) => {
    // The first occurrence wins, like a lookup in the ordered vocab.json would.
    if (!index.has(w)) index.set(w, i);
  });
  const ids = new BigInt64Array(MAX_TOKENS);
  words(prompt)
    .slice(0, MAX_TOKENS)
    .forEach((w, i) => {
      const known = index.get(w);
      ids[i] = BigInt(known !== undefined ? 1 + known : 1 + vocabWords.length + (fnv1a32(w) % HASH_BUCKETS));
    });
  return ids;
}

/**
 * Returns the prompt when it can be rendered, else throws InvalidRenderInput('prompt', why). The rules are the
 * platform's (domain/text.ts), which the API applies at submission: a prompt refused here was never accepted there.
 */
export function validatePrompt(prompt: unknown): string {
  const problem = promptProblem(prompt);
  if (problem !== undefined) throw new InvalidRenderInput('prompt', problem);
  return prompt as string;
}
