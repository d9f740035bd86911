// Whether the challenge phrase was said: PocketSphinx decodes the recording's speech against a grammar of the phrase,
// decoy phrases, and a loop of common words that absorbs anything else said. Forced alignment alone always "finds"
// the phrase; with alternatives to choose from, the phrase must win on the audio.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { normalisePhrase, PHRASE_WORDS, WORDS } from '../../domain/cameo/phrases';

/** Decoys per check: phrases of the built-in words, the same for the same challenge (a retried check decides the same). */
export const DECOY_PHRASES = 8;
/** Words short and frequent enough to match most of any other sentence, for the "something else was said" path. */
const COMMON_WORDS =
  'a about after all an and are as at be been but by can could do for from had has have he her him his how i if in is it its just like man me might more much my no not now of on one or our out she so than that the their them then there they this to up was we were what when which who will with would you your'.split(
    ' ',
  );
/** A recogniser that takes longer than this on a 30 s clip is stuck. */
const RECOGNISER_TIMEOUT_MS = 120_000;

export interface PhraseRecognition {
  /** What the recogniser heard (normalised), or null when nothing was. */
  hypothesis: string | null;
  /** The share of the phrase's words heard, in order (longest common subsequence over the phrase's length). */
  matchedWords: number;
  /** The mean posterior probability of the words heard (0..1), null when none were. */
  meanWordProbability: number | null;
  decoys: number;
}

export class PhraseNotRecognisable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PhraseNotRecognisable';
  }
}

/** Decoys drawn from the built-in words by a generator seeded with the phrase, so a check is reproducible. */
export function decoysFor(phrase: string, count = DECOY_PHRASES): string[] {
  let state = [...phrase].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0, 2166136261) || 1;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const decoys: string[] = [];
  while (decoys.length < count) {
    const words: string[] = [];
    while (words.length < PHRASE_WORDS) {
      const w = WORDS[Math.floor(next() * WORDS.length)]!;
      if (!words.includes(w)) words.push(w);
    }
    const decoy = words.join(' ');
    if (decoy !== phrase && !decoys.includes(decoy)) decoys.push(decoy);
  }
  return decoys;
}

export function phraseGrammar(phrase: string, decoys: readonly string[]): string {
  const filler = [...new Set([...COMMON_WORDS, ...WORDS])];
  return [
    '#JSGF V1.0;',
    'grammar cameo;',
    `public <utterance> = <challenge> | ${decoys.map((_, i) => `<decoy${i}>`).join(' | ')} | <other>;`,
    `<challenge> = ${phrase};`,
    ...decoys.map((d, i) => `<decoy${i}> = ${d};`),
    `<other> = (${filler.join(' | ')})+;`,
    '',
  ].join('\n');
}

/** Recognises `samples` (16 kHz mono) against the phrase, its decoys and the common-word loop. */
export async function recognisePhrase(samples: Float32Array, challenge: string, modelDir: string): Promise<PhraseRecognition> {
  const phrase = normalisePhrase(challenge);
  if (phrase === '') throw new PhraseNotRecognisable(`the challenge phrase ${JSON.stringify(challenge)} has no words to listen for`);
  const decoys = decoysFor(phrase);
  const request = { grammar: phraseGrammar(phrase, decoys), modelBase: `${modelDir}${path.sep}`, words: phrase.split(' ') };
  const out = await runRecogniser(JSON.stringify(request), samples);
  const result = JSON.parse(out) as { hypothesis: string | null; words: Array<{ t: string; p: number }>; unknown: string[] };
  if (result.unknown.length > 0)
    throw new PhraseNotRecognisable(
      `the challenge phrase ${JSON.stringify(challenge)} has words the recogniser's dictionary lacks: ${result.unknown.join(', ')}`,
    );
  const heard = normalisePhrase(result.hypothesis ?? '');
  return {
    hypothesis: heard === '' ? null : heard,
    matchedWords: inOrder(phrase.split(' '), heard === '' ? [] : heard.split(' ')) / phrase.split(' ').length,
    meanWordProbability: result.words.length === 0 ? null : result.words.reduce((a, w) => a + w.p, 0) / result.words.length,
    decoys: decoys.length,
  };
}

/** Length of the longest common subsequence. */
function inOrder(a: readonly string[], b: readonly string[]): number {
  const row = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    let diagonal = 0;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = x === b[j - 1] ? diagonal + 1 : Math.max(row[j]!, row[j - 1]!);
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function runRecogniser(request: string, samples: Float32Array): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'phraseRecogniser.mjs'), request], { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), RECOGNISER_TIMEOUT_MS);
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(Buffer.concat(stdout).toString('utf8'));
      const tail = Buffer.concat(stderr).toString('utf8').trim().split('\n').slice(-3).join(' / ');
      reject(new Error(`the phrase recogniser failed (${signal ? `killed by ${signal}` : `exit ${code}`}): ${tail}`));
    });
    // A recogniser that dies early closes its stdin: the close event reports it, not this write.
    child.stdin.on('error', () => undefined);
    child.stdin.end(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
  });
}
