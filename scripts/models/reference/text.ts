// text.onnx of the reference pack: token ids + seed + aspect → the scene (bodies, initial state, world, ambient).
// Every rule lives in the graph (embedding table, bigram detection, in-graph PRNG); see gpu-workers/models/README.md.
import { GraphBuilder, encodeModel } from '../onnx-builder';
import { fnv1a32 } from '../../../gpu-workers/engine/tokenizer';
import { HASH_BUCKETS, MAX_TOKENS, VOCAB, type VocabEntry } from './vocab';

const B = 8;
const T = MAX_TOKENS;

/** Embedding columns: what one token contributes to the scene. */
const F = {
  colour: 0,
  r: 1,
  g: 2,
  b: 3,
  isNum: 4,
  value: 5,
  noun: 6,
  singular: 7,
  speed: 8,
  bounce: 9,
  density: 10,
  size: 11,
  rain: 12,
  of: 13,
  strobe: 14,
  hz: 15,
  bg: 16,
  bgR: 17,
  bgG: 18,
  bgB: 19,
  loud: 20,
  pitch: 21,
  bright: 22,
  gravity: 23,
  wind: 24,
  // A stop token ends the search from a number to its noun: "3 red balls" counts, "5 hz 2 balls" gives 2 balls.
  stop: 25,
  // Per-word pseudo-random jitter (-1..1): every word, known or hashed, nudges hue, size, speed and pitch a little.
  j0: 26,
  j1: 27,
  j2: 28,
  j3: 29,
} as const;
const D = 30;

/** Defaults chosen for the reference look; the README's contract only fixes ranges. */
export const SCENE = {
  defaultCount: 3,
  rainCount: 8,
  /** Rate of a strobe word with no "N hz"; 3 Hz is where photosensitivity guidance starts to count flashes. */
  defaultStrobeHz: 3,
  /** Nyquist at 24 fps: a faster rate would alias into a slower flicker. */
  maxStrobeHz: 12,
  strobeAmount: 0.8,
  baseRadius: 0.06,
  minRadius: 0.02,
  maxRadius: 0.12,
  baseGravity: 1.6,
  baseRestitution: 0.72,
  maxRestitution: 0.92,
  baseAmbientHz: 110,
} as const;

/** Jitter in -1..1 from a word's hash, so it is stable across builds and independent of the vocabulary's order. */
function jitter(key: string, k: number): number {
  return (fnv1a32(`${key}#${k}`) / 0xffffffff) * 2 - 1;
}

function row(e: VocabEntry): number[] {
  const v = new Array<number>(D).fill(0);
  if (e.colour) [v[F.colour], v[F.r], v[F.g], v[F.b]] = [1, ...e.colour];
  if (e.value !== undefined) [v[F.isNum], v[F.value]] = [1, e.value];
  if (e.noun) [v[F.noun], v[F.singular]] = [1, e.noun === 'one' ? 1 : 0];
  v[F.speed] = e.speed ?? 0;
  v[F.bounce] = e.bounce ?? 0;
  v[F.density] = e.density ?? 0;
  v[F.size] = e.size ?? 0;
  v[F.rain] = e.rain ? 1 : 0;
  v[F.of] = e.of ? 1 : 0;
  v[F.strobe] = e.strobe ? 1 : 0;
  v[F.hz] = e.hz ? 1 : 0;
  if (e.background) [v[F.bg], v[F.bgR], v[F.bgG], v[F.bgB]] = [1, ...e.background];
  v[F.loud] = e.loudness ?? 0;
  v[F.pitch] = e.pitch ?? 0;
  v[F.bright] = e.brightness ?? 0;
  v[F.gravity] = e.gravity ?? 0;
  v[F.wind] = e.wind ?? 0;
  v[F.stop] = e.value !== undefined || e.noun || e.hz || e.rain ? 1 : 0;
  for (let k = 0; k < 4; k++) v[F.j0 + k] = jitter(e.word, k);
  return v;
}

/** [1 + vocab + buckets, D]: row 0 is padding (all zero), hashed words carry only jitter. */
export function embeddingTable(): Float32Array {
  const rows: number[][] = [new Array<number>(D).fill(0), ...VOCAB.map(row)];
  for (let bucket = 0; bucket < HASH_BUCKETS; bucket++) {
    const v = new Array<number>(D).fill(0);
    for (let k = 0; k < 4; k++) v[F.j0 + k] = jitter(`#bucket${bucket}`, k);
    rows.push(v);
  }
  return Float32Array.from(rows.flat());
}

// Lehmer modulus 2^31 - 1: every intermediate (< 2^62) fits int64, so the PRNG is exact on every runtime.
const PRIME = 2147483647;

export function buildTextModel(): Uint8Array {
  const g = new GraphBuilder('text');
  const tokens = g.input('tokens', 'int64', [T]);
  const seed = g.input('seed', 'int64', []);
  const aspect = g.input('aspect', 'float', []);

  const f = (x: number): string => g.scalar(x);
  const i64 = (values: number[]): string => g.vector(values, 'int64');
  const add = (a: string, b: string): string => g.op('Add', [a, b]);
  const sub = (a: string, b: string): string => g.op('Sub', [a, b]);
  const mul = (a: string, b: string): string => g.op('Mul', [a, b]);
  const div = (a: string, b: string): string => g.op('Div', [a, b]);
  const min = (a: string, b: string): string => g.op('Min', [a, b]);
  const max = (a: string, b: string): string => g.op('Max', [a, b]);
  const clip = (x: string, lo: number, hi: number): string => g.op('Clip', [x, f(lo), f(hi)]);
  const affine = (x: string, scale: number, offset: number): string => add(mul(x, f(scale)), f(offset));
  const lerp = (a: string, b: string, t: string): string => add(a, mul(sub(b, a), t));
  const exp2 = (x: string): string => g.op('Exp', [mul(x, f(Math.LN2))]);
  const axis0 = i64([0]);
  const sumAll = (x: string): string => g.op('ReduceSum', [x, axis0], { keepdims: { kind: 'i', value: 0 } });
  const maxAll = (x: string): string => g.op('ReduceMax', [x, axis0], { keepdims: { kind: 'i', value: 0 } });
  const col = (m: string, k: number): string => g.op('Gather', [m, g.scalar(k, 'int64')], { axis: { kind: 'i', value: 1 } });
  const cols = (m: string, from: number, to: number): string => g.op('Slice', [m, i64([from]), i64([to]), i64([1])]);
  const asCol = (x: string): string => g.op('Unsqueeze', [x, i64([1])]);
  const asVec = (x: string): string => g.op('Unsqueeze', [x, axis0]);
  const cat = (xs: string[], axis: number): string => g.op('Concat', xs, { axis: { kind: 'i', value: axis } });

  // --- Token features -------------------------------------------------------------------------------------------
  const table = g.constant('float', [1 + VOCAB.length + HASH_BUCKETS, D], embeddingTable(), 'embedding');
  const emb = g.op('Gather', [table, tokens], { axis: { kind: 'i', value: 0 } }); // [T, D]
  const total = sumAll(emb); // [D]
  const feature = (k: number): string => g.op('Gather', [total, g.scalar(k, 'int64')]);
  const anyOf = (k: number): string => maxAll(col(emb, k));

  const zeros4 = g.constant('float', [4], [0, 0, 0, 0]);
  /** x shifted left by k along the tokens (x[i + k]), zero past the end. */
  const next = (x: string, k: number): string => g.op('Slice', [cat([x, zeros4], 0), i64([k]), i64([k + T])]);
  /** The value of the first token where `candidate` is 1, and whether there is one. */
  const firstValue = (candidate: string, value: string): [string, string] => {
    const at = g.op('ArgMax', [candidate], { axis: { kind: 'i', value: 0 }, keepdims: { kind: 'i', value: 0 } });
    return [g.op('Gather', [value, at]), maxAll(candidate)];
  };

  const isNum = col(emb, F.isNum);
  const value = col(emb, F.value);
  const noun = col(emb, F.noun);
  const hz = col(emb, F.hz);
  const open = sub(f(1), col(emb, F.stop));

  // Count: a number followed by a body noun within 4 tokens, with no number, noun, "hz" or rain word in between.
  let reach = next(noun, 1);
  let path = next(open, 1);
  for (let k = 2; k <= 4; k++) {
    reach = add(reach, mul(path, next(noun, k)));
    path = mul(path, next(open, k));
  }
  const countCandidate = mul(mul(isNum, sub(f(1), hz)), reach);
  const [countValue, hasCount] = firstValue(countCandidate, value);
  const rain = anyOf(F.rain);
  const singularOnly = mul(anyOf(F.singular), sub(f(1), maxAll(mul(noun, sub(f(1), col(emb, F.singular))))));
  const defaultCount = lerp(affine(singularOnly, 1 - SCENE.defaultCount, SCENE.defaultCount), f(SCENE.rainCount), rain);
  const count = lerp(defaultCount, clip(countValue, 1, B), hasCount);
  const bodyIndex = g.constant(
    'float',
    [B],
    Array.from({ length: B }, (_, j) => j),
    'body_index',
  );
  const isActive = g.op('Less', [bodyIndex, count]); // [B] bool
  const active = g.op('Cast', [isActive], { to: { kind: 'i', value: 1 } });

  // Strobe: the rate is the number right before a bare "hz", or a fused "5hz" ("a 7hz strobe" is 7, not the "a");
  // only a strobe word turns it on.
  const rateCandidate = mul(isNum, max(next(mul(hz, sub(f(1), isNum)), 1), hz));
  const [rateValue, hasRate] = firstValue(rateCandidate, value);
  const strobeOn = anyOf(F.strobe);
  const strobeHz = mul(strobeOn, lerp(f(SCENE.defaultStrobeHz), clip(rateValue, 0, SCENE.maxStrobeHz), hasRate));
  const strobeAmount = mul(f(SCENE.strobeAmount), min(strobeHz, f(1)));

  // "rain of ...": the bigram pelts the drops down faster than plain rain.
  const rainOf = maxAll(mul(col(emb, F.rain), next(col(emb, F.of), 1)));

  // Jitter: position-weighted so word order matters, folded by a triangle wave into -1..1 (a sine's flat crests
  // would swallow some one-word changes; the triangle's slope is ±4 everywhere).
  const weights = g.constant(
    'float',
    [T, 1],
    Array.from({ length: T }, (_, i) => 1 + 0.618 * i),
    'jitter_weights',
  );
  const jitSum = sumAll(mul(cols(emb, F.j0, F.j3 + 1), weights)); // [4]
  const jit = affine(g.op('Abs', [sub(sub(jitSum, g.op('Floor', [jitSum])), f(0.5))]), 4, -1);
  const j = (k: number): string => g.op('Gather', [jit, g.scalar(k, 'int64')]);

  // --- Seeded randomness: U[9, 8] in [0, 1); rows 0..7 per body, row 8 for the world ------------------------------
  const p = g.scalar(PRIME, 'int64');
  const mod = (x: string): string => g.op('Mod', [x, p], { fmod: { kind: 'i', value: 0 } });
  const offsets = g.constant(
    'int64',
    [B + 1, 8],
    Array.from({ length: (B + 1) * 8 }, (_, i) => (i + 1) * 104729),
    'rng_offsets',
  );
  let h = mod(add(mod(seed), offsets));
  for (let round = 0; round < 3; round++) {
    h = mod(mul(h, g.scalar(48271, 'int64')));
    // Squaring makes neighbouring seeds and bodies decorrelate instead of stepping evenly.
    h = mod(add(mul(h, h), g.scalar(12345, 'int64')));
  }
  const u = div(g.op('Cast', [h], { to: { kind: 'i', value: 1 } }), f(PRIME)); // [9, 8]
  const bodyU = g.op('Slice', [u, i64([0]), i64([B])]); // [8, 8]
  const worldU = g.op('Gather', [u, g.scalar(B, 'int64')]); // [8]
  const ub = (k: number): string => col(bodyU, k); // [B]
  const uw = (k: number): string => g.op('Gather', [worldU, g.scalar(k, 'int64')]);

  /** HSV → RGB, h in [0, 1) → [..., 3]. */
  const hsv = (hue: string, s: string, v: string, unsq: (x: string) => string, axis: number): string => {
    const h6 = mul(hue, f(6));
    const channel = (c: number, sign: number, offset: number): string => clip(affine(g.op('Abs', [sub(h6, f(c))]), sign, offset), 0, 1);
    const pure = cat([channel(3, 1, -1), channel(2, -1, 2), channel(4, -1, 2)].map(unsq), axis);
    return mul(unsq(v), add(sub(f(1), unsq(s)), mul(unsq(s), pure)));
  };

  // --- Colours: the mentioned colours in order, cycling; none → seeded, saturated hues ---------------------------
  const isColour = col(emb, F.colour);
  const rank = sub(g.op('CumSum', [isColour, g.scalar(0, 'int64')]), f(1));
  const colourCount = sumAll(isColour);
  const n = max(colourCount, f(1));
  const slot = sub(bodyIndex, mul(n, g.op('Floor', [div(bodyIndex, n)]))); // body j takes colour j mod n
  const pick = mul(g.op('Cast', [g.op('Equal', [asVec(rank), asCol(slot)])], { to: { kind: 'i', value: 1 } }), asVec(isColour)); // [B, T]
  const named = mul(g.op('MatMul', [pick, cols(emb, F.r, F.b + 1)]), asCol(affine(ub(6), 0.07, 0.93)));
  const wrap = (x: string): string => sub(x, g.op('Floor', [x]));
  const seeded = hsv(wrap(add(ub(0), mul(j(0), f(0.08)))), affine(ub(6), 0.3, 0.65), affine(ub(7), 0.2, 0.78), asCol, 1);
  const bodyRgb = lerp(seeded, named, min(colourCount, f(1))); // [B, 3]

  // --- Size, mass, restitution -----------------------------------------------------------------------------------
  const sizeSteps = clip(sub(feature(F.size), rain), -2.5, 2.5);
  const rawRadius = mul(mul(exp2(mul(sizeSteps, f(0.6))), f(SCENE.baseRadius)), mul(affine(ub(5), 0.16, 0.92), affine(j(1), 0.08, 1)));
  // Body j starts in slot j of `count`, at 0.4..0.6 of the slot's width, centres spread over [cap, 1 - cap]: then
  // neighbours are at least (1 - 2 cap) 0.8 / count apart, which is >= 2 cap when cap <= 0.4 / (count + 0.8), so
  // no two bodies start overlapping; cap <= 0.45 aspect keeps 2r < min(1, aspect).
  const cap = min(min(f(SCENE.maxRadius), div(f(0.4), add(count, f(0.8)))), mul(aspect, f(0.45)));
  const radius = min(max(rawRadius, f(SCENE.minRadius)), cap);
  const density = exp2(clip(feature(F.density), -2, 2));
  const mass = mul(density, mul(div(radius, f(SCENE.baseRadius)), div(radius, f(SCENE.baseRadius))));
  const bounce = clip(feature(F.bounce), -5, 3);
  const restitution = clip(add(affine(bounce, 0.09, SCENE.baseRestitution), affine(ub(7), 0.04, -0.02)), 0.1, SCENE.maxRestitution);
  const wallRestitution = clip(affine(bounce, 0.06, 0.8), 0.3, SCENE.maxRestitution);

  // --- Motion ----------------------------------------------------------------------------------------------------
  const speedSteps = clip(feature(F.speed), -2, 2);
  const speed = mul(exp2(speedSteps), affine(j(2), 0.06, 1));
  const gravity = mul(exp2(add(mul(speedSteps, f(0.8)), clip(feature(F.gravity), -3, 1))), mul(f(SCENE.baseGravity), affine(j(2), 0.04, 1)));
  const slotX = div(add(bodyIndex, affine(ub(1), 0.2, 0.4)), count);
  const x = add(cap, mul(sub(f(1), mul(cap, f(2))), slotX));
  // Upper half of the height (top fifth for rain), inside [r, aspect - r].
  const yFrac = add(affine(rain, 0.3, 0.5), mul(ub(2), affine(rain, -0.25, 0.45)));
  const y = add(radius, mul(sub(aspect, mul(radius, f(2))), yFrac));
  const dry = sub(f(1), rain);
  const vx = mul(speed, add(mul(affine(ub(3), 0.8, -0.4), affine(rain, -0.8, 1)), mul(clip(feature(F.wind), 0, 2), f(0.3))));
  const fall = mul(affine(ub(4), -0.3, -0.4), affine(rainOf, 0.5, 1));
  const vy = mul(speed, add(mul(dry, affine(ub(4), 0.6, -0.3)), mul(rain, fall)));

  // Where, not a product with the mask: inactive rows must be +0, and 0 x -v would give -0.
  const activeCol = asCol(active);
  const onlyActive = (m: string): string => g.op('Where', [asCol(isActive), m, f(0)]);
  const bodies = onlyActive(cat([activeCol, bodyRgb, asCol(radius), asCol(mass), asCol(restitution), asCol(mul(active, f(0)))], 1));
  const initialState = onlyActive(cat([x, y, vx, vy].map(asCol), 1));

  // --- World and ambient -----------------------------------------------------------------------------------------
  const bgWords = feature(F.bg);
  const namedBg = div(g.op('Slice', [total, i64([F.bgR]), i64([F.bgB + 1])]), max(bgWords, f(1)));
  const seededBg = hsv(uw(0), f(0.3), affine(uw(1), 0.22, 0.18), asVec, 0);
  const background = clip(add(mul(lerp(seededBg, namedBg, min(bgWords, f(1))), affine(rain, -0.3, 1)), mul(j(0), f(0.03))), 0, 1); // [3]
  const luminance = g.op('ReduceSum', [mul(background, g.vector([0.2126, 0.7152, 0.0722])), axis0], {
    keepdims: { kind: 'i', value: 0 },
  });
  const world = cat([asVec(gravity), asVec(wallRestitution), asVec(strobeHz), asVec(strobeAmount), background, asVec(speed)], 0);
  const level = clip(add(affine(feature(F.loud), 0.25, 0.3), mul(rain, f(0.15))), 0, 1);
  const baseHz = mul(exp2(clip(feature(F.pitch), -2, 2)), f(SCENE.baseAmbientHz));
  const ambient = cat(
    [asVec(level), asVec(mul(baseHz, affine(j(3), 0.05, 1))), asVec(clip(add(affine(luminance, 0.7, 0.2), mul(feature(F.bright), f(0.2))), 0, 1)), asVec(rain)],
    0,
  );

  g.output('bodies', bodies, 'float', [B, 8]);
  g.output('initial_state', initialState, 'float', [B, 4]);
  g.output('world', world, 'float', [8]);
  g.output('ambient', ambient, 'float', [4]);
  return encodeModel(g, 'reelforge reference pack: prompt tokens + seed + aspect -> scene');
}
