// Remixing a scene: the source's bodies and layout stay, and the new prompt changes only what its words set. Pure:
// the scenes come from describeScene, and what the words set comes from the pack's vocabulary through the tokenizer.
import { InvalidRenderInput } from './errors';
import type { Scene } from './engine';
import { MAX_TOKENS, words } from './tokenizer';
import type { Rgb, VocabEntry } from './vocabulary';

/** Scene features a prompt's words can set. `count` and `size` are reported, but a remix keeps the source's layout. */
export type SceneFeature =
  | 'colour'
  | 'count'
  | 'size'
  | 'speed'
  | 'gravity'
  | 'bounce'
  | 'density'
  | 'rain'
  | 'strobe'
  | 'background'
  | 'loudness'
  | 'pitch'
  | 'brightness'
  | 'wind';

export interface Mentions {
  features: ReadonlySet<SceneFeature>;
  /** The colours named, in order (bodies take them in turn, cycling), as the text graph reads them. */
  colours: readonly Rgb[];
  /** The sum of the wind words' pushes. */
  wind: number;
}

/** A pack's words with their features, as it ships them beside its vocab.json (the manifest's `tokenizer.features`). */
export function vocabularyOf(pack: { name: string; vocabulary?: readonly VocabEntry[] }): readonly VocabEntry[] {
  if (pack.vocabulary) return pack.vocabulary;
  throw new InvalidRenderInput('pack', `remixing needs the vocabulary features of pack ${pack.name}, which it does not ship`);
}

/** What the prompt's words set, read word by word as the tokenizer splits them (the same 64 tokens text.onnx sees). */
export function promptMentions(prompt: string, vocabulary: readonly VocabEntry[]): Mentions {
  const byWord = new Map<string, VocabEntry>();
  for (const entry of vocabulary) if (!byWord.has(entry.word)) byWord.set(entry.word, entry);
  const features = new Set<SceneFeature>();
  const colours: Rgb[] = [];
  let wind = 0;
  for (const word of words(prompt).slice(0, MAX_TOKENS)) {
    const e = byWord.get(word);
    if (!e) continue;
    if (e.colour) {
      features.add('colour');
      colours.push(e.colour);
    }
    if (e.noun || (e.value !== undefined && !e.hz)) features.add('count');
    if (e.size) features.add('size');
    if (e.speed) features.add('speed');
    if (e.gravity) features.add('gravity');
    if (e.bounce) features.add('bounce');
    if (e.density) features.add('density');
    if (e.rain) features.add('rain');
    if (e.strobe || e.hz) features.add('strobe');
    if (e.background) features.add('background');
    if (e.loudness) features.add('loudness');
    if (e.pitch) features.add('pitch');
    if (e.brightness) features.add('brightness');
    if (e.wind) {
      features.add('wind');
      wind += e.wind;
    }
  }
  return { features, colours, wind };
}

const BODY = 8;
const STATE = 4;
const BASE_RADIUS = 0.06;
/** The text graph's wind push on initial x velocities: speed x clip(wind, 0, 2) x 0.3. */
const WIND_PUSH = 0.3;

/**
 * The source scene changed by the edit prompt's scene (`edit`: the same seed and size described from the new prompt)
 * where `mentions` (that prompt's words) say so. Kept always: the pack, seed, size, which bodies exist, their
 * positions and radii. Taken from the edit when named: colours, bounce, density (mass at the kept radius), speed
 * (velocities scaled), wind (a sideways push), gravity, strobe, background, rain (its sound, darker sky), loudness,
 * pitch, brightness. A count or size word changes nothing: the layout is the source's.
 */
export function remixScene(source: Scene, edit: Scene, mentions: Mentions): Scene {
  if (source.pack !== edit.pack) throw new InvalidRenderInput('scene.pack', `the edit was described by ${edit.pack}, the source by ${source.pack}`);
  if (source.width !== edit.width || source.height !== edit.height) {
    throw new InvalidRenderInput('size', `the edit was described for ${edit.width}x${edit.height}, the source for ${source.width}x${source.height}`);
  }
  const has = (f: SceneFeature) => mentions.features.has(f);
  const bodies = [...source.bodies];
  const state = [...source.initialState];
  const world = [...source.world];
  const ambient = [...source.ambient];
  const count = bodies.length / BODY;
  const active = (scene: Scene, i: number) => scene.bodies[i * BODY]! > 0.5;
  const firstActive = (scene: Scene) => Array.from({ length: count }, (_, i) => i).find((i) => active(scene, i));
  const editRow = (i: number) => (active(edit, i) ? i : firstActive(edit));

  for (let i = 0; i < count; i++) {
    if (!active(source, i)) continue;
    const at = i * BODY;
    if (has('colour') && mentions.colours.length > 0) {
      // The edit's own row where it has that body (its colour carries the graph's per-body shade), else the named
      // colour the body's turn gives.
      if (active(edit, i)) {
        for (let c = 1; c <= 3; c++) bodies[at + c] = edit.bodies[at + c]!;
      } else {
        const rgb = mentions.colours[i % mentions.colours.length]!;
        for (let c = 0; c < 3; c++) bodies[at + 1 + c] = Math.fround(rgb[c]! * 0.965);
      }
    }
    const j = editRow(i);
    if (j === undefined) continue;
    if (has('bounce')) bodies[at + 6] = edit.bodies[j * BODY + 6]!;
    if (has('density')) {
      const editRadius = edit.bodies[j * BODY + 4]!;
      const density = edit.bodies[j * BODY + 5]! / (editRadius / BASE_RADIUS) ** 2;
      bodies[at + 5] = Math.fround(density * (bodies[at + 4]! / BASE_RADIUS) ** 2);
    }
  }

  const sourceSpeed = source.world[7]!;
  const editSpeed = edit.world[7]!;
  const speedFactor = has('speed') && sourceSpeed > 0 ? editSpeed / sourceSpeed : 1;
  const push = has('wind') ? editSpeed * Math.min(2, Math.max(0, mentions.wind)) * WIND_PUSH : 0;
  for (let i = 0; i < count; i++) {
    if (!active(source, i)) continue;
    state[i * STATE + 2] = Math.fround(state[i * STATE + 2]! * speedFactor + push);
    state[i * STATE + 3] = Math.fround(state[i * STATE + 3]! * speedFactor);
  }

  if (has('speed') || has('gravity')) world[0] = edit.world[0]!;
  if (has('bounce')) world[1] = edit.world[1]!;
  if (has('strobe')) [world[2], world[3]] = [edit.world[2]!, edit.world[3]!];
  if (has('background')) {
    for (let c = 4; c <= 6; c++) world[c] = edit.world[c]!;
  } else if (has('rain') && source.ambient[3]! < 0.5 && edit.ambient[3]! > 0.5) {
    // Rain darkens the sky as the text graph does (x 0.7), over the source's own background.
    for (let c = 4; c <= 6; c++) world[c] = Math.fround(source.world[c]! * 0.7);
  }
  if (has('speed')) world[7] = editSpeed;

  if (has('loudness') || has('rain')) ambient[0] = edit.ambient[0]!;
  if (has('pitch')) ambient[1] = edit.ambient[1]!;
  if (has('brightness') || has('background')) ambient[2] = edit.ambient[2]!;
  if (has('rain')) ambient[3] = edit.ambient[3]!;

  // + 0: no -0 (a scene must survive JSON unchanged).
  const plain = (xs: number[]) => xs.map((v) => v + 0);
  return { ...source, bodies: plain(bodies), initialState: plain(state), world: plain(world), ambient: plain(ambient) };
}
