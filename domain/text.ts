// What text the platform takes: one set of rules, read by the API at submission (and written into its OpenAPI
// document as patterns) and by the engine before it renders, so a prompt the API accepts is one the engine renders.
// Pure: each rule is a function giving the reason a value is refused (undefined when it is fine) and, for the
// document, a JSON Schema pattern that accepts exactly the same strings of Unicode characters (ECMA-262 with the u
// flag, as ajv runs it, and Python's re, as schemathesis reads it, agree on it). A lone surrogate is no character:
// the functions refuse it, the patterns leave it out (a fuzzer cannot use a surrogate range, and a JSON Schema
// string is made of characters).

/** The longest prompt, in characters (code points: an emoji counts once). */
export const PROMPT_MAX_CHARS = 2000;

// C0 controls but tab, newline and carriage return; DEL; C1 controls (\p{Cc} less the three). They render as
// nothing, smuggle terminal and log escapes, and no honest text needs them.
const CONTROLS = '\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f';
// What String.prototype.trim removes: ECMAScript WhiteSpace and LineTerminator, spelled out (Python's \s differs).
const SPACES = '\\t\\n\\u000b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';

/** Any text stored anywhere (names, ids, query values, header values): no NUL, no unpaired surrogate. */
export const STORABLE_TEXT_PATTERN = '^[^\\u0000]*$';

/** Text people read (a prompt, a display name): no control character but tab and line ends, no lone surrogate, not blank. */
export const VISIBLE_TEXT_PATTERN = `^[^${CONTROLS}]*[^${CONTROLS}${SPACES}][^${CONTROLS}]*$`;

function codePointName(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

// A surrogate code unit on its own: not a character; PostgreSQL's jsonb refuses it, UTF-8 cannot carry it.
const isLoneSurrogate = (ch: string) => ch.length === 1 && ch.charCodeAt(0) >= 0xd800 && ch.charCodeAt(0) <= 0xdfff;
const isControl = (ch: string) => /\p{Cc}/u.test(ch) && ch !== '\n' && ch !== '\r' && ch !== '\t';

/** Why `value` cannot be stored (a NUL, an unpaired surrogate), or undefined. Indexes count code points. */
export function storableTextProblem(value: string): string | undefined {
  // The common case costs one scan: nothing to report.
  if (!/[\u0000\ud800-\udfff]/.test(value)) return undefined;
  const chars = Array.from(value);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '\u0000') return `must not contain NUL (U+0000), found at index ${i}`;
    if (isLoneSurrogate(ch)) return `contains an unpaired surrogate ${codePointName(ch.charCodeAt(0))} at index ${i}, which is not a character`;
  }
  return undefined;
}

/**
 * Why `value` is not visible text of at most `maxChars` characters, or undefined: the engine's prompt rules, in
 * its words (a string; not empty, not only whitespace; the length; a control character or a lone surrogate, named
 * with its index in code points).
 */
export function visibleTextProblem(value: unknown, maxChars: number): string | undefined {
  if (typeof value !== 'string') return `must be a string, got ${value === null ? 'null' : typeof value}`;
  if (value.trim().length === 0) return value.length === 0 ? 'must not be empty' : 'must not be only whitespace';
  const chars = Array.from(value);
  if (chars.length > maxChars) return `is ${chars.length} characters long; the limit is ${maxChars} characters`;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (isControl(ch)) return `contains control character ${codePointName(ch.codePointAt(0)!)} at index ${i}`;
    if (isLoneSurrogate(ch)) return `contains an unpaired surrogate ${codePointName(ch.charCodeAt(0))} at index ${i}, which is not a character`;
  }
  return undefined;
}

/** Why the engine cannot render `prompt`, or undefined: checked by the API when a video is asked for, and by the engine. */
export function promptProblem(prompt: unknown): string | undefined {
  return visibleTextProblem(prompt, PROMPT_MAX_CHARS);
}
