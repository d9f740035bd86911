// text.onnx run in onnxruntime: the prompt's words, numbers and the seed visibly shape the scene, and every scene
// keeps the contract's invariants (restitution < 1, bodies fit, inactive bodies zero).
import { runInThisContext } from 'node:vm';
import type * as Ort from 'onnxruntime-node';
import { tokenize } from '../../gpu-workers/engine/tokenizer';
import { buildTextModel } from '../../scripts/models/reference/text';
import { VOCAB_WORDS } from '../../scripts/models/reference/vocab';

interface Body {
  active: number;
  r: number;
  g: number;
  b: number;
  radius: number;
  mass: number;
  restitution: number;
  texture: number;
  x: number;
  y: number;
  vx: number;
  vy: number;
}
interface Scene {
  bodies: Body[];
  active: Body[];
  world: { gravity: number; wallRestitution: number; strobeHz: number; strobeAmount: number; background: number[]; speed: number };
  ambient: { level: number; baseHz: number; brightness: number; rain: number };
  /** Every output value, in a fixed order, to measure how far two scenes are apart. */
  flat: number[];
}

let ort: typeof Ort;
let session: Ort.InferenceSession;

beforeAll(async () => {
  // onnxruntime-node's binding builds its output arrays in the process's realm, and onnxruntime-common checks them
  // with instanceof against the typed arrays of whatever realm loaded it; jest's sandbox is another realm. So the
  // sandbox takes the process's typed arrays before onnxruntime-node is loaded (hence the late import).
  const realm = runInThisContext(
    '({ Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Uint8Array, Uint16Array, Uint32Array, BigInt64Array, BigUint64Array })',
  );
  Object.assign(globalThis, realm);
  ort = await import('onnxruntime-node');
  session = await ort.InferenceSession.create(buildTextModel());
});

async function scene(prompt: string, seed = 42, aspect = 16 / 9): Promise<Scene> {
  const out = await session.run({
    tokens: new ort.Tensor('int64', tokenize(prompt, VOCAB_WORDS), [64]),
    seed: new ort.Tensor('int64', BigInt64Array.of(BigInt(seed)), []),
    aspect: new ort.Tensor('float32', Float32Array.of(aspect), []),
  });
  const values = (name: string): number[] => Array.from(out[name]!.data as Float32Array);
  const [b, s, w, a] = [values('bodies'), values('initial_state'), values('world'), values('ambient')];
  const bodies = Array.from({ length: 8 }, (_, j) => {
    const [active, r, g, bl, radius, mass, restitution, texture] = b.slice(j * 8, j * 8 + 8) as number[];
    const [x, y, vx, vy] = s.slice(j * 4, j * 4 + 4) as number[];
    return { active, r, g, b: bl, radius, mass, restitution, texture, x, y, vx, vy } as Body;
  });
  return {
    bodies,
    active: bodies.filter((body) => body.active === 1),
    world: {
      gravity: w[0]!,
      wallRestitution: w[1]!,
      strobeHz: w[2]!,
      strobeAmount: w[3]!,
      background: w.slice(4, 7),
      speed: w[7]!,
    },
    ambient: { level: a[0]!, baseHz: a[1]!, brightness: a[2]!, rain: a[3]! },
    flat: [...b, ...s, ...w, ...a],
  };
}

/** Summed relative difference of two scenes' tensors (each value scaled by its own magnitude). */
function distance(a: Scene, b: Scene): number {
  return a.flat.reduce((sum, v, i) => sum + Math.abs(v - b.flat[i]!) / Math.max(1, Math.abs(v), Math.abs(b.flat[i]!)), 0);
}

const luminance = ([r, g, b]: number[]): number => 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('text.onnx', () => {
  it('builds the same bytes every time and renders the same scene for the same prompt and seed', async () => {
    expect(Buffer.from(buildTextModel()).equals(Buffer.from(buildTextModel()))).toBe(true);
    expect((await scene('three red balls', 7)).flat).toEqual((await scene('three red balls', 7)).flat);
  });

  it('lays bodies out differently for different seeds', async () => {
    const layouts = await Promise.all(Array.from({ length: 10 }, (_, seed) => scene('five balls', seed)));
    for (let i = 1; i < layouts.length; i++) expect(distance(layouts[0]!, layouts[i]!)).toBeGreaterThan(0.1);
    const heights = layouts.map((l) => l.active[0]!.y.toFixed(3));
    expect(new Set(heights).size).toBe(layouts.length);
  });

  describe('body count', () => {
    it.each([
      ['three red balls', 3],
      ['5 blue balls', 5],
      ['eight balls', 8],
      ['20 balls', 8],
      ['0 marbles', 1],
      ['a single ball', 1],
      ['a big ball', 1],
      ['two tiny shiny green bubbles', 2],
      ['balls bouncing', 3],
      ['strobe at 5 hz with seven balls', 7],
      ['a few rocks', 3],
    ])('given "%s", then %d bodies are active', async (prompt, count) => {
      const s = await scene(prompt);
      expect(s.active).toHaveLength(count);
      expect(s.bodies.slice(0, count).every((b) => b.active === 1)).toBe(true);
    });
  });

  it('colours the bodies with the mentioned colours, in order and cycling', async () => {
    const red = await scene('three red balls');
    for (const b of red.active) expect([b.r > 0.6, b.g < 0.3, b.b < 0.3]).toEqual([true, true, true]);
    const blue = await scene('5 blue balls');
    for (const b of blue.active) expect([b.b > 0.6, b.r < 0.3, b.g < 0.4]).toEqual([true, true, true]);
    const alternating = await scene('four red and blue balls');
    expect(alternating.active.map((b) => (b.r > b.b ? 'red' : 'blue'))).toEqual(['red', 'blue', 'red', 'blue']);
    // Without a colour word the seed picks them, so they are not all alike.
    const plain = await scene('four balls');
    expect(new Set(plain.active.map((b) => `${b.r.toFixed(2)},${b.g.toFixed(2)},${b.b.toFixed(2)}`)).size).toBeGreaterThan(1);
  });

  it('makes "slow" lower gravity and speed than "fast"', async () => {
    const [slow, plain, fast] = await Promise.all(['slow balls', 'balls', 'fast balls'].map((p) => scene(p)));
    expect(slow.world.gravity).toBeLessThan(plain.world.gravity * 0.8);
    expect(fast.world.gravity).toBeGreaterThan(plain.world.gravity * 1.3);
    expect(slow.world.speed).toBeLessThan(fast.world.speed / 3);
    const speedOf = (s: Scene): number => mean(s.active.map((b) => Math.hypot(b.vx, b.vy)));
    expect(speedOf(slow)).toBeLessThan(speedOf(fast) / 3);
  });

  it('makes "bouncy" bodies more elastic than "heavy" ones, and heavy ones more massive', async () => {
    const [bouncy, heavy, plain] = await Promise.all(['bouncy balls', 'heavy balls', 'balls'].map((p) => scene(p)));
    expect(Math.min(...bouncy.active.map((b) => b.restitution))).toBeGreaterThan(0.85);
    expect(Math.max(...heavy.active.map((b) => b.restitution))).toBeLessThan(0.55);
    expect(bouncy.world.wallRestitution).toBeGreaterThan(heavy.world.wallRestitution);
    expect(mean(heavy.active.map((b) => b.mass))).toBeGreaterThan(2 * mean(plain.active.map((b) => b.mass)));
  });

  it('sizes bodies by big and small words', async () => {
    const [big, small] = await Promise.all(['two giant balls', 'two tiny balls'].map((p) => scene(p)));
    expect(Math.min(...big.active.map((b) => b.radius))).toBeGreaterThan(0.09);
    expect(Math.max(...small.active.map((b) => b.radius))).toBeLessThan(0.035);
  });

  it('turns "rain of tiny drops" into 8 small bodies falling from the top, with ambient rain', async () => {
    const aspect = 16 / 9;
    const rain = await scene('rain of tiny drops', 42, aspect);
    expect(rain.active).toHaveLength(8);
    for (const b of rain.active) {
      expect(b.radius).toBeLessThanOrEqual(0.03);
      expect(b.vy).toBeLessThan(-0.2);
      expect(b.y).toBeGreaterThan(0.7 * aspect);
    }
    expect(rain.ambient.rain).toBe(1);
    const dry = await scene('tiny drops', 42, aspect);
    expect(dry.ambient.rain).toBe(0);
    expect(dry.active).toHaveLength(3);
  });

  describe('strobe', () => {
    it.each([
      ['strobe flashing at 5 hz', 5],
      ['balls under a strobe at 1 hz', 1],
      ['flashing at 9 hertz', 9],
      ['a 7hz strobe', 7],
      ['strobe lights', 3],
      ['strobe at 60 hz', 12],
    ])('given "%s", then the background flashes at %d Hz', async (prompt, hz) => {
      const s = await scene(prompt);
      expect(s.world.strobeHz).toBe(hz);
      expect(s.world.strobeAmount).toBeGreaterThan(0.5);
      expect(s.world.strobeAmount).toBeLessThanOrEqual(1);
    });

    it.each(['three red balls', 'balls humming at 5 hz', 'bright sunny day'])('given "%s" with no strobe word, then nothing flashes', async (prompt) => {
      const s = await scene(prompt);
      expect([s.world.strobeHz, s.world.strobeAmount]).toEqual([0, 0]);
    });
  });

  it('darkens the background at night and lightens it on a sunny day', async () => {
    const [night, day, sunset, ocean] = await Promise.all(
      ['balls at night', 'balls on a sunny day', 'balls at sunset', 'balls in the ocean'].map((p) => scene(p)),
    );
    expect(luminance(night.world.background)).toBeLessThan(0.1);
    expect(luminance(day.world.background)).toBeGreaterThan(0.6);
    expect(night.ambient.brightness).toBeLessThan(day.ambient.brightness - 0.3);
    const [r, , b] = sunset.world.background;
    expect(r!).toBeGreaterThan(b! + 0.4);
    expect(ocean.world.background[2]!).toBeGreaterThan(ocean.world.background[0]! + 0.3);
  });

  it('sets the ambient bed from storm, calm and quiet words', async () => {
    const [storm, calm, plain] = await Promise.all(['balls in a storm', 'calm quiet balls', 'balls'].map((p) => scene(p)));
    expect(storm.ambient.level).toBeGreaterThan(plain.ambient.level + 0.05);
    expect(calm.ambient.level).toBeLessThan(plain.ambient.level - 0.05);
    expect(storm.ambient.baseHz).toBeLessThan(plain.ambient.baseHz * 0.7);
  });

  it('gives measurably different scenes to prompts that differ by one word, known or not', async () => {
    const pairs: [string, string][] = [
      ['balls bouncing', 'balls bouncing around'],
      ['calm scene', 'quiet scene'],
      ['three red balls', 'three red balls zebra'],
      ['the ball', 'a ball'],
      ['glowing orbs', 'shimmering orbs'],
      ['red blue balls', 'blue red balls'],
      ['a ball', 'a ball ball'],
    ];
    // Words never seen before, each appended to the same prompt: every one moves the scene.
    const base = 'balls bouncing at night';
    for (const word of ['zebra', 'glowing', 'cinematic', 'whimsical', 'über', 'x7', 'tumbling', 'moody', 'retro', 'vivid']) {
      pairs.push([base, `${base} ${word}`]);
    }
    for (const [a, b] of pairs) {
      const d = distance(await scene(a), await scene(b));
      expect({ a, b, measurable: d > 0.01 }).toEqual({ a, b, measurable: true });
    }
  });

  it('keeps every scene physical: restitution < 1, bodies inside the world and apart, inactive bodies zero', async () => {
    const prompts = [
      'three red balls',
      'eight giant heavy balls',
      'rain of tiny drops',
      'bouncy bouncy springy elastic balls',
      'slow floating bubbles in space',
      'fast chaotic planets',
      'a single enormous boulder',
      'zebra',
    ];
    for (const aspect of [16 / 9, 9 / 16, 1, 0.3]) {
      for (const prompt of prompts) {
        for (const seed of [0, 1, 2147483647]) {
          const s = await scene(prompt, seed, aspect);
          const where = `${prompt} / seed ${seed} / aspect ${aspect.toFixed(2)}`;
          expect({ where, gravity: s.world.gravity > 0, wall: s.world.wallRestitution < 1 }).toEqual({ where, gravity: true, wall: true });
          expect(s.active.length).toBeGreaterThanOrEqual(1);
          for (const b of s.bodies) {
            if (b.active === 0) {
              expect({ where, ...b }).toEqual({ where, active: 0, r: 0, g: 0, b: 0, radius: 0, mass: 0, restitution: 0, texture: 0, x: 0, y: 0, vx: 0, vy: 0 });
              continue;
            }
            const fits =
              b.restitution > 0 &&
              b.restitution < 1 &&
              b.radius >= 0.02 - 1e-6 &&
              b.radius <= 0.12 + 1e-6 &&
              2 * b.radius < Math.min(1, aspect) &&
              b.x >= b.radius &&
              b.x <= 1 - b.radius &&
              b.y >= b.radius &&
              b.y <= aspect - b.radius &&
              b.mass > 0 &&
              [b.r, b.g, b.b].every((c) => c >= 0 && c <= 1);
            expect({ where, body: b, fits }).toEqual({ where, body: b, fits: true });
          }
          for (let i = 0; i < s.active.length; i++) {
            for (let k = i + 1; k < s.active.length; k++) {
              const [p, q] = [s.active[i]!, s.active[k]!];
              expect({ where, apart: Math.hypot(p.x - q.x, p.y - q.y) >= p.radius + q.radius }).toEqual({ where, apart: true });
            }
          }
          const { level, brightness, rain } = s.ambient;
          expect([level, brightness, s.world.strobeAmount, ...s.world.background].every((v) => v >= 0 && v <= 1)).toBe(true);
          expect([0, 1]).toContain(rain);
        }
      }
    }
  });
});
