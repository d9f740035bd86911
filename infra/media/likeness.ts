// The likeness the model pack takes from a verified recording (gpu-workers/engine/engine.ts `Cameo`), derived by the
// orchestration worker's cameo verification and loaded by the GPU worker, so it lives here, shared: a 32 x 32 RGB
// texture of the centre of a middle frame, and 8 harmonic weights describing the voice's timbre.
import type { BlobStore } from '../blobs';
import type { Ffmpeg } from './ffmpeg';
import { dbfs, rms, roundTo } from './signals';

export interface Likeness {
  /** 32 x 32 x 3 RGB, row-major, values 0..1. */
  texture: number[];
  /** Relative energy of harmonics 1..8 of the voice, summing to 1. */
  voice: number[];
}

/** The manifest's cameo shapes (gpu-workers/models/reference/manifest.json `cameo`). */
export const TEXTURE_SIZE = 32;
export const TEXTURE_VALUES = TEXTURE_SIZE * TEXTURE_SIZE * 3;
export const VOICE_HARMONICS = 8;

const ANALYSIS_RATE_HZ = 16000;
/** 40 ms frames hold at least three periods of the lowest voice (70 Hz); 20 ms hops follow pitch changes. */
const PITCH_FRAME_S = 0.04;
const PITCH_HOP_S = 0.02;
/** The range of adult and children's speaking voices. */
const MIN_F0_HZ = 70;
const MAX_F0_HZ = 400;
/** Frames quieter than speech are pauses or breath: their "pitch" is noise. */
const VOICED_LEVEL_DBFS = -35;
/** A normalised autocorrelation peak this high means a periodic (voiced) frame; unvoiced consonants and noise stay lower. */
const MIN_PERIODICITY = 0.6;
/**
 * Autocorrelation peaks again at twice the period, nearly as high: taking the shortest lag within this share of the
 * best peak avoids reporting half the pitch (an octave error).
 */
const OCTAVE_TOLERANCE = 0.9;
/** Fewer voiced frames than this (0.1 s) is too little to say anything about a voice. */
const MIN_VOICED_FRAMES = 5;

/** The recording holds nothing to take a likeness from: a refusal to report, not a fault to retry. */
export class LikenessUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LikenessUnavailable';
  }
}

export class InvalidLikeness extends Error {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`the likeness at ${key} is not usable: ${problem}`);
    this.name = 'InvalidLikeness';
  }
}

/** The timbre of a character whose clip has no voice (an object, an animal, a drawing): the fundamental alone. */
export const NEUTRAL_VOICE: readonly number[] = [1, 0, 0, 0, 0, 0, 0, 0];

/**
 * `voice: 'optional'` (a character, which need not speak): a clip without voiced sound gets NEUTRAL_VOICE instead of
 * LikenessUnavailable.
 */
export async function deriveLikeness(ffmpeg: Ffmpeg, file: string, options: { voice?: 'required' | 'optional' } = {}): Promise<Likeness> {
  const voice = voiceOf(ffmpeg, file).catch((err: unknown) => {
    if (options.voice === 'optional' && err instanceof LikenessUnavailable) return [...NEUTRAL_VOICE];
    throw err;
  });
  const [texture, timbre] = await Promise.all([textureOf(ffmpeg, file), voice]);
  return { texture, voice: timbre };
}

/** Reads a stored likeness and checks it has the shapes the engine takes, so a bad blob fails here with its key. */
export async function loadLikeness(blobs: BlobStore, key: string): Promise<Likeness> {
  let raw: unknown;
  try {
    raw = JSON.parse((await blobs.get(key)).toString('utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) throw new InvalidLikeness(key, `not JSON (${err.message})`);
    throw err;
  }
  const { texture, voice } = (raw ?? {}) as { texture?: unknown; voice?: unknown };
  checkNumbers(key, 'texture', texture, TEXTURE_VALUES, (v) => v >= 0 && v <= 1, 'outside 0..1');
  checkNumbers(key, 'voice', voice, VOICE_HARMONICS, () => true, '');
  return { texture, voice };
}

function checkNumbers(
  key: string,
  field: string,
  values: unknown,
  length: number,
  inRange: (v: number) => boolean,
  rangeProblem: string,
): asserts values is number[] {
  if (!Array.isArray(values)) throw new InvalidLikeness(key, `${field} is not an array`);
  if (values.length !== length) throw new InvalidLikeness(key, `${field} holds ${values.length} values, not ${length}`);
  values.forEach((v: unknown, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidLikeness(key, `${field}[${i}] is ${JSON.stringify(v)}, not a finite number`);
    if (!inRange(v)) throw new InvalidLikeness(key, `${field}[${i}] is ${v}, ${rangeProblem}`);
  });
}

async function textureOf(ffmpeg: Ffmpeg, file: string): Promise<number[]> {
  const info = await ffmpeg.inspect(file);
  const options = { width: TEXTURE_SIZE, height: TEXTURE_SIZE, maxFrames: 1, centreSquare: true };
  // The middle frame: the person is settled in the picture and speaking, not reaching for the button.
  let frame = await ffmpeg.decodeFrames(file, { ...options, startS: (info.durationS ?? 0) / 2 });
  if (frame.count === 0) frame = await ffmpeg.decodeFrames(file, options);
  if (frame.count === 0) throw new LikenessUnavailable('no frame of the recording can be decoded to take the likeness from');
  // Four decimals are finer than the 1/255 steps of the decoded bytes, and keep the stored JSON small.
  return Array.from(frame.frames.subarray(0, TEXTURE_VALUES), (v) => roundTo(v / 255, 4));
}

async function voiceOf(ffmpeg: Ffmpeg, file: string): Promise<number[]> {
  const samples = await ffmpeg.decodeAudio(file, ANALYSIS_RATE_HZ, 1);
  return voiceTimbre(samples, ANALYSIS_RATE_HZ);
}

/**
 * The timbre as the relative energy of harmonics 1..8: in each voiced frame, the fundamental is found by
 * autocorrelation and the energy at each multiple of it measured (Goertzel, Hann window); frames count equally
 * (so loudness does not weigh in), and the mean is normalised to sum 1.
 */
export function voiceTimbre(samples: Float32Array, sampleRateHz: number): number[] {
  const size = Math.round(PITCH_FRAME_S * sampleRateHz);
  const hop = Math.round(PITCH_HOP_S * sampleRateHz);
  const window = Float32Array.from({ length: size }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (size - 1)));
  const sum = new Array<number>(VOICE_HARMONICS).fill(0);
  let voicedFrames = 0;
  const frame = new Float32Array(size);
  for (let at = 0; at + size <= samples.length; at += hop) {
    if (dbfs(rms(samples, at, at + size)) < VOICED_LEVEL_DBFS) continue;
    let mean = 0;
    for (let i = 0; i < size; i++) mean += samples[at + i]!;
    mean /= size;
    for (let i = 0; i < size; i++) frame[i] = samples[at + i]! - mean;
    const f0Hz = fundamentalHz(frame, sampleRateHz);
    if (f0Hz === undefined) continue;
    for (let i = 0; i < size; i++) frame[i]! *= window[i]!;
    const energies = Array.from({ length: VOICE_HARMONICS }, (_, h) => ((h + 1) * f0Hz < sampleRateHz / 2 ? powerAt(frame, (h + 1) * f0Hz, sampleRateHz) : 0));
    const total = energies.reduce((a, b) => a + b, 0);
    if (!(total > 0)) continue;
    energies.forEach((e, h) => (sum[h]! += e / total));
    voicedFrames++;
  }
  if (voicedFrames < MIN_VOICED_FRAMES)
    throw new LikenessUnavailable('no voiced speech in the recording to take the voice from: say the phrase aloud, not in a whisper');
  const total = sum.reduce((a, b) => a + b, 0);
  return sum.map((s) => roundTo(s / total, 6));
}

/** The fundamental of a mean-free frame by normalised autocorrelation; undefined when the frame is not periodic. */
function fundamentalHz(frame: Float32Array, sampleRateHz: number): number | undefined {
  const minLag = Math.floor(sampleRateHz / MAX_F0_HZ);
  const maxLag = Math.min(frame.length - 2, Math.ceil(sampleRateHz / MIN_F0_HZ));
  const r = new Float64Array(maxLag + 2);
  let best = 0;
  for (let lag = minLag; lag <= maxLag + 1; lag++) {
    let cross = 0;
    let head = 0;
    let tail = 0;
    for (let i = 0; i + lag < frame.length; i++) {
      cross += frame[i]! * frame[i + lag]!;
      head += frame[i]! * frame[i]!;
      tail += frame[i + lag]! * frame[i + lag]!;
    }
    r[lag] = head > 0 && tail > 0 ? cross / Math.sqrt(head * tail) : 0;
    if (lag <= maxLag) best = Math.max(best, r[lag]!);
  }
  if (best < MIN_PERIODICITY) return undefined;
  for (let lag = minLag + 1; lag <= maxLag; lag++) {
    if (r[lag]! < OCTAVE_TOLERANCE * best || r[lag]! < r[lag - 1]! || r[lag]! < r[lag + 1]!) continue;
    // A parabola through the peak and its neighbours places the period between samples.
    const denominator = r[lag - 1]! - 2 * r[lag]! + r[lag + 1]!;
    const offset = denominator < 0 ? (0.5 * (r[lag - 1]! - r[lag + 1]!)) / denominator : 0;
    return sampleRateHz / (lag + offset);
  }
  return undefined;
}

/** Energy of `frame` at one frequency (the Goertzel recurrence: one DFT bin, at any frequency). */
function powerAt(frame: Float32Array, frequencyHz: number, sampleRateHz: number): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * frequencyHz) / sampleRateHz);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < frame.length; i++) {
    const s0 = frame[i]! + coefficient * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coefficient * s1 * s2;
}
