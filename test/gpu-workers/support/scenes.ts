// Scenes for the video graph's tests, drawn from a seeded PRNG in the ranges text.onnx produces, and the feeds,
// runs and measurements (energy, chained frame-by-frame rendering) the tests share.
import * as ort from 'onnxruntime-node';

export const BODIES = 8;
export const FPS = 24;
export const SUBSTEPS = 8;
export const SAMPLES_PER_FRAME = 2000;

/** mulberry32: a small seeded PRNG, so every scene is reproducible from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Scene {
  /** [8,8]: active, r, g, b, radius, mass, restitution, texture. */
  bodies: Float32Array;
  /** [8,4]: x, y, vx, vy. */
  state: Float32Array;
  /** [8]: gravity, wall restitution, strobe Hz, strobe amount, background r, g, b, speed. */
  world: Float32Array;
}

export interface BodySpec {
  x: number;
  y: number;
  vx?: number;
  vy?: number;
  radius?: number;
  restitution?: number;
  colour?: [number, number, number];
  mass?: number;
}

/** A scene from explicit bodies (the rest inactive): for tests that need known positions. */
export function sceneOf(
  specs: BodySpec[],
  world: Partial<{ gravity: number; wallRestitution: number; strobeHz: number; strobeAmount: number; background: [number, number, number] }> = {},
): Scene {
  const bodies = new Float32Array(BODIES * 8);
  const state = new Float32Array(BODIES * 4);
  specs.forEach((b, i) => {
    const radius = b.radius ?? 0.06;
    bodies.set([1, ...(b.colour ?? [0.9, 0.3, 0.2]), radius, b.mass ?? radius * radius * 100, b.restitution ?? 0.7, 0], i * 8);
    state.set([b.x, b.y, b.vx ?? 0, b.vy ?? 0], i * 4);
  });
  const background = world.background ?? [0.1, 0.12, 0.2];
  const worldVec = Float32Array.from([world.gravity ?? 2, world.wallRestitution ?? 0.8, world.strobeHz ?? 0, world.strobeAmount ?? 0, ...background, 1]);
  return { bodies, state, world: worldVec };
}

/**
 * A random scene for `aspect` (height / width): 2..8 active bodies of radius 0.03..0.1, mass ∝ r², restitution
 * 0.5..0.9, placed without overlap inside the room, with random velocities; gravity 1..4, wall restitution 0.8.
 */
export function randomScene(seed: number, aspect: number): Scene {
  const rnd = prng(seed);
  const count = 2 + Math.floor(rnd() * 7);
  const specs: BodySpec[] = [];
  for (let tries = 0; specs.length < count && tries < 1000; tries++) {
    const radius = 0.03 + rnd() * 0.07;
    const x = radius + rnd() * (1 - 2 * radius);
    const y = radius + rnd() * (aspect - 2 * radius);
    if (specs.some((o) => Math.hypot(o.x - x, o.y - y) < (o.radius ?? 0) + radius + 0.002)) continue;
    specs.push({
      x,
      y,
      radius,
      vx: (rnd() * 2 - 1) * 1.5,
      vy: (rnd() * 2 - 1) * 1.5,
      restitution: 0.5 + rnd() * 0.4,
      mass: radius * radius * 100,
      colour: [rnd(), rnd(), rnd()],
    });
  }
  return sceneOf(specs, { gravity: 1 + rnd() * 3, wallRestitution: 0.8, background: [rnd() * 0.5, rnd() * 0.5, rnd() * 0.5] });
}

/**
 * A crowded room: 8 bodies of radius 0.07..0.1, more than fill the floor's width, so they end up resting side by
 * side and on top of each other, pushing and sliding: where contact handling can leak energy.
 */
export function crowdedScene(seed: number, aspect: number): Scene {
  const rnd = prng(seed);
  const specs: BodySpec[] = [];
  for (let i = 0; i < BODIES; i++) {
    const radius = 0.07 + rnd() * 0.03;
    // A staggered grid keeps the starting positions apart.
    const x = 0.12 + (i % 4) * 0.25 + (rnd() - 0.5) * 0.02;
    const y = Math.min(aspect - radius, 0.15 + Math.floor(i / 4) * 0.22 + rnd() * 0.02);
    specs.push({
      x,
      y,
      radius,
      vx: (rnd() * 2 - 1) * 0.8,
      vy: (rnd() * 2 - 1) * 0.8,
      restitution: 0.5 + rnd() * 0.4,
      mass: radius * radius * 100,
      colour: [rnd(), rnd(), rnd()],
    });
  }
  return sceneOf(specs, { gravity: 1 + rnd() * 3, wallRestitution: 0.8 });
}

export interface RenderOptions {
  width: number;
  height: number;
  startFrame?: number;
  frames: number;
  style?: number;
  camera?: number;
  cameoTexture?: Float32Array;
  cameoBody?: number;
  backdrop?: { data: Float32Array; height: number; width: number };
  backdropWeight?: number;
}

export interface Chunk {
  /** [F,H,W,3] RGB bytes. */
  frames: Uint8Array;
  state: Float32Array;
  /** [F,8,8,4]: speed, sample, x, kind per frame, substep, body. */
  events: Float32Array;
}

const int64 = (v: number): ort.Tensor => new ort.Tensor('int64', BigInt64Array.from([BigInt(v)]), []);

export function feeds(scene: Scene, state: Float32Array, o: RenderOptions): Record<string, ort.Tensor> {
  const backdrop = o.backdrop ?? { data: new Float32Array(3), height: 1, width: 1 };
  return {
    bodies: new ort.Tensor('float32', scene.bodies, [BODIES, 8]),
    world: new ort.Tensor('float32', scene.world, [8]),
    state_in: new ort.Tensor('float32', state, [BODIES, 4]),
    start_frame: int64(o.startFrame ?? 0),
    num_frames: int64(o.frames),
    height: int64(o.height),
    width: int64(o.width),
    style: int64(o.style ?? 0),
    camera: int64(o.camera ?? 0),
    cameo_texture: new ort.Tensor('float32', o.cameoTexture ?? new Float32Array(32 * 32 * 3).fill(0.5), [32, 32, 3]),
    cameo_body: int64(o.cameoBody ?? -1),
    backdrop: new ort.Tensor('float32', backdrop.data, [backdrop.height, backdrop.width, 3]),
    backdrop_weight: new ort.Tensor('float32', Float32Array.from([o.backdropWeight ?? 0]), []),
  };
}

export async function render(session: ort.InferenceSession, scene: Scene, o: RenderOptions, state = scene.state): Promise<Chunk> {
  const out = await session.run(feeds(scene, state, o));
  return {
    frames: out.frames!.data as Uint8Array,
    state: out.state_out!.data as Float32Array,
    events: out.events!.data as Float32Array,
  };
}

/** Renders `frames` frames one chunk of one frame at a time; returns the state at every frame boundary (frames + 1). */
export async function statesFrameByFrame(
  session: ort.InferenceSession,
  scene: Scene,
  frames: number,
  size = { width: 32, height: 24 },
): Promise<{ states: Float32Array[]; events: Float32Array[] }> {
  const states = [scene.state];
  const events: Float32Array[] = [];
  for (let f = 0; f < frames; f++) {
    const chunk = await render(session, scene, { ...size, startFrame: f, frames: 1 }, states[f]);
    states.push(chunk.state);
    events.push(chunk.events);
  }
  return { states, events };
}

export function isActive(scene: Scene, i: number): boolean {
  return scene.bodies[i * 8]! > 0.5;
}

/** Σ m(½|v|² + g·y) over active bodies, in double precision from the float32 state. */
export function energy(scene: Scene, state: Float32Array): number {
  const g = scene.world[0]!;
  let e = 0;
  for (let i = 0; i < BODIES; i++) {
    if (!isActive(scene, i)) continue;
    const m = scene.bodies[i * 8 + 5]!;
    const [, y, vx, vy] = state.subarray(i * 4, i * 4 + 4);
    e += m * (0.5 * (vx! * vx! + vy! * vy!) + g * y!);
  }
  return e;
}

export interface Impact {
  frame: number;
  substep: number;
  body: number;
  speed: number;
  sample: number;
  x: number;
  kind: number;
}

/** The non-empty entries of an event track [F,8,8,4], frame numbers offset by `startFrame`. */
export function impacts(events: Float32Array, startFrame = 0): Impact[] {
  const found: Impact[] = [];
  for (let k = 0; k * 4 < events.length; k++) {
    const speed = events[k * 4]!;
    if (speed === 0) continue;
    const body = k % BODIES;
    const substep = Math.floor(k / BODIES) % SUBSTEPS;
    const frame = startFrame + Math.floor(k / (BODIES * SUBSTEPS));
    found.push({ frame, substep, body, speed, sample: events[k * 4 + 1]!, x: events[k * 4 + 2]!, kind: events[k * 4 + 3]! });
  }
  return found;
}

/** Mean Rec. 709 luminance (0..1) of a region of frame `f` of a chunk [F,H,W,3]. */
export function meanLuma(frames: Uint8Array, f: number, width: number, height: number, region = { x0: 0, y0: 0, x1: width, y1: height }): number {
  let sum = 0;
  let count = 0;
  const base = f * width * height * 3;
  for (let y = region.y0; y < region.y1; y++) {
    for (let x = region.x0; x < region.x1; x++) {
      const p = base + (y * width + x) * 3;
      sum += (0.2126 * frames[p]! + 0.7152 * frames[p + 1]! + 0.0722 * frames[p + 2]!) / 255;
      count++;
    }
  }
  return sum / count;
}

/** Pixel (x, y) of frame f as [r, g, b]. */
export function pixel(frames: Uint8Array, f: number, width: number, height: number, x: number, y: number): [number, number, number] {
  const p = ((f * height + y) * width + x) * 3;
  return [frames[p]!, frames[p + 1]!, frames[p + 2]!];
}
