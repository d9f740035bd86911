// video.onnx run in onnxruntime: the physics keeps its promises on many random scenes (no sinking, energy never
// rises, bodies stay in the room), chunks join bit for bit, every impact is on its exact sample, and styles, cameras,
// cameo, backdrop and strobe are visible in the pixels.
import * as ort from 'onnxruntime-node';
import { buildVideoModel } from '../../scripts/models/reference/video';
import {
  BODIES,
  FPS,
  SAMPLES_PER_FRAME,
  SUBSTEPS,
  crowdedScene,
  energy,
  feeds,
  impacts,
  isActive,
  meanLuma,
  pixel,
  randomScene,
  render,
  sceneOf,
  statesFrameByFrame,
  type Chunk,
  type RenderOptions,
  type Scene,
} from './support/scenes';

const DT = 1 / (FPS * SUBSTEPS);
const SAMPLE_RATE_HZ = FPS * SAMPLES_PER_FRAME;

let session: ort.InferenceSession;

beforeAll(async () => {
  session = await ort.InferenceSession.create(buildVideoModel(), { intraOpNumThreads: 1 });
});

function bytesEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const view = (x: ArrayBufferView): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return Buffer.compare(view(a), view(b)) === 0;
}

function concat(chunks: Chunk[]): { frames: Buffer; events: Float32Array } {
  const frames = Buffer.concat(chunks.map((c) => Buffer.from(c.frames.buffer, c.frames.byteOffset, c.frames.byteLength)));
  const events = new Float32Array(chunks.reduce((n, c) => n + c.events.length, 0));
  let at = 0;
  for (const c of chunks) {
    events.set(c.events, at);
    at += c.events.length;
  }
  return { frames, events };
}

/** Renders consecutive chunks of the given lengths, each starting from the previous one's state_out. */
async function renderInChunks(
  scene: Scene,
  lengths: number[],
  options: Omit<RenderOptions, 'frames' | 'startFrame'>,
): Promise<{ chunks: Chunk[]; state: Float32Array }> {
  const chunks: Chunk[] = [];
  let state = scene.state;
  let start = 0;
  for (const frames of lengths) {
    const chunk = await render(session, scene, { ...options, startFrame: start, frames }, state);
    chunks.push(chunk);
    state = chunk.state;
    start += frames;
  }
  return { chunks, state };
}

describe('physics on many random scenes', () => {
  const SEEDS = 30;
  const FRAMES = 48;
  const WIDTH = 128;
  const runs: { seed: number; scene: Scene; aspect: number; states: Float32Array[]; events: Float32Array[] }[] = [];

  beforeAll(async () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      // Landscape and portrait rooms: the ceiling is at y = aspect.
      const height = seed % 2 === 0 ? 96 : 160;
      const aspect = height / WIDTH;
      const scene = randomScene(seed, aspect);
      const run = await statesFrameByFrame(session, scene, FRAMES, { width: WIDTH, height });
      runs.push({ seed, scene, aspect, ...run });
    }
  });

  function eachBodyAtEachFrame(check: (run: (typeof runs)[number], state: Float32Array, body: number, frame: number) => void): void {
    for (const run of runs) {
      run.states.forEach((state, frame) => {
        for (let i = 0; i < BODIES; i++) if (isActive(run.scene, i)) check(run, state, i, frame);
      });
    }
  }

  it('given 30 seeds, no body sinks more than one pixel into the floor at any frame', () => {
    let deepest = -Infinity;
    eachBodyAtEachFrame(({ scene }, state, i) => {
      const sinkPx = (scene.bodies[i * 8 + 4]! - state[i * 4 + 1]!) * WIDTH;
      deepest = Math.max(deepest, sinkPx);
    });
    expect(deepest).toBeLessThanOrEqual(1);
  });

  it('given 30 seeds, bodies stay between the walls and below the ceiling', () => {
    let worstPx = -Infinity;
    eachBodyAtEachFrame(({ scene, aspect }, state, i) => {
      const r = scene.bodies[i * 8 + 4]!;
      const [x, y] = [state[i * 4]!, state[i * 4 + 1]!];
      worstPx = Math.max(worstPx, (r - x) * WIDTH, (x + r - 1) * WIDTH, (y + r - aspect) * WIDTH);
    });
    expect(worstPx).toBeLessThanOrEqual(1);
  });

  it('given 30 seeds, total energy Σ m(½|v|² + g·y) never rises from one frame to the next', () => {
    const rises: string[] = [];
    for (const { seed, scene, states } of runs) {
      for (let f = 1; f < states.length; f++) {
        const before = energy(scene, states[f - 1]!);
        const after = energy(scene, states[f]!);
        // Only float32 rounding is tolerated.
        if (after > before + 1e-5 * Math.abs(before)) rises.push(`seed ${seed} frame ${f}: ${before} -> ${after}`);
      }
    }
    expect(rises).toEqual([]);
  });

  it('given 30 seeds, the scenes do collide: floor, walls and bodies all report impacts', () => {
    const kinds = new Set(runs.flatMap(({ events }) => events.flatMap((e) => impacts(e).map((i) => i.kind))));
    expect([...kinds].sort()).toEqual([1, 2, 3]);
  });

  it('given 30 seeds, every event is a well-formed impact where a velocity changed', () => {
    const problems: string[] = [];
    for (const { seed, scene, states, events } of runs) {
      const g = scene.world[0]!;
      events.forEach((track, f) => {
        const [before, after] = [states[f]!, states[f + 1]!];
        // Free flight over one frame: gravity only, none for a body resting on the floor.
        const deviates = (i: number): boolean => {
          const resting = before[i * 4 + 1] === scene.bodies[i * 8 + 4] && before[i * 4 + 3] === 0;
          const vy = resting ? 0 : before[i * 4 + 3]! - g * SUBSTEPS * DT;
          return Math.abs(after[i * 4 + 2]! - before[i * 4 + 2]!) > 1e-4 || Math.abs(after[i * 4 + 3]! - vy) > 1e-4;
        };
        const found = impacts(track);
        for (const hit of found) {
          const where = `seed ${seed} frame ${f} body ${hit.body}`;
          if (!isActive(scene, hit.body)) problems.push(`${where}: inactive body`);
          if (!(hit.speed > 0) || !Number.isInteger(hit.sample) || hit.sample < 0 || hit.sample >= SAMPLES_PER_FRAME)
            problems.push(`${where}: ${JSON.stringify(hit)}`);
          if (![1, 2, 3].includes(hit.kind) || hit.x < 0 || hit.x > 1) problems.push(`${where}: ${JSON.stringify(hit)}`);
          // A body-to-body impact may leave one of the two unchanged (one resting on the floor), never both.
          const partners = hit.kind === 3 ? found.filter((o) => o.kind === 3 && o.substep === hit.substep).map((o) => o.body) : [hit.body];
          if (!partners.some(deviates)) problems.push(`${where}: event without a velocity change`);
        }
      });
    }
    expect(problems).toEqual([]);
  });
});

describe('physics where bodies pile up', () => {
  it('given crowded rooms where bodies come to rest against and on each other, energy never rises over 10 s', async () => {
    const rises: string[] = [];
    for (let seed = 1; seed <= 6; seed++) {
      const scene = crowdedScene(seed, 40 / 32);
      const { states } = await statesFrameByFrame(session, scene, 240, { width: 32, height: 40 });
      for (let f = 1; f < states.length; f++) {
        const [before, after] = [energy(scene, states[f - 1]!), energy(scene, states[f]!)];
        if (after > before + 1e-5 * Math.abs(before)) rises.push(`seed ${seed} frame ${f}: ${before} -> ${after}`);
      }
    }
    expect(rises).toEqual([]);
  });

  it('a ball landing on a resting ball comes to rest on top of it without sinking in', async () => {
    const [lower, upper] = [0.08, 0.05];
    const scene = sceneOf(
      [
        { x: 0.5, y: lower, radius: lower },
        { x: 0.5, y: 2 * lower + upper + 0.05, radius: upper },
      ],
      { gravity: 3 },
    );
    const { states } = await statesFrameByFrame(session, scene, 240, { width: 32, height: 32 });
    const gap = (s: Float32Array): number => Math.hypot(s[4]! - s[0]!, s[5]! - s[1]!) - (lower + upper);
    const settled = states.slice(120);
    // Within a fraction of a pixel of touching (one landing substep deep at most), and not sinking any further.
    for (const s of settled) expect(gap(s)).toBeGreaterThan(-0.002);
    expect(gap(settled.at(-1)!)).toBeCloseTo(gap(settled[0]!), 6);
    expect(Array.from(settled.at(-1)!.subarray(0, 4))).toEqual([0.5, Math.fround(lower), 0, 0]);
  });
});

describe('chunks and determinism', () => {
  const scene = randomScene(11, 96 / 128);
  scene.world[2] = 3; // strobe at 3 Hz: a function of global time, like the camera
  scene.world[3] = 0.8;
  const options = { width: 128, height: 96, camera: 1, cameoBody: 0 };

  it('two chunks of 24 frames give exactly the frames, state and events of one chunk of 48', async () => {
    const whole = await render(session, scene, { ...options, frames: 48 });
    const halves = await renderInChunks(scene, [24, 24], options);
    const joined = concat(halves.chunks);
    expect(joined.frames.length).toBe(whole.frames.length);
    expect(bytesEqual(joined.frames, whole.frames)).toBe(true);
    expect(bytesEqual(joined.events, whole.events)).toBe(true);
    expect(bytesEqual(halves.state, whole.state)).toBe(true);
    expect(impacts(whole.events).length).toBeGreaterThan(0);
  });

  it('three uneven chunks (10 + 20 + 18) give exactly one chunk of 48', async () => {
    const whole = await render(session, scene, { ...options, camera: 2, frames: 48 });
    const parts = await renderInChunks(scene, [10, 20, 18], { ...options, camera: 2 });
    const joined = concat(parts.chunks);
    expect(bytesEqual(joined.frames, whole.frames)).toBe(true);
    expect(bytesEqual(joined.events, whole.events)).toBe(true);
    expect(bytesEqual(parts.state, whole.state)).toBe(true);
  });

  it('the same inputs give the same bytes, run twice and in a fresh session', async () => {
    const first = await render(session, scene, { ...options, frames: 12 });
    const again = await render(session, scene, { ...options, frames: 12 });
    const other = await ort.InferenceSession.create(buildVideoModel(), { intraOpNumThreads: 2 });
    const fresh = await render(other, scene, { ...options, frames: 12 });
    for (const run of [again, fresh]) {
      expect(bytesEqual(run.frames, first.frames)).toBe(true);
      expect(bytesEqual(run.events, first.events)).toBe(true);
      expect(bytesEqual(run.state, first.state)).toBe(true);
    }
    expect(bytesEqual(buildVideoModel(), buildVideoModel())).toBe(true);
  });
});

describe('impacts and their event track', () => {
  it('a ball dropped from rest hits the floor on the sample the scheme predicts, near t = sqrt(2h/g), at speed ≈ g·t', async () => {
    const [g, h, r] = [2, 0.5, 0.05];
    const scene = sceneOf([{ x: 0.5, y: r + h, radius: r, restitution: 0.6 }], { gravity: g });
    const { events } = await render(session, scene, { width: 64, height: 64, frames: 24 });
    const first = impacts(events)[0]!;
    expect(first).toMatchObject({ body: 0, kind: 1 });
    const globalSample = first.frame * SAMPLES_PER_FRAME + first.sample;

    // The discrete scheme: after k substeps v = -k·g·dt and y = y0 - g·dt²·k(k+1)/2; the hit is inside substep k.
    let k = 1;
    while (r + h - (g * DT * DT * k * (k + 1)) / 2 >= r) k++;
    const yBefore = r + h - (g * DT * DT * (k - 1) * k) / 2;
    const fraction = (yBefore - r) / (k * g * DT * DT);
    const predicted = Math.floor((k - 1 + fraction) * (SAMPLES_PER_FRAME / SUBSTEPS));
    expect(Math.abs(globalSample - predicted)).toBeLessThanOrEqual(2);
    // Semi-implicit Euler falls half a substep ahead of the continuous law: 125 samples.
    const analytic = Math.sqrt((2 * h) / g) * SAMPLE_RATE_HZ;
    expect(Math.abs(globalSample - (analytic - SAMPLES_PER_FRAME / SUBSTEPS / 2))).toBeLessThanOrEqual(10);
    expect(first.speed).toBeCloseTo(k * g * DT, 4);
    expect(Math.abs(first.speed - Math.sqrt(2 * g * h)) / Math.sqrt(2 * g * h)).toBeLessThan(0.02);
    expect(first.x).toBeCloseTo(0.5, 6);
  });

  it('a bouncing ball bounces lower each time, comes to rest exactly on the floor, and then falls silent', async () => {
    const scene = sceneOf([{ x: 0.3, y: 0.6, radius: 0.05, restitution: 0.6 }], { gravity: 3 });
    const run = await render(session, scene, { width: 32, height: 32, frames: 96 });
    const hits = impacts(run.events);
    expect(hits.length).toBeGreaterThanOrEqual(3);
    hits.forEach((hit, i) => {
      expect(hit.kind).toBe(1);
      if (i > 0) expect(hit.speed).toBeLessThan(hits[i - 1]!.speed);
    });
    expect(hits.at(-1)!.frame).toBeLessThan(90);
    expect(Array.from(run.state.subarray(0, 4))).toEqual([Math.fround(0.3), Math.fround(0.05), 0, 0]);
  });

  it('bodies flying freely through the room report no events', async () => {
    const scene = sceneOf([
      { x: 0.3, y: 0.5, vx: 0.2, vy: 0.5 },
      { x: 0.7, y: 0.5, vx: -0.1, vy: 0.3 },
    ]);
    const { events } = await render(session, scene, { width: 32, height: 32, frames: 8 });
    expect(impacts(events)).toEqual([]);
  });

  it('two balls meeting in mid-air both report the impact on the same sample, and momentum is conserved', async () => {
    const scene = sceneOf(
      [
        { x: 0.3, y: 0.5, vx: 1, radius: 0.06, mass: 1 },
        { x: 0.7, y: 0.5, vx: -0.5, radius: 0.04, mass: 0.5 },
      ],
      { gravity: 1 },
    );
    // 8 frames: long enough to meet, too short for the lighter ball to reach the wall afterwards.
    const { events, state } = await render(session, scene, { width: 32, height: 32, frames: 8 });
    const hits = impacts(events).filter((hit) => hit.kind === 3);
    expect(hits.map((hit) => hit.body).sort()).toEqual([0, 1]);
    expect(hits[0]!.sample).toBe(hits[1]!.sample);
    expect(hits[0]!.frame).toBe(hits[1]!.frame);
    expect(hits[0]!.speed).toBeCloseTo(1.5, 1);
    const momentumX = (s: Float32Array): number => 1 * s[2]! + 0.5 * s[6]!;
    expect(momentumX(state)).toBeCloseTo(momentumX(scene.state), 5);
    expect(state[2]!).toBeLessThan(0.5); // the heavier ball was slowed down, the lighter one sent back
    expect(state[6]!).toBeGreaterThan(0);
  });

  it('a ball thrown at a wall bounces off it with a wall event at the wall', async () => {
    const scene = sceneOf([{ x: 0.8, y: 0.5, vx: 2, radius: 0.05 }], { gravity: 1, wallRestitution: 0.8 });
    const { events, state } = await render(session, scene, { width: 32, height: 32, frames: 6 });
    const [hit] = impacts(events);
    expect(hit).toMatchObject({ kind: 2, body: 0 });
    expect(hit!.speed).toBeCloseTo(2, 4);
    expect(hit!.x).toBeCloseTo(0.95, 4);
    expect(state[2]).toBeCloseTo(-1.6, 4);
  });
});

describe('what the pixels show', () => {
  const W = 128;
  const H = 128;
  const body = { x: 0.5, y: 0.5, radius: 0.15, colour: [0.9, 0.2, 0.2] as [number, number, number] };
  const still = (): Scene => sceneOf([body], { gravity: 1, background: [0.1, 0.3, 0.5] });
  const centre = { x: Math.round(body.x * W), y: Math.round(H - body.y * W) };

  it('noir frames are grey (r = g = b everywhere), and the three styles draw different pictures', async () => {
    const scene = randomScene(5, 1);
    const byStyle = await Promise.all([0, 1, 2].map((style) => render(session, scene, { width: W, height: H, frames: 2, style })));
    const noir = byStyle[2]!.frames;
    let coloured = 0;
    for (let p = 0; p < noir.length; p += 3) if (noir[p] !== noir[p + 1] || noir[p] !== noir[p + 2]) coloured++;
    expect(coloured).toBe(0);
    expect(bytesEqual(byStyle[0]!.frames, byStyle[1]!.frames)).toBe(false);
    expect(bytesEqual(byStyle[0]!.frames, byStyle[2]!.frames)).toBe(false);
    const cinematic = byStyle[0]!.frames;
    let cinematicColoured = 0;
    for (let p = 0; p < cinematic.length; p += 3) if (cinematic[p] !== cinematic[p + 2]) cinematicColoured++;
    expect(cinematicColoured).toBeGreaterThan(0);
  });

  it('the body is drawn at its world position in its colour, over the background', async () => {
    const { frames } = await render(session, still(), { width: W, height: H, frames: 1, style: 1 });
    // Anime: flat colours posterized to quarters, no vignette.
    expect(pixel(frames, 0, W, H, centre.x, centre.y)).toEqual([255, 64, 64]);
    expect(pixel(frames, 0, W, H, 5, 5)).toEqual([26, 77, 128]);
    // A dark outline ring at the disc's edge.
    const rim = pixel(frames, 0, W, H, centre.x + Math.floor(body.radius * W) - 1, centre.y);
    expect(Math.max(...rim)).toBeLessThan(100);
  });

  it('pan and zoom start where the static camera is and move away from it with global time', async () => {
    const scene = randomScene(8, 1);
    const [fixed, pan, zoom] = await Promise.all([0, 1, 2].map((camera) => render(session, scene, { width: W, height: H, frames: 1, camera })));
    expect(bytesEqual(pan!.frames, fixed!.frames)).toBe(true);
    expect(bytesEqual(zoom!.frames, fixed!.frames)).toBe(true);
    const later = (camera: number): Promise<Chunk> => render(session, still(), { width: W, height: H, startFrame: 48, frames: 1, camera });
    const [fixedLater, panLater, zoomLater] = await Promise.all([0, 1, 2].map(later));
    expect(bytesEqual(panLater!.frames, fixedLater!.frames)).toBe(false);
    expect(bytesEqual(zoomLater!.frames, fixedLater!.frames)).toBe(false);
    // Zooming in makes the body bigger: more pixels differ from the background.
    const bodyPixels = (c: Chunk): number => {
      let n = 0;
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (pixel(c.frames, 0, W, H, x, y)[0] > 150) n++;
      return n;
    };
    expect(bodyPixels(zoomLater!)).toBeGreaterThan(bodyPixels(fixedLater!) * 1.05);
  });

  it('the cameo body wears the likeness texture, which shows in its pixels; without a cameo it is plain', async () => {
    // Quadrants: red top left, green top right, blue bottom left, yellow bottom right.
    const texture = new Float32Array(32 * 32 * 3);
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const colour = y < 16 ? (x < 16 ? [1, 0, 0] : [0, 1, 0]) : x < 16 ? [0, 0, 1] : [1, 1, 0];
        texture.set(colour, (y * 32 + x) * 3);
      }
    }
    const r = body.radius * W;
    const quarter = (dx: number, dy: number) => [centre.x + Math.round(dx * r * 0.5), centre.y + Math.round(dy * r * 0.5)] as const;
    const withCameo = await render(session, still(), { width: W, height: H, frames: 1, style: 1, cameoTexture: texture, cameoBody: 0 });
    expect(pixel(withCameo.frames, 0, W, H, ...quarter(-1, -1))).toEqual([255, 0, 0]);
    expect(pixel(withCameo.frames, 0, W, H, ...quarter(1, -1))).toEqual([0, 255, 0]);
    expect(pixel(withCameo.frames, 0, W, H, ...quarter(-1, 1))).toEqual([0, 0, 255]);
    expect(pixel(withCameo.frames, 0, W, H, ...quarter(1, 1))).toEqual([255, 255, 0]);
    const plain = await render(session, still(), { width: W, height: H, frames: 1, style: 1, cameoTexture: texture, cameoBody: -1 });
    expect(pixel(plain.frames, 0, W, H, ...quarter(1, -1))).toEqual([255, 64, 64]);
    // Cinematic shades the texture but keeps it recognisable: top right is still mostly green.
    const shaded = await render(session, still(), { width: W, height: H, frames: 1, style: 0, cameoTexture: texture, cameoBody: 0 });
    const [red, green, blue] = pixel(shaded.frames, 0, W, H, ...quarter(1, -1));
    expect(green).toBeGreaterThan(2 * Math.max(red, blue));
  });

  it('a backdrop with weight 1 replaces the plain background, resized to the frame', async () => {
    // 2x2 backdrop: red on the left, blue on the right; anime keeps colours as they are.
    const backdrop = { data: Float32Array.from([1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1]), height: 2, width: 2 };
    const shown = await render(session, still(), { width: W, height: H, frames: 1, style: 1, backdrop, backdropWeight: 1 });
    expect(pixel(shown.frames, 0, W, H, 0, 0)).toEqual([255, 0, 0]);
    expect(pixel(shown.frames, 0, W, H, W - 1, H - 1)).toEqual([0, 0, 255]);
    const middle = pixel(shown.frames, 0, W, H, W / 2, 2);
    expect(middle[0]).toBeGreaterThan(90);
    expect(middle[2]).toBeGreaterThan(90);
    const hidden = await render(session, still(), { width: W, height: H, frames: 1, style: 1, backdrop, backdropWeight: 0 });
    expect(pixel(hidden.frames, 0, W, H, 0, 0)).toEqual([26, 77, 128]);
  });

  it('inactive bodies are neither drawn nor moved', async () => {
    const scene = still();
    const withGhost = sceneOf([body, { x: 0.2, y: 0.3, vx: 1, vy: 1, radius: 0.1, colour: [1, 1, 1] }], { gravity: 1, background: [0.1, 0.3, 0.5] });
    withGhost.bodies[8] = 0;
    const [alone, ghost] = await Promise.all([scene, withGhost].map((s) => render(session, s, { width: W, height: H, frames: 6 })));
    expect(bytesEqual(ghost!.frames, alone!.frames)).toBe(true);
    expect(Array.from(ghost!.state.subarray(4, 6))).toEqual([Math.fround(0.2), Math.fround(0.3)]);
  });
});

describe('strobe', () => {
  const S = 32;
  const flashing = (hz: number, amount = 0.8): Scene => sceneOf([], { strobeHz: hz, strobeAmount: amount, background: [0.15, 0.1, 0.2] });

  /** WCAG 2.3.1 general flashes: pairs of opposing luminance changes of >= 10% with the darker frame below 0.80. */
  function flashesPerSecond(lumas: number[]): number[] {
    const changes: { frame: number; up: boolean }[] = [];
    let ref = lumas[0]!;
    lumas.forEach((l, f) => {
      const [dark, light] = l < ref ? [l, ref] : [ref, l];
      if (light - dark >= 0.1 && dark < 0.8) {
        changes.push({ frame: f, up: l > ref });
        ref = l;
      }
    });
    const seconds = Math.ceil(lumas.length / FPS);
    return Array.from({ length: seconds }, (_, s) => {
      const inSecond = changes.filter((c) => c.frame >= s * FPS && c.frame < (s + 1) * FPS);
      return inSecond.filter((c) => c.up).length;
    });
  }

  async function lumas(scene: Scene): Promise<number[]> {
    const { frames } = await render(session, scene, { width: S, height: S, frames: 48 });
    return Array.from({ length: 48 }, (_, f) => meanLuma(frames, f, S, S));
  }

  it('at 5 Hz the background flashes 5 times a second, strongly enough for a general-flash check', async () => {
    const l = await lumas(flashing(5));
    expect(flashesPerSecond(l)).toEqual([5, 5]);
    expect(Math.max(...l) - Math.min(...l)).toBeGreaterThan(0.5);
  });

  it('at 1 Hz it flashes once a second', async () => {
    expect(flashesPerSecond(await lumas(flashing(1)))).toEqual([1, 1]);
  });

  it('without a strobe, or with amount 0, the background is steady', async () => {
    for (const scene of [flashing(0), flashing(5, 0)]) {
      const l = await lumas(scene);
      expect(Math.max(...l) - Math.min(...l)).toBe(0);
    }
  });
});

describe('sizes', () => {
  it.each([
    [1792, 1024],
    [1024, 1792],
  ])('renders %ix%i frames with the right dimensions and the body in place', async (width, height) => {
    const scene = sceneOf([{ x: 0.5, y: 0.3, radius: 0.08, colour: [1, 1, 1] }], { background: [0, 0, 0.3] });
    const out = await session.run(feeds(scene, scene.state, { width, height, frames: 1, style: 1 }));
    expect(out.frames!.dims).toEqual([1, height, width, 3]);
    const frames = out.frames!.data as Uint8Array;
    expect(pixel(frames, 0, width, height, width / 2, Math.round(height - 0.3 * width))).toEqual([255, 255, 255]);
    expect(pixel(frames, 0, width, height, 3, 3)).toEqual([0, 0, 77]);
  });
});
