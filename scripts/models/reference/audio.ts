// Builds the reference pack's audio.onnx: the event track of a chunk (plus 6 carried frames) and the scene → 48 kHz
// stereo: one struck-bell sound per collision, starting on its exact sample, over an ambient bed of the global sample index.
//
// Determinism rule: the graph uses no transcendental op (Sin, Exp, Pow, Tanh ...) and no reduction whose summation order
// could depend on tensor sizes (ReduceSum, MatMul). Vectorized kernels compute those differently in a block's tail than
// in its body, and block boundaries move with the chunk length, so a sample could change in its last bit between a
// 48-frame chunk and two 24-frame ones. Only exactly rounded ops remain (Add, Mul, Div, Clip, Round, integer Mod, Cast
// of whole numbers) plus pure data movement (Gather, TopK, Split), and every sum is an explicit chain of Adds in a fixed
// order. So each output sample is the same sequence of IEEE operations whatever the chunking or thread count (and, by
// design, on any CPU or execution provider that rounds these ops as IEEE 754 says).
import { GraphBuilder, attr, encodeModel, DT } from '../onnx-builder';

/** Numbers of the contract (gpu-workers/models/README.md) and of this synthesizer; tests read them from here. */
export const AUDIO = {
  sampleRateHz: 48000,
  samplesPerFrame: 2000,
  /** Frames of event track carried before the chunk (`P`). */
  carryFrames: 6,
  bodies: 8,
  substeps: 8,
  harmonics: 8,
  /** Loudest impacts kept per frame (of 64 substep x body slots); quieter ones in the same frame are not heard. */
  impactsPerFrame: 8,
  /** An impact sounds for this many samples (200 ms) and is exactly zero after, within the 5 frames + 1 carried. */
  impactSamples: 9600,
  /** Impacts slower than this (world units/s) are resting contact, not heard. */
  minAudibleSpeed: 0.05,
  /** Loudness 0.7 * v / (v + 1.2): strictly increasing with speed v, approaching 0.7 for violent impacts. */
  maxImpactAmplitude: 0.7,
  /** Ambient bed peak is at most this times `level`. */
  maxAmbientPeak: 0.05,
} as const;

const SPF = AUDIO.samplesPerFrame;
const P = AUDIO.carryFrames;
const B = AUDIO.bodies;
const H = AUDIO.harmonics;
const KF = AUDIO.impactsPerFrame;
const L = AUDIO.impactSamples;
const SLOTS = AUDIO.substeps * AUDIO.bodies;
/** Window frames that can still sound at a given output frame: the frame itself and the 5 before (L < 5 * 2000 + 2000). */
const REACH = Math.ceil(L / SPF) + 1;
/** One full period of the shared sine table: integer-Hz partials then have an exact integer phase at every sample. */
const TABLE = AUDIO.sampleRateHz;
const QUARTER = TABLE / 4;
/** Length of the contact click (2 ms) that opens every impact: broadband, so the onset is audible and detectable. */
const CLICK = 96;
const CLICK_GAIN = 0.5;
/** Default harmonic weights (a bright pluck). Weights are normalized to sum 1, so every ring starts at its full amplitude. */
const DEFAULT_TIMBRE = [1, 0.55, 0.35, 0.22, 0.14, 0.09, 0.06, 0.04];
/** Hash modulus (2^31 - 1): squares of residues stay below 2^62, so no int64 product overflows. */
const PRIME = 2147483647;
const HASH_PERIOD = 1 << 24;

if (REACH > P) throw new Error(`impacts of ${L} samples need ${REACH} carried frames, the contract carries ${P}`);

/** float32 rounding done in JS doubles (exact IEEE ops only), so the model bytes do not depend on the Node version. */
const f32 = Math.fround;

function clickTable(): number[] {
  // A fixed noise burst from an integer xorshift, with a polynomial decay: reproducible to the bit on any machine.
  let s = 0x9e3779b9 | 0;
  const out: number[] = [];
  for (let t = 0; t < CLICK; t++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const u = (s >>> 8) / 8388608 - 1;
    const d = 1 - t / CLICK;
    out.push(f32(CLICK_GAIN * u * d * d * d * d));
  }
  return out;
}

export function buildAudioModel(): Uint8Array {
  const g = new GraphBuilder('reelforge_audio');
  const int = (v: number) => g.scalar(v, 'int64');
  const num = (v: number) => g.scalar(f32(v));
  const ints = (v: number[]) => g.vector(v, 'int64');
  const op = (type: string, inputs: string[], attrs: Record<string, ReturnType<typeof attr.i>> = {}) => g.op(type, inputs, attrs);
  const add = (a: string, b: string) => op('Add', [a, b]);
  const sub = (a: string, b: string) => op('Sub', [a, b]);
  const mul = (a: string, b: string) => op('Mul', [a, b]);
  const div = (a: string, b: string) => op('Div', [a, b]);
  const mod = (a: string, b: string) => op('Mod', [a, b]);
  const where = (c: string, a: string, b: string) => op('Where', [c, a, b]);
  const toFloat = (x: string) => op('Cast', [x], { to: attr.i(DT.float) });
  const toInt = (x: string) => op('Cast', [x], { to: attr.i(DT.int64) });
  const unsqueeze = (x: string, axes: number[]) => op('Unsqueeze', [x, ints(axes)]);
  const reshape = (x: string, shape: number[]) => op('Reshape', [x, ints(shape)]);
  const take = (x: string, index: number, axis: number) => op('Gather', [x, int(index)], { axis: attr.i(axis) });
  const gather = (x: string, indices: string, axis = 0) => op('Gather', [x, indices], { axis: attr.i(axis) });
  const clip = (x: string, lo: number, hi: number) => op('Clip', [x, num(lo), num(hi)]);
  /** Sum over one axis as a fixed chain of Adds (see the determinism rule above); keeps the axis with size 1. */
  const sumAxis = (x: string, axis: number, n: number) => {
    const parts = g.opN('Split', [x], { axis: attr.i(axis), num_outputs: attr.i(n) }, n);
    return parts.slice(1).reduce((acc, p) => add(acc, p), parts[0]!);
  };
  /** Horner evaluation with Mul and Add only. */
  const poly = (x: string, coeffs: number[]) => coeffs.slice(1).reduce((acc, c) => add(mul(acc, x), num(c)), num(coeffs[0]!));

  const events = g.input('events', 'float', ['P+F', AUDIO.substeps, B, 4]);
  const bodies = g.input('bodies', 'float', [B, 8]);
  const ambient = g.input('ambient', 'float', [4]);
  const startFrame = g.input('start_frame', 'int64', []);
  const voice = g.input('voice', 'float', [H]);
  const cameoBody = g.input('cameo_body', 'int64', []);

  // ---- Sine table: sin(2 pi q / 48000) for q in 0..47999, folded to |x| <= pi/2 by integer symmetry, then a
  // degree-13 Taylor polynomial (error < 1e-9 there, far under float32's step). Fixed shape, constant-folded at load.
  const q = op('Range', [int(0), int(TABLE), int(1)]);
  const folded = where(op('LessOrEqual', [q, int(QUARTER)]), q, where(op('Less', [q, int(3 * QUARTER)]), sub(int(TABLE / 2), q), sub(q, int(TABLE))));
  const angle = mul(toFloat(folded), num((2 * Math.PI) / TABLE));
  const angle2 = mul(angle, angle);
  const taylor = [1 / 6227020800, -1 / 39916800, 1 / 362880, -1 / 5040, 1 / 120, -1 / 6, 1];
  const sine = mul(angle, poly(angle2, taylor));
  const sineAt = (index: string) => gather(sine, index);

  // ---- Per-body impact waveform, one table row per body: t = 0..L-1 plus a silent entry before and after, so any
  // clipped time offset indexes it. Depends only on bodies/voice/cameo_body, hence identical for every chunk.
  const radius = take(bodies, 4, 1); // [B]
  // Pitch: bigger bodies sound lower, 24 / r Hz within 220..1200, rounded to whole Hz so phases are exact integers.
  const pitchHz = toInt(op('Round', [clip(div(num(24), op('Max', [radius, num(0.001)])), 220, 1200)]));
  const harmonicHz = mul(unsqueeze(pitchHz, [1]), ints(Array.from({ length: H }, (_, h) => h + 1))); // [B, H]
  const tInt = op('Range', [int(0), int(L), int(1)]); // [L]
  // cos(2 pi f t / 48000) = sine[(f t + 12000) mod 48000]; f t < 9600 * 9600, far inside int64.
  const cosIndex = mod(add(mul(unsqueeze(harmonicHz, [2]), tInt), int(QUARTER)), int(TABLE)); // [B, H, L]
  const partials = sineAt(cosIndex);
  const defaultSum = DEFAULT_TIMBRE.reduce((a, b) => a + b, 0);
  const defaultWeights = g.vector(DEFAULT_TIMBRE.map((w) => f32(w / defaultSum)));
  const voiceAbs = op('Abs', [voice]);
  const voiceSum = reshape(sumAxis(voiceAbs, 0, H), []);
  // A silent (all-zero) voice would mute the cameo; it keeps the default timbre instead.
  const voiceWeights = where(op('Greater', [voiceSum, num(1e-6)]), div(voiceAbs, op('Max', [voiceSum, num(1e-6)])), defaultWeights);
  const isCameo = op('Equal', [unsqueeze(op('Range', [int(0), int(B), int(1)]), [1]), cameoBody]); // [B, 1]
  const weights = where(isCameo, unsqueeze(voiceWeights, [0]), unsqueeze(defaultWeights, [0])); // [B, H]
  const ring = reshape(sumAxis(mul(partials, unsqueeze(weights, [2])), 1, H), [B, L]);
  // Envelope: a hyperbolic decay (bigger bodies ring longer, tau = 720 + 6000 r samples) times (1 - t/L)^2, which
  // reaches exactly 0 at L. Division instead of Exp keeps it exactly rounded; value 1 at t = 0: the attack is the
  // first sample itself, no ramp.
  const tFloat = toFloat(tInt);
  const tau = add(num(720), mul(num(6000), clip(radius, 0, 0.25)));
  const decayArg = add(num(1), div(unsqueeze(tFloat, [0]), unsqueeze(tau, [1]))); // [B, L]
  const decay = div(num(1), mul(decayArg, decayArg));
  const taperArg = sub(num(1), div(tFloat, num(L)));
  const taper = mul(taperArg, taperArg);
  const click = op('Pad', [g.constant('float', [1, CLICK], clickTable(), 'click'), ints([0, 0, 0, L - CLICK])]); // [1, L]
  const wave = add(mul(mul(ring, decay), unsqueeze(taper, [0])), click); // [B, L]
  const silence = g.constant('float', [B, 1], new Array<number>(B).fill(0), 'silence');
  const waveFlat = reshape(op('Concat', [silence, wave, silence], { axis: attr.i(1) }), [B * (L + 2)]);

  // ---- The loudest KF impacts of every window frame. Per frame (not over the whole window), so which impacts sound
  // never depends on the chunking.
  const eventShape = op('Shape', [events]);
  const windowFrames = op('Slice', [eventShape, ints([0]), ints([1])]); // [1] = P + F
  const frames = sub(windowFrames, ints([P])); // [1] = F
  const framesScalar = reshape(frames, []);
  const track = reshape(events, [-1, SLOTS, 4]); // [P+F, 64, 4]
  const [speed, slot] = g.opN('TopK', [take(track, 0, 2), ints([KF])], { axis: attr.i(1), largest: attr.i(1), sorted: attr.i(1) }, 2) as [string, string];
  const field = (i: number) => op('GatherElements', [take(track, i, 2), slot], { axis: attr.i(1) }); // [P+F, KF]
  const sample = op('Round', [field(1)]);
  const x = field(2);
  const body = mod(slot, int(B)); // slots are substep-major: slot = substep * 8 + body
  const amplitude = where(op('Less', [speed, num(AUDIO.minAudibleSpeed)]), num(0), div(mul(speed, num(AUDIO.maxImpactAmplitude)), add(speed, num(1.2))));
  // Equal-power pan from x in 0..1: angle x * pi/2 is a quarter of the sine table, quantized to 1/12000.
  const panIndex = toInt(op('Round', [mul(clip(x, 0, 1), num(QUARTER))]));
  const gainL = mul(amplitude, sineAt(add(panIndex, int(QUARTER))));
  const gainR = mul(amplitude, sineAt(panIndex));
  const waveOffset = toFloat(add(mul(body, int(L + 2)), int(1)));
  // Packed so one Gather moves everything an impact needs into the output-frame layout.
  const perImpact = op(
    'Concat',
    [sample, waveOffset, gainL, gainR].map((v) => unsqueeze(v, [2])),
    { axis: attr.i(2) },
  ); // [P+F, KF, 4]

  // Output frame j hears window frames j+1 .. j+REACH (window frame P + j is frame j itself).
  const reachIndex = unsqueeze(ints(Array.from({ length: REACH }, (_, i) => P - REACH + 1 + i)), [1]); // [REACH, 1]
  const frameIndex = add(reachIndex, unsqueeze(op('Range', [int(0), framesScalar, int(1)]), [0])); // [REACH, F]
  const heard = op('Transpose', [gather(perImpact, frameIndex)], { perm: attr.ints([0, 2, 1, 3]) }); // [REACH, KF, F, 4]
  const heardField = (i: number) => op('Slice', [heard, ints([i]), ints([i + 1]), ints([3])]); // [REACH, KF, F, 1]
  // Time since onset of each impact at each sample: (frames between) * 2000 + n - sample, exact in float32.
  const frameStart = g.constant(
    'float',
    [REACH, 1, 1, 1],
    Array.from({ length: REACH }, (_, i) => (REACH - 1 - i) * SPF),
    'frame_start',
  );
  const base = add(frameStart, op('Range', [num(0), num(SPF), num(1)])); // [REACH, 1, 1, SPF]
  const since = clip(sub(base, heardField(0)), -1, L); // -1: not yet, L: over; both hit a silent table entry
  // int32 indices: the table has 8 * 9602 entries, and they halve the largest tensor of a long chunk.
  const mono = gather(waveFlat, op('Cast', [add(since, heardField(1))], { to: attr.i(DT.int32) })); // [REACH, KF, F, SPF]
  const gains = unsqueeze(op('Slice', [heard, ints([2]), ints([4]), ints([3])]), [4]); // [REACH, KF, F, 2, 1]
  // Slot by slot into one stereo sum, in a fixed order; never materializes the [REACH, KF, F, 2, SPF] product.
  const slotCount = REACH * KF;
  const monoSlots = g.opN('Split', [reshape(mono, [slotCount, -1, 1, SPF])], { axis: attr.i(0), num_outputs: attr.i(slotCount) }, slotCount);
  const gainSlots = g.opN('Split', [reshape(gains, [slotCount, -1, 2, 1])], { axis: attr.i(0), num_outputs: attr.i(slotCount) }, slotCount);
  const slotSound = (k: number) => mul(monoSlots[k]!, gainSlots[k]!); // [1, F, 2, SPF]
  const impacts = monoSlots.slice(1).reduce((acc, _, k) => add(acc, slotSound(k + 1)), slotSound(0));
  const impactsFrames = op('Transpose', [reshape(impacts, [-1, 2, SPF])], { perm: attr.ints([0, 2, 1]) });
  const impactsOut = reshape(impactsFrames, [-1, 2]); // [F*2000, 2]

  // ---- Ambient bed: a pure function of the global sample index G, so chunks join seamlessly. Computed for
  // G - 7 .. G_end - 1 so the 8-tap low-pass needs nothing from outside the chunk.
  const level = clip(take(ambient, 0, 0), 0, 1);
  const baseHz = toInt(op('Round', [clip(take(ambient, 1, 0), 20, 4000)]));
  const brightness = clip(take(ambient, 2, 0), 0, 1);
  const rain = clip(take(ambient, 3, 0), 0, 1);
  const taps = 8;
  const firstSample = mul(startFrame, int(SPF));
  const count = mul(framesScalar, int(SPF));
  const globalIndex = op('Range', [sub(firstSample, int(taps - 1)), add(firstSample, count), int(1)]); // [N + 7]
  const current = (v: string) => op('Slice', [v, ints([taps - 1]), ints([Number.MAX_SAFE_INTEGER])]); // [N]
  // Integer hash: LCG step, square, mix, square, all mod 2^31 - 1 (squaring breaks the LCG's lattice). Period 2^24
  // samples (5.8 min) of G, inaudible in a bed.
  const hash = (salt: number) => {
    const a = mod(globalIndex, int(HASH_PERIOD));
    const h1 = mod(add(mul(a, int(1103515245)), int(12345 + 7919 * salt)), int(PRIME));
    const h2 = mod(add(mul(h1, h1), int(1013904223)), int(PRIME));
    const h3 = mod(add(mul(h2, int(48271)), h1), int(PRIME));
    return mod(mul(h3, h3), int(PRIME));
  };
  const uniform = (h: string) => sub(div(toFloat(mod(h, int(HASH_PERIOD))), num(HASH_PERIOD / 2)), num(1)); // [-1, 1)
  const noise = (salt: number) => {
    const white = uniform(hash(salt));
    const shifted = Array.from({ length: taps }, (_, k) => op('Slice', [white, ints([k]), ints([-(taps - 1 - k) || Number.MAX_SAFE_INTEGER])]));
    const low = div(
      shifted.slice(1).reduce((acc, s) => add(acc, s), shifted[0]!),
      num(taps),
    );
    return add(low, mul(brightness, sub(current(white), low))); // |.| <= 1
  };
  const crackle = (salt: number) => {
    // ~32 clicks a second at hashed samples; each a two-sample pulse, |.| <= 1.5.
    const h = hash(salt);
    const impulse = where(
      op('Equal', [mod(h, int(1500)), int(0)]),
      sub(div(toFloat(mod(op('Div', [h, int(1500)]), int(1 << 16))), num(1 << 15)), num(1)),
      num(0),
    );
    const prev = op('Slice', [impulse, ints([taps - 2]), ints([-1])]);
    return sub(current(impulse), mul(num(0.5), prev));
  };
  // Drone: base, base + 1 Hz (a slow 1 Hz swell) and, with brightness, 2x and 3x; weights sum to <= 1.
  const cycle = mod(current(globalIndex), int(TABLE));
  const partial = (hz: string) => sineAt(mod(mul(cycle, hz), int(TABLE)));
  const drone = add(
    mul(num(0.35), add(partial(baseHz), partial(add(baseHz, int(1))))),
    mul(brightness, add(mul(num(0.2), partial(mul(baseHz, int(2)))), mul(num(0.1), partial(mul(baseHz, int(3)))))),
  );
  // Peak <= level * (0.02 + 0.015 + 0.01 * 1.5) = 0.05 * level: quiet enough that every impact stands out.
  const bed = (salt: number) => mul(level, add(add(mul(num(0.02), drone), mul(num(0.015), noise(salt))), mul(mul(num(0.01), rain), crackle(salt + 2))));
  const ambientOut = op('Concat', [unsqueeze(bed(1), [1]), unsqueeze(bed(2), [1])], { axis: attr.i(1) }); // [N, 2]

  // ---- Mix and soft clip: linear up to KNEE (so loudness and panning stay exact in normal scenes), then a quadratic
  // knee that reaches +-1 with zero slope at 2 - KNEE; exact ops only.
  const KNEE = 0.6;
  const mix = add(impactsOut, ambientOut);
  const limited = clip(mix, -(2 - KNEE), 2 - KNEE);
  const over = op('Relu', [sub(op('Abs', [limited]), num(KNEE))]);
  const knee = sub(limited, mul(op('Sign', [limited]), mul(mul(over, over), num(1 / (4 * (1 - KNEE))))));
  const audio = clip(knee, -1, 1); // float32 rounding of the knee's constants must not step past 1

  g.output('audio', audio, 'float', ['F*2000', 2]);

  return encodeModel(
    g,
    'reelforge reference audio: event track (6 carried frames + F) → 48 kHz stereo impacts over an ambient bed; ' +
      `at most ${KF} impacts per frame sound, each for ${L} samples.`,
  );
}
