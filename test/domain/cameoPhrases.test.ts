// Challenge phrases: the CAMEO_PHRASES file's rules, and the API drawing challenges from it or from the built-in words.
import fs from 'node:fs';
import path from 'node:path';
import { loadCameoPhrases, randomPhrase } from '../../api/cameos/challenges';
import { InvalidPhraseFile, normalisePhrase, parsePhrases, PHRASE_WORDS, WORDS } from '../../domain/cameo/phrases';
import { testEnv } from '../support/env';

describe('CAMEO_PHRASES', () => {
  it('reads one phrase per line, skipping blank lines and comments, normalised as the recogniser compares them', () => {
    expect(parsePhrases("# greetings\nHello  there friend\n\n  good morning sunshine \r\nit's a lovely day\n", 'phrases.txt')).toEqual([
      'hello there friend',
      'good morning sunshine',
      "it's a lovely day",
    ]);
  });

  it('refuses a line that is not words of letters, or too short, naming the file and line', () => {
    expect(() => parsePhrases('good morning\nsay 42 things\n', 'phrases.txt')).toThrow(InvalidPhraseFile);
    expect(() => parsePhrases('good morning\nsay 42 things\n', 'phrases.txt')).toThrow(/^phrases\.txt line 2: "say 42 things" is not a phrase/);
    expect(() => parsePhrases('hello\n', 'phrases.txt')).toThrow(/line 1: a phrase has 2 to 20 words, this one 1/);
    expect(() => parsePhrases('# nothing\n\n', 'phrases.txt')).toThrow(/holds no phrase/);
  });

  it('the API draws every challenge from the file when set, from PHRASE_WORDS built-in words when not', () => {
    const file = path.join(fs.mkdtempSync(path.join(testEnv.tmpDir, 'phrases-')), 'phrases.txt');
    fs.writeFileSync(file, 'one small step\ngiant leap for mankind\n');
    const pool = loadCameoPhrases(file)!;
    expect(pool).toEqual(['one small step', 'giant leap for mankind']);
    const drawn = new Set(Array.from({ length: 50 }, () => randomPhrase(PHRASE_WORDS, pool)));
    expect([...drawn].sort()).toEqual(['giant leap for mankind', 'one small step']);
    expect(loadCameoPhrases(undefined)).toBeUndefined();
    expect(() => loadCameoPhrases(`${file}.missing`)).toThrow(/^CAMEO_PHRASES: cannot read .*phrases\.txt\.missing/);
    const builtIn = randomPhrase().split(' ');
    expect(builtIn).toHaveLength(PHRASE_WORDS);
    expect(builtIn.every((w) => WORDS.includes(w))).toBe(true);
    expect(normalisePhrase(builtIn.join('  '))).toBe(builtIn.join(' '));
  });
});
