// Behaviour of the reference pack's audio.onnx (scripts/models/reference/audio.ts) on seeded synthetic event tracks:
// onsets heard on the collision's sample, loudness, panning, the cameo voice, chunk invariance and determinism.
import * as ort from 'onnxruntime-node';
import { sessionOptions } from '../../gpu-workers/engine/sessions';
import { AUDIO, buildAudioModel } from '../../scripts/models/reference/audio';
import { detectOnsets, matchOnsets } from './support/onsets';
import { prng } from './support/scenes';

const SPF = AUDIO.samplesPerFrame;
const P = AUDIO.carryFrames;
const FRAME_VALUES = AUDIO.substeps * AUDIO.bodies * 4;
const ONE_MS = AUDIO.sampleRateHz / 1000;
/** Slowest impact the onset test expects to hear over the loudest ambient bed (amplitude ~0.18 vs a 0.05 bed). */
const AUDIBLE_SPEED = 0.4;

/** Radii 0.02 .. 0.09: pitches 1200, 800, 600, 480, 400, 343, 300, 267 Hz. */
const RADII = [0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09];
const SILENT = [0, 110, 0, 0];
/** The loudest, brightest bed with rain: the hardest background for the onset detector. */
const STORMY = [1, 110, 1, 1];

interface Impact {
  frame: number;
  /** Sample within the frame, 0..1999; the substep follows from it (250 samples each). */
  sample: number;
  body: number;
  speed: number;
  x: number;
  kind?: number;
}

/** An event track over global frames 0..frames-1 in video.onnx's layout [frame, substep, body, (speed, sample, x, kind)]. */
class EventTrack {
  readonly data: Float32Array;
  constructor(readonly frames: number) {
    this.data = new Float32Array(frames * FRAME_VALUES);
  }

  static offset(frame: number, substep: number, body: number): number {
    return ((frame * AUDIO.substeps + substep) * AUDIO.bodies + body) * 4;
  }

  isFree(frame: number, substep: number, body: number): boolean {
    return this.data[EventTrack.offset(frame, substep, body)] === 0;
  }

  add(i: Impact): this {
    const o = EventTrack.offset(i.frame, Math.floor(i.sample / 250), i.body);
    this.data.set([i.speed, i.sample, i.x, i.kind ?? 1], o);
    return this;
  }

  /** The audio graph's input for a chunk: the P frames before it (zeros before frame 0), then its own frames. */
  window(startFrame: number, numFrames: number): Float32Array {
    const out = new Float32Array((P + numFrames) * FRAME_VALUES);
    const from = startFrame - P;
    const skip = Math.max(0, -from);
    out.set(this.data.subarray((from + skip) * FRAME_VALUES, (startFrame + numFrames) * FRAME_VALUES), skip * FRAME_VALUES);
    return out;
  }
}

/**
 * Collisions at least 30 ms apart (a quarter of them between two bodies, heard on both), audible speeds, plus
 * resting contacts too slow to be heard. Returns the global samples where sounds must start.
 */
function collisions(seed: number, frames: number): { track: EventTrack; onsets: number[] } {
  const rand = prng(seed);
  const track = new EventTrack(frames);
  const onsets: number[] = [];
  for (let t = Math.floor(rand() * SPF); t < frames * SPF; t += 30 * ONE_MS + Math.floor(-Math.log(1 - rand()) * 4000)) {
    const frame = Math.floor(t / SPF);
    const sample = t % SPF;
    const speed = AUDIBLE_SPEED + rand() * 2.6;
    const body = Math.floor(rand() * AUDIO.bodies);
    track.add({ frame, sample, body, speed, x: 0.05 + 0.9 * rand() });
    if (rand() < 0.25) {
      const other = (body + 1 + Math.floor(rand() * (AUDIO.bodies - 1))) % AUDIO.bodies;
      track.add({ frame, sample, body: other, speed, x: 0.05 + 0.9 * rand(), kind: 3 });
    }
    onsets.push(t);
  }
  for (let k = 0; k < frames * 3; k++) {
    const [frame, substep, body] = [Math.floor(rand() * frames), Math.floor(rand() * 8), Math.floor(rand() * 8)];
    if (track.isFree(frame, substep, body)) track.add({ frame, sample: substep * 250 + Math.floor(rand() * 250), body, speed: 0.02, x: rand() });
  }
  return { track, onsets };
}

/** A crowded track: up to 20 events a frame (more than the graph keeps), any speed, so selection is exercised too. */
function busyTrack(seed: number, frames: number, firstFrame = 0): EventTrack {
  const rand = prng(seed);
  const track = new EventTrack(frames);
  for (let frame = firstFrame; frame < frames; frame++) {
    const count = Math.floor(rand() * 21);
    for (let k = 0; k < count; k++) {
      const [substep, body] = [Math.floor(rand() * 8), Math.floor(rand() * 8)];
      if (!track.isFree(frame, substep, body)) continue;
      track.add({
        frame,
        sample: substep * 250 + Math.floor(rand() * 250),
        body,
        speed: 0.01 + rand() * rand() * 5,
        x: rand(),
        kind: 1 + Math.floor(rand() * 3),
      });
    }
  }
  return track;
}

interface Voice {
  cameoBody: number;
  voice: number[];
}
const NO_CAMEO: Voice = { cameoBody: -1, voice: [0, 0, 0, 0, 0, 0, 0, 0] };

function bodiesOf(radii: number[]): Float32Array {
  const bodies = new Float32Array(AUDIO.bodies * 8);
  radii.forEach((r, b) => bodies.set([1, 0.8, 0.2, 0.2, r, 1, 0.8, 0], b * 8));
  return bodies;
}

let session: ort.InferenceSession;
let model: Uint8Array;

beforeAll(async () => {
  model = buildAudioModel();
  session = await ort.InferenceSession.create(model, sessionOptions('cpu', 2));
});

afterAll(async () => {
  await session?.release();
});

interface RenderOptions {
  ambient?: number[];
  cameo?: Voice;
  radii?: number[];
  on?: ort.InferenceSession;
}

async function render(track: EventTrack, startFrame: number, numFrames: number, opts: RenderOptions = {}): Promise<Float32Array> {
  const cameo = opts.cameo ?? NO_CAMEO;
  const out = await (opts.on ?? session).run({
    events: new ort.Tensor('float32', track.window(startFrame, numFrames), [P + numFrames, AUDIO.substeps, AUDIO.bodies, 4]),
    bodies: new ort.Tensor('float32', bodiesOf(opts.radii ?? RADII), [AUDIO.bodies, 8]),
    ambient: new ort.Tensor('float32', Float32Array.from(opts.ambient ?? SILENT), [4]),
    start_frame: new ort.Tensor('int64', BigInt64Array.from([BigInt(startFrame)]), []),
    voice: new ort.Tensor('float32', Float32Array.from(cameo.voice), [AUDIO.harmonics]),
    cameo_body: new ort.Tensor('int64', BigInt64Array.from([BigInt(cameo.cameoBody)]), []),
  });
  expect(out.audio!.dims).toEqual([numFrames * SPF, 2]);
  return out.audio!.data as Float32Array;
}

/** Renders consecutive chunks of the given sizes from `startFrame`, as the engine does, and joins them. */
async function renderChunks(track: EventTrack, startFrame: number, sizes: number[], opts: RenderOptions = {}): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  let frame = startFrame;
  for (const size of sizes) {
    parts.push(await render(track, frame, size, opts));
    frame += size;
  }
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** Index of the first sample value whose bits differ (-1: byte-identical), so a failure says where audio diverged. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  const [x, y] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
  if (x.length !== y.length) return Math.min(x.length, y.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}
const channel = (a: Float32Array, c: 0 | 1, from: number, to: number) => Array.from({ length: to - from }, (_, i) => a[(from + i) * 2 + c]!);
const energy = (xs: number[]) => xs.reduce((s, v) => s + v * v, 0);
function peak(a: Float32Array, from: number, to: number): number {
  let max = 0;
  for (let i = from * 2; i < to * 2; i++) max = Math.max(max, Math.abs(a[i]!));
  return max;
}

/** Power of one frequency in a signal (Goertzel). */
function powerAt(xs: number[], hz: number): number {
  const k = 2 * Math.cos((2 * Math.PI * hz) / AUDIO.sampleRateHz);
  let [s1, s2] = [0, 0];
  for (const x of xs) [s1, s2] = [x + k * s1 - s2, s1];
  return s1 * s1 + s2 * s2 - k * s1 * s2;
}

describe('audio.onnx: event track to 48 kHz stereo', () => {
  it('renders F * 2000 stereo samples within -1..1 for any chunk length, even when every body hits at once', async () => {
    const track = busyTrack(7, 60);
    for (let body = 0; body < AUDIO.bodies; body++) track.add({ frame: 10, sample: 1000, body, speed: 50, x: 0 });
    for (const frames of [1, 7, 24, 48]) {
      const audio = await render(track, 6, frames, { ambient: STORMY });
      expect(audio.length).toBe(frames * SPF * 2);
      expect(audio.every((v) => Number.isFinite(v) && v >= -1 && v <= 1)).toBe(true);
      expect(peak(audio, 0, frames * SPF)).toBeGreaterThan(0.1);
    }
    const pileUp = await render(track, 6, 24);
    expect(peak(pileUp, 4 * SPF + 1000, 5 * SPF)).toBeGreaterThan(0.99);
  });

  it('starts the sound of every audible collision within 1 ms of its sample, and nothing else starts one, over a stormy bed', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const { track, onsets } = collisions(seed, 48);
      const audio = await renderChunks(track, 0, [24, 24], { ambient: STORMY });
      const { missed, spurious, errors } = matchOnsets(onsets, detectOnsets(audio), ONE_MS);
      expect({ seed, missed, spurious }).toEqual({ seed, missed: [], spurious: [] });
      expect(errors).toHaveLength(onsets.length);
      expect(Math.max(...errors.map(Math.abs))).toBeLessThanOrEqual(ONE_MS);
    }
  });

  it('keeps resting contacts silent and the ambient bed quiet and free of onsets', async () => {
    const track = new EventTrack(30);
    for (let frame = 0; frame < 30; frame++) track.add({ frame, sample: 300, body: frame % 8, speed: 0.02, x: 0.5 });
    const silent = await render(track, 6, 24);
    expect(silent.every((v) => v === 0)).toBe(true);

    const bed = await render(track, 6, 24, { ambient: STORMY });
    expect(peak(bed, 0, 24 * SPF)).toBeGreaterThan(0.005);
    expect(peak(bed, 0, 24 * SPF)).toBeLessThanOrEqual(AUDIO.maxAmbientPeak);
    expect(detectOnsets(bed)).toEqual([]);
    const halfLevel = await render(track, 6, 24, { ambient: [0.5, 110, 1, 1] });
    expect(peak(halfLevel, 0, 24 * SPF)).toBeLessThan(peak(bed, 0, 24 * SPF));
  });

  it('plays faster impacts louder', async () => {
    const speeds = [0.1, 0.25, 0.5, 1, 2, 4, 8];
    const track = new EventTrack(speeds.length * 6);
    speeds.forEach((speed, i) => track.add({ frame: i * 6, sample: 500, body: 3, speed, x: 0.5 }));
    const audio = await render(track, 0, speeds.length * 6);
    const peaks = speeds.map((_, i) => peak(audio, i * 6 * SPF, (i + 1) * 6 * SPF));
    for (let i = 1; i < peaks.length; i++) expect(peaks[i]).toBeGreaterThan(peaks[i - 1]! * 1.05);
  });

  it('pans each impact by its x with equal power', async () => {
    const xs = [0.1, 0.5, 0.9];
    const track = new EventTrack(xs.length * 6);
    xs.forEach((x, i) => track.add({ frame: i * 6, sample: 0, body: 2, speed: 1, x }));
    const audio = await render(track, 0, xs.length * 6);
    const side = xs.map((_, i) => [0, 1].map((c) => energy(channel(audio, c as 0 | 1, i * 6 * SPF, (i + 1) * 6 * SPF))) as [number, number]);
    const [left, centre, right] = side as [[number, number], [number, number], [number, number]];
    expect(left[0]).toBeGreaterThan(10 * left[1]);
    expect(right[1]).toBeGreaterThan(10 * right[0]);
    expect(centre[0]).toBe(centre[1]);
    const total = side.map(([l, r]) => l + r);
    for (const t of total) expect(Math.abs(t / total[1]! - 1)).toBeLessThan(1e-3);
  });

  it('gives the cameo body its voice: a different spectrum for its impacts, the same sound for every other body', async () => {
    // Body 3 (radius 0.05) sounds at 480 Hz; body 2 (0.04) at 600 Hz. A voice of only the 4th harmonic.
    const track = new EventTrack(30).add({ frame: 6, sample: 0, body: 3, speed: 1.5, x: 0.5 }).add({ frame: 18, sample: 0, body: 2, speed: 1.5, x: 0.5 });
    const plain = await render(track, 0, 30);
    const voiced = await render(track, 0, 30, { cameo: { cameoBody: 3, voice: [0, 0, 0, 2, 0, 0, 0, 0] } });
    // Past the click, over the ring.
    const ring = (a: Float32Array) => channel(a, 0, 6 * SPF + 200, 6 * SPF + 4000);
    const fourthOverFundamental = (a: Float32Array) => powerAt(ring(a), 4 * 480) / powerAt(ring(a), 480);
    expect(fourthOverFundamental(plain)).toBeLessThan(0.2);
    expect(fourthOverFundamental(voiced)).toBeGreaterThan(100);
    // Body 2's impact, and everything after body 3's tail, is untouched.
    expect(firstDifference(voiced.subarray(12 * SPF * 2), plain.subarray(12 * SPF * 2))).toBe(-1);
    // An all-zero voice would mute the cameo; the body keeps its own sound instead.
    const unvoiced = await render(track, 0, 30, { cameo: { cameoBody: 3, voice: [0, 0, 0, 0, 0, 0, 0, 0] } });
    expect(firstDifference(unvoiced, plain)).toBe(-1);
  });

  it('renders two 24-frame chunks, or any other split, exactly as one 48-frame chunk', async () => {
    for (const startFrame of [0, 5000]) {
      const track = busyTrack(11 + startFrame, startFrame + 48, Math.max(0, startFrame - P));
      const whole = await render(track, startFrame, 48, { ambient: STORMY, cameo: { cameoBody: 5, voice: [1, 0, 3, 0, 1, 0, 0, 2] } });
      for (const sizes of [
        [24, 24],
        [16, 16, 16],
        [1, 5, 18, 24],
      ]) {
        const joined = await renderChunks(track, startFrame, sizes, { ambient: STORMY, cameo: { cameoBody: 5, voice: [1, 0, 3, 0, 1, 0, 0, 2] } });
        expect({ startFrame, sizes, firstDifference: firstDifference(joined, whole) }).toEqual({ startFrame, sizes, firstDifference: -1 });
      }
    }
  });

  it("rings an impact from a chunk's last frame on into the next chunk, and not a sample longer than 200 ms", async () => {
    const onset = 23 * SPF + 1900;
    const track = new EventTrack(48).add({ frame: 23, sample: 1900, body: 7, speed: 2, x: 0.3 });
    const [first, second] = [await render(track, 0, 24), await render(track, 24, 24)];
    const tailEnd = onset + AUDIO.impactSamples - 24 * SPF; // in the second chunk
    expect(peak(first, onset, 24 * SPF)).toBeGreaterThan(0.2);
    expect(second[0]).not.toBe(0);
    expect(energy(channel(second, 0, 0, SPF))).toBeGreaterThan(0.01);
    expect(peak(second, tailEnd - 200, tailEnd)).toBeGreaterThan(0);
    expect(second.subarray(tailEnd * 2).every((v) => v === 0)).toBe(true);
    expect(first.subarray(0, onset * 2).every((v) => v === 0)).toBe(true);
  });

  it('renders byte-identical audio for the same inputs, in a fresh session with another thread count too', async () => {
    expect(Buffer.from(buildAudioModel()).equals(Buffer.from(model))).toBe(true);
    const track = busyTrack(3, 30);
    const opts = { ambient: STORMY, cameo: { cameoBody: 1, voice: [0.5, 0.5, 0, 0, 1, 0, 0, 0] } };
    const a = await render(track, 6, 24, opts);
    const b = await render(track, 6, 24, opts);
    const fresh = await ort.InferenceSession.create(buildAudioModel(), sessionOptions('cpu', 1));
    try {
      const c = await render(track, 6, 24, { ...opts, on: fresh });
      expect(firstDifference(b, a)).toBe(-1);
      expect(firstDifference(c, a)).toBe(-1);
    } finally {
      await fresh.release();
    }
  });
});
