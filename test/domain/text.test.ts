// The platform's text rules (domain/text.ts): the functions the API and the engine call, and the patterns the
// OpenAPI document carries, accept exactly the same strings of characters; a lone surrogate the functions refuse.
import fc from 'fast-check';
import { PROMPT_MAX_CHARS, promptProblem, STORABLE_TEXT_PATTERN, storableTextProblem, VISIBLE_TEXT_PATTERN } from '../../domain/text';

const storable = new RegExp(STORABLE_TEXT_PATTERN, 'u');
const visible = new RegExp(VISIBLE_TEXT_PATTERN, 'u');

// Strings salted with what the rules are about: NUL, C0 and C1 controls, tab and line ends, every kind of
// whitespace trim() removes, lone surrogates of both halves, and a valid surrogate pair.
const special = fc.constantFrom(
  '\u0000',
  '\u0007',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u0093',
  '\t',
  '\n',
  '\r',
  ' ',
  '\u00a0',
  '\u2028',
  '\u3000',
  '\ufeff',
  '\ud800',
  '\udfff',
  '🎈',
  'a',
  'é',
);
const withSurrogates = fc.array(fc.oneof(special, fc.string({ unit: 'binary', maxLength: 3 })), { maxLength: 12 }).map((parts) => parts.join(''));
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Strings of characters, as a JSON Schema pattern sees them. */
const text = withSurrogates.filter((s) => !loneSurrogate.test(s));

describe('text rules', () => {
  it('storable text: the function and the pattern agree, and name NUL and a lone surrogate with their index', () => {
    fc.assert(
      fc.property(text, (s) => (storableTextProblem(s) === undefined) === storable.test(s)),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(withSurrogates, (s) => !loneSurrogate.test(s) || storableTextProblem(s) !== undefined),
      { numRuns: 2000 },
    );
    expect(storableTextProblem('ok 🎈 ok')).toBeUndefined();
    expect(storableTextProblem('🎈a\u0000')).toBe('must not contain NUL (U+0000), found at index 2');
    expect(storableTextProblem('x\ud83d')).toBe('contains an unpaired surrogate U+D83D at index 1, which is not a character');
  });

  it('prompts: the function and the pattern (with the length limit) agree', () => {
    fc.assert(
      fc.property(text, (s) => (promptProblem(s) === undefined) === visible.test(s)),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(withSurrogates, (s) => !loneSurrogate.test(s) || promptProblem(s) !== undefined),
      { numRuns: 2000 },
    );
    const long = 'a'.repeat(PROMPT_MAX_CHARS + 1);
    expect(visible.test(long)).toBe(true);
    expect(promptProblem(long)).toBe(`is ${PROMPT_MAX_CHARS + 1} characters long; the limit is ${PROMPT_MAX_CHARS} characters`);
  });

  it('prompts: refuses C1 controls, lone surrogates and whitespace-only text; keeps tabs, line ends and emoji', () => {
    expect(promptProblem('three balls \u0093 bouncing')).toBe('contains control character U+0093 at index 12');
    expect(promptProblem('balls \udc00')).toBe('contains an unpaired surrogate U+DC00 at index 6, which is not a character');
    expect(promptProblem('\u3000\ufeff\n')).toBe('must not be only whitespace');
    expect(promptProblem('three\tred\r\nballs 🎈')).toBeUndefined();
  });
});
