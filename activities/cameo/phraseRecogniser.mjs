// Recognises what was said in a cameo recording (activities/cameo/phrase.ts starts it): PocketSphinx (soundswallower,
// WebAssembly, en-us model) decodes 16 kHz mono float32 audio read from stdin against the JSGF grammar given as JSON in
// argv[2] ({grammar, modelBase, words}); writes {hypothesis, words, unknown} as JSON to stdout, where `unknown` lists
// the words of `words` its dictionary lacks (then nothing is decoded).
// A child process of its own: soundswallower is an ES module that loads its WebAssembly through import.meta.url, and
// decoding is synchronous, so it would otherwise hold up the worker's event loop (and its heartbeats) while it runs.
import { Buffer } from 'node:buffer';
import process from 'node:process';
import createModule from 'soundswallower';

const { grammar, modelBase, words } = JSON.parse(process.argv[2]);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const bytes = Buffer.concat(chunks);
const audio = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length - (bytes.length % 4)));

// modelBase: the package's model folder, which the parent checked; soundswallower's default is relative to the cwd.
const soundswallower = await createModule({ modelBase });
const decoder = new soundswallower.Decoder({ samprate: 16000, loglevel: 'ERROR' });
await decoder.initialize();
const unknown = words.filter((w) => !decoder.lookup_word(w));
if (unknown.length > 0) {
  process.stdout.write(JSON.stringify({ hypothesis: null, words: [], unknown }));
} else {
  decoder.set_grammar(grammar);
  decoder.start();
  decoder.process_audio(audio, false, true);
  decoder.stop();
  const alignment = decoder.get_alignment();
  const said = (alignment?.w ?? []).filter(({ t }) => !t.startsWith('<') && !t.startsWith('(') && !t.startsWith('['));
  process.stdout.write(JSON.stringify({ hypothesis: decoder.get_text(), words: said.map(({ t, b, d, p }) => ({ t, b, d, p })), unknown }));
}
decoder.delete();
