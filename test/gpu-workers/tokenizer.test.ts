// The prompt tokenizer and prompt validation: the ids text.onnx reads, and clear refusals of prompts it cannot take.
import { InvalidRenderInput } from '../../gpu-workers/engine/errors';
import * as tokenizer from '../../gpu-workers/engine/tokenizer';
import { fnv1a32, tokenize, validatePrompt } from '../../gpu-workers/engine/tokenizer';
import { HASH_BUCKETS, MAX_TOKENS, VOCAB, VOCAB_WORDS } from '../../scripts/models/reference/vocab';

const id = (word: string): bigint => BigInt(1 + VOCAB_WORDS.indexOf(word));

function refusal(prompt: unknown): InvalidRenderInput {
  try {
    validatePrompt(prompt);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRenderInput);
    return err as InvalidRenderInput;
  }
  throw new Error(`expected ${JSON.stringify(prompt)?.slice(0, 40)} to be refused`);
}

describe('tokenize', () => {
  it('gives each vocabulary word 1 + its index and pads the rest with 0', () => {
    const ids = tokenize('three red balls', VOCAB_WORDS);
    expect(ids).toHaveLength(64);
    expect(Array.from(ids.slice(0, 4))).toEqual([id('three'), id('red'), id('balls'), 0n]);
    expect(ids.slice(3).every((v) => v === 0n)).toBe(true);
    expect(id('three')).toBeGreaterThan(0n);
  });

  it('hashes an unknown word with FNV-1a into one of 1024 buckets after the vocabulary', () => {
    // Reference FNV-1a 32 vectors, so the ids match any other implementation of the contract.
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    const [zyzzyva] = tokenize('zyzzyva', VOCAB_WORDS);
    expect(zyzzyva).toBe(BigInt(1 + VOCAB_WORDS.length + (fnv1a32('zyzzyva') % 1024)));
    expect(zyzzyva).toBeGreaterThanOrEqual(BigInt(1 + VOCAB_WORDS.length));
    expect(zyzzyva).toBeLessThan(BigInt(1 + VOCAB_WORDS.length + 1024));
  });

  it('normalizes with NFKC, lower-cases and splits on anything but letters and digits', () => {
    expect(tokenize('ＴＨＲＥＥ  Red-BALLS!!\n(at 5Hz)', VOCAB_WORDS)).toEqual(tokenize('three red balls at 5hz', VOCAB_WORDS));
    expect(tokenize('café', VOCAB_WORDS)).toEqual(tokenize('cafe\u0301', VOCAB_WORDS));
    expect(tokenize('... ---', VOCAB_WORDS).every((v) => v === 0n)).toBe(true);
  });

  it('is deterministic and keeps only the first 64 words', () => {
    const words = Array.from({ length: 100 }, (_, i) => (i === 63 ? 'red' : i === 64 ? 'blue' : `w${i}`));
    const ids = tokenize(words.join(' '), VOCAB_WORDS);
    expect(ids).toEqual(tokenize(words.join(' '), VOCAB_WORDS));
    expect(ids).toHaveLength(64);
    expect(ids.every((v) => v !== 0n)).toBe(true);
    expect(ids[63]).toBe(id('red'));
    expect(ids.includes(id('blue'))).toBe(false);
  });

  it('uses a vocabulary whose every word is one distinct token of its own', () => {
    expect(new Set(VOCAB_WORDS).size).toBe(VOCAB_WORDS.length);
    expect(VOCAB_WORDS).toEqual(VOCAB.map((e) => e.word));
    for (const word of VOCAB_WORDS) expect(Array.from(tokenize(word, VOCAB_WORDS).slice(0, 2))).toEqual([id(word), 0n]);
    expect([tokenizer.MAX_TOKENS, tokenizer.HASH_BUCKETS]).toEqual([MAX_TOKENS, HASH_BUCKETS]);
  });
});

describe('validatePrompt', () => {
  it('returns a renderable prompt unchanged, newlines and tabs included', () => {
    expect(validatePrompt('three red balls\n\tat night\r\n')).toBe('three red balls\n\tat night\r\n');
    expect(validatePrompt('x'.repeat(2000))).toHaveLength(2000);
  });

  it('refuses something that is not a string', () => {
    for (const bad of [undefined, null, 42, { text: 'balls' }]) {
      const err = refusal(bad);
      expect(err.field).toBe('prompt');
      expect(err.reason).toMatch(/must be a string/);
    }
  });

  it('refuses an empty or whitespace-only prompt', () => {
    expect(refusal('').message).toBe('invalid prompt: must not be empty');
    expect(refusal(' \n\t ').message).toBe('invalid prompt: must not be only whitespace');
  });

  it('refuses a 10,000-character prompt, naming its length and the limit', () => {
    const err = refusal('ball '.repeat(2000));
    expect(err.field).toBe('prompt');
    expect(err.reason).toBe('is 10000 characters long; the limit is 2000 characters');
    // Characters are code points: 2000 emoji are within the limit although they are 4000 UTF-16 units.
    expect(validatePrompt('🎈'.repeat(2000))).toHaveLength(4000);
  });

  it('refuses control characters other than newline, carriage return and tab, naming which and where', () => {
    expect(refusal('three balls \u0007 boom').reason).toBe('contains control character U+0007 at index 12');
    expect(refusal('\u001b[31mred balls').reason).toBe('contains control character U+001B at index 0');
    expect(refusal('balls\u0000').reason).toBe('contains control character U+0000 at index 5');
    expect(refusal('🎈🎈\u007f').reason).toBe('contains control character U+007F at index 2');
  });
});
