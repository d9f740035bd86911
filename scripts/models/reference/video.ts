// video.onnx of the reference pack: scene + state → frames, final state and the event track (the contract is
// gpu-workers/models/README.md). Physics, camera, styles, cameo, backdrop and strobe all run inside the graph.
import { GraphBuilder, attr, encodeModel, type DType } from '../onnx-builder';

const B = 8;
const FPS = 24;
const SUBSTEPS = 8;
const SAMPLES_PER_FRAME = 2000;
const SAMPLES_PER_SUBSTEP = SAMPLES_PER_FRAME / SUBSTEPS;
const DT = 1 / (FPS * SUBSTEPS);
const TEXTURE = 32;

/** Tunables of the reference look and physics; the README's contract only fixes what they mean. */
export const VIDEO = {
  /** Restitutions are clamped here: at 1 the rest threshold 2·g·dt/(1-e) would be infinite. */
  maxRestitution: 0.98,
  /** Margin on the rest threshold, for float32 rounding in the energy argument. */
  restMargin: 1.05,
  /** Impacts slower than this (world units/s) emit no event: resting and stacked contacts must not click. */
  eventMinSpeed: 0.05,
  panAmplitude: 0.08,
  panPeriodFrames: 6 * FPS,
  zoomAmount: 0.12,
  zoomPeriodFrames: 8 * FPS,
} as const;

type T = string;

/** Thin typed helpers over GraphBuilder; constants are cached per graph so a substep unrolled 8 times stays small. */
class Net {
  private readonly cache = new Map<string, T>();
  constructor(readonly g: GraphBuilder) {}

  private cached(key: string, make: () => T): T {
    let v = this.cache.get(key);
    if (v === undefined) {
      v = make();
      this.cache.set(key, v);
    }
    return v;
  }
  f(v: number): T {
    return this.cached(`f${v}`, () => this.g.scalar(v, 'float'));
  }
  i(v: number): T {
    return this.cached(`i${v}`, () => this.g.scalar(v, 'int64'));
  }
  tf(dims: number[], values: number[]): T {
    return this.cached(`tf${dims.join('x')}:${values.join(',')}`, () => this.g.constant('float', dims, values));
  }
  ti(values: number[], dims = [values.length]): T {
    return this.cached(`ti${dims.join('x')}:${values.join(',')}`, () => this.g.constant('int64', dims, values));
  }
  op(type: string, inputs: T[], attrs: Parameters<GraphBuilder['op']>[2] = {}): T {
    return this.g.op(type, inputs, attrs);
  }
  add(a: T, b: T): T {
    return this.op('Add', [a, b]);
  }
  sub(a: T, b: T): T {
    return this.op('Sub', [a, b]);
  }
  mul(a: T, b: T): T {
    return this.op('Mul', [a, b]);
  }
  div(a: T, b: T): T {
    return this.op('Div', [a, b]);
  }
  neg(a: T): T {
    return this.op('Neg', [a]);
  }
  abs(a: T): T {
    return this.op('Abs', [a]);
  }
  sqrt(a: T): T {
    return this.op('Sqrt', [a]);
  }
  floor(a: T): T {
    return this.op('Floor', [a]);
  }
  min(a: T, b: T): T {
    return this.op('Min', [a, b]);
  }
  max(a: T, b: T): T {
    return this.op('Max', [a, b]);
  }
  clip(a: T, lo: number, hi: number): T {
    return this.op('Clip', [a, this.f(lo), this.f(hi)]);
  }
  less(a: T, b: T): T {
    return this.op('Less', [a, b]);
  }
  greater(a: T, b: T): T {
    return this.op('Greater', [a, b]);
  }
  equal(a: T, b: T): T {
    return this.op('Equal', [a, b]);
  }
  and(a: T, b: T): T {
    return this.op('And', [a, b]);
  }
  or(a: T, b: T): T {
    return this.op('Or', [a, b]);
  }
  not(a: T): T {
    return this.op('Not', [a]);
  }
  where(c: T, a: T, b: T): T {
    return this.op('Where', [c, a, b]);
  }
  cast(a: T, to: DType): T {
    const code = { float: 1, float16: 10, uint8: 2, int32: 6, int64: 7, bool: 9 }[to];
    return this.op('Cast', [a], { to: attr.i(code) });
  }
  sin(a: T): T {
    return this.op('Sin', [a]);
  }
  cos(a: T): T {
    return this.op('Cos', [a]);
  }
  slice(a: T, start: number, end: number, axis: number): T {
    return this.op('Slice', [a, this.ti([start]), this.ti([end]), this.ti([axis])]);
  }
  unsqueeze(a: T, axes: number[]): T {
    return this.op('Unsqueeze', [a, this.ti(axes)]);
  }
  reshape(a: T, shape: T): T {
    return this.op('Reshape', [a, shape]);
  }
  concat(xs: T[], axis: number): T {
    return this.op('Concat', xs, { axis: attr.i(axis) });
  }
  transpose(a: T, perm: number[]): T {
    return this.op('Transpose', [a], { perm: attr.ints(perm) });
  }
  gather(a: T, idx: T, axis: number): T {
    return this.op('Gather', [a, idx], { axis: attr.i(axis) });
  }
  matmul(a: T, b: T): T {
    return this.op('MatMul', [a, b]);
  }
  /** Sum over `axes`, or over everything to a scalar when `axes` is null. */
  sum(a: T, axes: number[] | null, keep: boolean): T {
    return this.op('ReduceSum', axes ? [a, this.ti(axes)] : [a], { keepdims: attr.i(keep ? 1 : 0) });
  }
  maxOver(a: T, axes: number[], keep: boolean): T {
    return this.op('ReduceMax', [a, this.ti(axes)], { keepdims: attr.i(keep ? 1 : 0) });
  }
  mean(a: T): T {
    return this.op('ReduceMean', [a], { keepdims: attr.i(0) });
  }
  expand(a: T, shape: T): T {
    return this.op('Expand', [a, shape]);
  }
}

/** Output names of subgraphs must be unique in the whole model; a counter per build keeps them deterministic. */
class Names {
  private n = 0;
  next(hint: string): string {
    return `video/${hint}_${this.n++}`;
  }
}

/** `If(cond)` whose branches each build one tensor from values in scope. */
function ifThen(n: Net, names: Names, cond: T, dtype: DType, then: (b: Net) => T, otherwise: (b: Net) => T): T {
  return ifThenMany(
    n,
    names,
    cond,
    [dtype],
    (b) => [then(b)],
    (b) => [otherwise(b)],
  )[0]!;
}

/** `If(cond)` whose branches each build the same number of tensors, of the given dtypes. */
function ifThenMany(n: Net, names: Names, cond: T, dtypes: DType[], then: (b: Net) => T[], otherwise: (b: Net) => T[]): T[] {
  const branch = (label: string, build: (b: Net) => T[]): GraphBuilder => {
    const g = n.g.subgraph(label);
    build(new Net(g)).forEach((value, i) => g.output(names.next(`${label}_out`), value, dtypes[i]!));
    return g;
  };
  const attrs = { then_branch: attr.g(branch('then', then)), else_branch: attr.g(branch('else', otherwise)) };
  return n.g.opN('If', [cond], attrs, dtypes.length);
}

/** Per-chunk physics constants, computed once outside the frame loop. */
interface Physics {
  /** [8,1] radius (world units). */
  radius: T;
  /** [8,2] lower / upper bounds of (x, y): (r, r) and (1 - r, aspect - r); ±1e9 for inactive bodies, which never hit. */
  lo: T;
  hi: T;
  /** [8,2] minus the restitution when crossing the lower / upper bound: walls and ceiling use world[1], the floor the body's. */
  negRestLo: T;
  negRestHi: T;
  /** [8,2] below this |v| a floor hit comes to rest instead of bouncing (x column 0: walls never rest a body). */
  restSpeed: T;
  /** [8,1] r + (a little more than) restSpeed·dt: only a body below this height can come to rest in a substep. */
  settleBand: T;
  /** [8,2] (0, -g·dt) for active bodies. */
  gravityStep: T;
  /** [8,8] (ri + rj)² for distinct active pairs, -1 otherwise (so d² < it never holds). */
  contactDist2: T;
  /** [8,8] min(ei, ej) and minus the pair's slow-contact threshold 2·g·dt/(1-e) (see pairImpulses). */
  pairRest: T;
  negPairSlow: T;
  /** [8,1] 1/m, -1/m, m·active. */
  invMass: T;
  negInvMass: T;
  mass: T;
  /** [1,2] (0, g·dt) and the scalar ½·g²·dt². */
  gravityDt: T;
  halfG2Dt2: T;
}

/**
 * Pair impulses on velocities V [8,2] at positions P (README: "body-to-body impulses along the contact normal with
 * the pair's restitution"). Every overlapping, approaching pair (i,j) gets J = (1+e)·|vn| / (1/mi + 1/mj) along its
 * normal, all pairs at once over the 8x8 matrix (row i sums what body i receives; J is symmetric, so momentum is
 * conserved). Returns the new V and each body's fastest approach speed [8,1] among its contacts.
 *
 * A body resting on the floor (`resting`) is held by it in a pair that pushes it down, or when both bodies rest: its
 * vertical response is the floor's and it only slides (inverse mass nx²/m along the normal). So a body landing on a
 * resting one bounces off it instead of pushing it through the floor, and two bodies on the floor pushed together
 * slide apart instead of one hopping onto the other. Where exactly one of the pair is held, the floor's impulse
 * lifts the other, which adds potential energy unless the approach is at least 2·g·dt·ny/(1-e) fast: slower such
 * contacts are inelastic (e = 0). A body sitting on a resting one then stays put: each substep the contact takes
 * back exactly what gravity gave.
 *
 * Several contacts at once (a body landing between two) can sum to more than each alone would give, so the summed
 * impulses D are scaled by λ ≤ 1, the largest scale with ΔE(λ) = λ·Pk + ½λ²·Q ≤ slack, where ΔE counts the kinetic
 * change and the potential energy of the straight move after it (g·dt·Σ m·Dy), and slack is the dissipation of
 * this substep's gravity step. Overlaps are never corrected by moving bodies: a push would add potential energy.
 */
function pairImpulses(n: Net, k: Physics, P: T, V: T, resting: T, slack: T): { V: T; speed: T } {
  const dP = n.sub(n.unsqueeze(P, [0]), n.unsqueeze(P, [1])); // [i,j] = Pj - Pi
  const dV = n.sub(n.unsqueeze(V, [0]), n.unsqueeze(V, [1]));
  const d2 = n.sum(n.mul(dP, dP), [2], false);
  const dot = n.sum(n.mul(dP, dV), [2], false);
  const contact = n.and(n.less(d2, k.contactDist2), n.less(dot, n.f(0))); // overlapping and approaching
  const invDist = n.op('Reciprocal', [n.sqrt(n.max(d2, n.f(1e-12)))]);
  const vn = n.mul(dot, invDist); // normal relative speed, < 0 when approaching
  const nx = n.mul(n.gather(dP, n.i(0), 2), invDist);
  const ny = n.mul(n.gather(dP, n.i(1), 2), invDist);
  const heldB = n.and(resting, n.or(n.greater(ny, n.f(0)), n.transpose(resting, [1, 0])));
  const held = n.cast(heldB, 'float');
  const invMassAlongN = n.mul(k.invMass, n.sub(n.f(1), n.mul(held, n.mul(ny, ny))));
  const invMassPair = n.add(invMassAlongN, n.transpose(invMassAlongN, [1, 0]));
  const lopsided = n.op('Xor', [heldB, n.transpose(heldB, [1, 0])]);
  const e = n.where(n.and(lopsided, n.greater(vn, k.negPairSlow)), n.f(0), k.pairRest);
  // Where() drops the pairs out of contact, whose quotient may be 0/0.
  const J = n.where(contact, n.div(n.mul(n.add(e, n.f(1)), n.neg(vn)), invMassPair), n.f(0));
  const nyFree = n.mul(ny, n.sub(n.f(1), held));
  const D = n.mul(n.concat([n.sum(n.mul(J, nx), [1], true), n.sum(n.mul(J, nyFree), [1], true)], 1), k.negInvMass);
  const Pk = n.sum(n.mul(n.mul(k.mass, n.add(V, k.gravityDt)), D), null, false);
  const Q = n.sum(n.mul(k.mass, n.mul(D, D)), null, false);
  const root = n.add(n.neg(Pk), n.sqrt(n.max(n.add(n.mul(Pk, Pk), n.mul(n.f(2), n.mul(Q, slack))), n.f(0))));
  const lambda = n.min(n.f(1), n.div(root, n.max(Q, n.f(1e-30))));
  return { V: n.add(V, n.mul(lambda, D)), speed: n.maxOver(n.where(contact, n.neg(vn), n.f(0)), [1], true) };
}

/**
 * One substep (README "Physics per substep"). Returns the new P [8,2], V [8,2] and this substep's events [1,8,4].
 *
 * Why the total energy E = Σ m(½|v|² + g·y) never rises:
 * - gravity then a straight move (semi-implicit Euler) changes E by -½·m·g²·dt² per falling body: it dissipates;
 * - pair impulses never spend more than that (see pairImpulses);
 * - positions move in a straight line and reflect at the exact time of impact t_h: the body ends at
 *   y' = r + e·|vy|·(1 - t_h)·dt. Against straight flight that changes E by
 *   -½(1-e²)vy² + (1+e)·g·|vy|·(1-t_h)·dt ≤ -½(1+e)|vy|·((1-e)|vy| - 2·g·dt), negative when |vy| ≥ 2·g·dt/(1-e);
 *   slower bodies come to rest (y = r, vy = 0). Resting can end up to ½·m·g²·dt² above the straight move, so a body
 *   that may come to rest in this substep (within restSpeed·dt of the floor) keeps its own gravity dissipation for
 *   that and does not lend it to the pair impulses;
 * - walls and the ceiling reflect with wall restitution < 1 at the exact time, which only lowers E.
 */
function substep(n: Net, k: Physics, P: T, V: T, s: number): { P: T; V: T; event: T } {
  const py = n.slice(P, 1, 2, 1);
  const vy = n.slice(V, 1, 2, 1);
  // Exactly y = r and vy = 0: set only by the rest rule below, so a resting body is never pulled into the floor.
  const resting = n.and(n.equal(py, k.radius), n.equal(vy, n.f(0)));
  const Vg = n.add(V, n.where(resting, n.f(0), k.gravityStep));
  const lends = n.and(n.not(resting), n.not(n.less(py, k.settleBand)));
  const slack = n.mul(k.halfG2Dt2, n.sum(n.where(lends, k.mass, n.f(0)), null, false));
  const { V: Vb, speed: bodySpeed } = pairImpulses(n, k, P, Vg, resting, slack);

  // Straight move with reflection at the exact time of impact off walls, floor and ceiling, per axis.
  const Vdt = n.mul(Vb, n.f(DT));
  const P1 = n.add(P, Vdt);
  const below = n.less(P1, k.lo);
  const hit = n.or(below, n.greater(P1, k.hi));
  const bound = n.where(below, k.lo, k.hi);
  const th = n.clip(n.div(n.sub(bound, P), n.where(hit, Vdt, n.f(1))), 0, 1); // fraction of the substep at impact
  const Vr = n.mul(Vb, n.where(below, k.negRestLo, k.negRestHi));
  const Pr = n.add(bound, n.mul(Vr, n.mul(n.sub(n.f(1), th), n.f(DT))));
  const speed = n.abs(Vb);
  const settles = n.and(below, n.less(speed, k.restSpeed));
  const Pn = n.where(hit, n.where(settles, k.lo, Pr), P1);
  const Vn = n.where(hit, n.where(settles, n.f(0), Vr), Vb);

  // Events: candidates x-axis hit, y-axis hit, body contact; the fastest one is this body's event in this substep.
  // A wall, floor or ceiling hit sounds on the sample its exact time falls in, floor((s + t_h)·250), at the body's
  // x at that time; a body contact at the substep's start, s·250, at the body's x. Speeds are the normal speed before
  // the impact (relative, for two bodies); below eventMinSpeed nothing is reported.
  const wallSpeed = n.where(n.and(hit, n.greater(speed, n.f(VIDEO.eventMinSpeed))), speed, n.f(0));
  const contactSpeed = n.where(n.greater(bodySpeed, n.f(VIDEO.eventMinSpeed)), bodySpeed, n.f(0));
  const speeds = n.concat([wallSpeed, contactSpeed], 1); // [8,3]
  const wallSample = n.min(n.floor(n.mul(n.add(th, n.f(s)), n.f(SAMPLES_PER_SUBSTEP))), n.f(SAMPLES_PER_FRAME - 1));
  const px = n.slice(P, 0, 1, 1);
  const wallX = n.add(px, n.mul(n.slice(Vb, 0, 1, 1), n.mul(th, n.f(DT))));
  const wallKind = n.where(below, n.tf([1, 2], [2, 1]), n.f(2)); // left wall 2, floor 1; right wall, ceiling 2
  const fields = n.concat(
    [speeds, wallSample, n.tf([B, 1], new Array<number>(B).fill(s * SAMPLES_PER_SUBSTEP)), wallX, px, wallKind, n.tf([B, 1], new Array<number>(B).fill(3))],
    1,
  ); // [8, 12] = speed x3, sample x3, x x3, kind x3
  const masked = n.mul(n.reshape(fields, n.ti([B, 4, 3])), n.unsqueeze(n.cast(n.greater(speeds, n.f(0)), 'float'), [1]));
  const pick = n.expand(n.reshape(n.op('ArgMax', [speeds], { axis: attr.i(1), keepdims: attr.i(1) }), n.ti([B, 1, 1])), n.ti([B, 4, 1]));
  const event = n.reshape(n.op('GatherElements', [masked, pick], { axis: attr.i(2) }), n.ti([1, B, 4]));
  return { P: Pn, V: Vn, event };
}

function physicsConstants(n: Net, bodies: T, world: T, aspect: T): Physics & { activeF: T } {
  const col = (i: number): T => n.slice(bodies, i, i + 1, 1);
  const active = n.greater(col(0), n.f(0.5));
  const activeF = n.cast(active, 'float');
  const radius = col(4);
  const massRaw = n.max(col(5), n.f(1e-6));
  const rest = n.clip(col(6), 0, VIDEO.maxRestitution);
  const g = n.gather(world, n.i(0), 0);
  const wallRest = n.clip(n.gather(world, n.i(1), 0), 0, VIDEO.maxRestitution);
  const gdt = n.mul(g, n.f(DT));
  const column8 = (scalar: T): T => n.expand(scalar, n.ti([B, 1]));
  const far = n.f(1e9);
  const lo = n.where(active, n.concat([radius, radius], 1), n.neg(far));
  const hi = n.where(active, n.concat([n.sub(n.f(1), radius), n.sub(aspect, radius)], 1), far);
  const negWall = column8(n.neg(wallRest));
  const slow = (e: T): T => n.mul(n.div(n.mul(n.f(2), gdt), n.sub(n.f(1), e)), n.f(VIDEO.restMargin));
  const zeros = n.tf([B, 1], new Array<number>(B).fill(0));
  const rowOf = (c: T): T => n.transpose(c, [1, 0]);
  const offDiagonal = n.tf(
    [B, B],
    Array.from({ length: B * B }, (_, i) => (Math.floor(i / B) === i % B ? 0 : 1)),
  );
  const bothActive = n.mul(n.mul(activeF, rowOf(activeF)), offDiagonal);
  const reach = n.add(radius, rowOf(radius));
  const pairRest = n.min(rest, rowOf(rest));
  const mass = n.mul(massRaw, activeF);
  const invMass = n.op('Reciprocal', [massRaw]);
  return {
    activeF,
    radius,
    lo,
    hi,
    negRestLo: n.concat([negWall, n.neg(rest)], 1),
    negRestHi: n.concat([negWall, negWall], 1),
    restSpeed: n.concat([zeros, slow(rest)], 1),
    settleBand: n.add(radius, n.mul(slow(rest), n.f(1.1 * DT))),
    gravityStep: n.concat([zeros, n.mul(n.neg(gdt), activeF)], 1),
    contactDist2: n.where(n.greater(bothActive, n.f(0.5)), n.mul(reach, reach), n.f(-1)),
    pairRest,
    negPairSlow: n.neg(slow(pairRest)),
    invMass,
    negInvMass: n.neg(invMass),
    mass,
    gravityDt: n.concat([n.tf([1, 1], [0]), n.reshape(gdt, n.ti([1, 1]))], 1),
    halfG2Dt2: n.mul(n.f(0.5), n.mul(gdt, gdt)),
  };
}

/** The frame's width and height in pixels and its aspect (height / width), as float32 scalars. */
interface FrameSize {
  width: T;
  height: T;
  aspect: T;
}

/** Per-chunk rendering constants (outside the frame loop). Pixel planes are flattened to HW = H·W. */
interface Render {
  width: T;
  height: T;
  aspect: T;
  /** [W] and [H] pixel-centre coordinates. */
  xLine: T;
  yLine: T;
  /** Shapes [3,H,W], [H,W], [3,HW], [1,HW]. */
  shapeCHW: T;
  shapeHW: T;
  shape3HW: T;
  shape1HW: T;
  /** [K] int64: the active bodies, front (highest index, drawn last) to back, and K. */
  order: T;
  count: T;
  /** [3,K] their colours after the style's colour matrix, in `order`; the cameo body's zeroed (its texture replaces it). */
  colours: T;
  /** [2,3,HW] (a backdrop) or [2,3,1] (a plain colour): background without / with the strobe flash, after the colour matrix. */
  backgrounds: T;
  strobeHz: T;
  strobeOn: T;
  /** [1,HW] per-pixel gain and offset in 0..255 units: vignette and contrast of the style, offset + 0.5 for rounding. */
  gain: T;
  offset: T;
  /** [3] channel indices of the output: noir repeats channel 0 so r == g == b holds exactly. */
  channels: T;
  isAnime: T;
  isPan: T;
  isZoom: T;
  /** Whether cameo_body names an active body; its index, and its position in `order`. */
  hasCameo: T;
  cameoBody: T;
  cameoRank: T;
  /** [3,1024] cameo texture, channels first, after the colour matrix. */
  texture: T;
}

const LUMA = [0.2126, 0.7152, 0.0722];

/** Colour matrices c·M per style: cinematic a slight warm grade, anime as is, noir luminance in every channel. */
const STYLE_MATRIX = [[1.04, 0, 0, 0.01, 1, 0, 0, 0, 0.93], [1, 0, 0, 0, 1, 0, 0, 0, 1], LUMA.flatMap((l) => [l, l, l])];
const STYLE_VIGNETTE = [0.3, 0, 0.55];
const STYLE_GAIN = [1, 1, 1.6];
const STYLE_OFFSET = [0, 0, -0.3];

function renderConstants(n: Net, names: Names, inputs: Record<string, T>, size: FrameSize, activeF: T): Render {
  const { width, height, aspect } = size;
  const wv = n.reshape(inputs.width!, n.ti([1]));
  const hv = n.reshape(inputs.height!, n.ti([1]));
  const xLine = n.op('Range', [n.f(0.5), n.add(width, n.f(0.5)), n.f(1)]); // [W]
  const yLine = n.op('Range', [n.f(0.5), n.add(height, n.f(0.5)), n.f(1)]); // [H]
  const shapeCHW = n.concat([n.ti([3]), hv, wv], 0);
  const style = n.op('Clip', [inputs.style!, n.i(0), n.i(2)]);
  const pick = (values: number[]): T => n.gather(n.tf([3], values), style, 0);
  const M = n.gather(n.tf([3, 3, 3], STYLE_MATRIX.flat()), style, 0); // [3,3]
  const MT = n.transpose(M, [1, 0]);
  const isAnime = n.equal(style, n.i(1));

  // Body colours: anime posterizes them to 5 levels a channel; the cameo body's row is zeroed (texture instead).
  const raw = n.slice(inputs.bodies!, 1, 4, 1); // [8,3]
  const posterized = n.div(n.floor(n.add(n.mul(raw, n.f(4)), n.f(0.5))), n.f(4));
  const flat = n.where(isAnime, posterized, raw);
  const cameoBody = inputs.cameo_body!;
  const notCameo = n.cast(n.not(n.equal(n.ti([0, 1, 2, 3, 4, 5, 6, 7], [B, 1]), cameoBody)), 'float');
  // Only active bodies get per-pixel work. NonZero over the reversed flags lists them front to back.
  const activeVec = n.reshape(activeF, n.ti([B]));
  const order = n.sub(n.i(B - 1), n.reshape(n.op('NonZero', [n.gather(activeVec, n.ti([7, 6, 5, 4, 3, 2, 1, 0]), 0)]), n.ti([-1])));
  const colours = n.gather(n.transpose(n.mul(n.matmul(flat, M), notCameo), [1, 0]), order, 1);
  const inRange = n.and(n.greater(cameoBody, n.i(-1)), n.less(cameoBody, n.i(B)));
  const hasCameo = n.and(inRange, n.greater(n.gather(activeVec, n.op('Clip', [cameoBody, n.i(0), n.i(B - 1)]), 0), n.f(0.5)));
  const above = n.cast(n.greater(n.tf([B], [0, 1, 2, 3, 4, 5, 6, 7]), n.cast(cameoBody, 'float')), 'float');
  const cameoRank = n.cast(n.sum(n.mul(activeVec, above), null, false), 'int64');

  // Background: plain colour, or the backdrop resized to H x W and blended by backdrop_weight.
  const world = inputs.world!;
  const plain = n.reshape(n.slice(world, 4, 7, 0), n.ti([3, 1]));
  const weight = inputs.backdrop_weight!;
  const hw = n.mul(inputs.height!, inputs.width!);
  const shape3HW = n.concat([n.ti([3]), n.reshape(hw, n.ti([1]))], 0);
  const base = ifThen(
    n,
    names,
    n.greater(weight, n.f(0)),
    'float',
    (b) => {
      const nchw = b.unsqueeze(b.transpose(inputs.backdrop!, [2, 0, 1]), [0]);
      const sizes = b.concat([b.ti([1, 3]), hv, wv], 0);
      const resized = b.op('Resize', [nchw, '', '', sizes], {
        mode: attr.s('linear'),
        coordinate_transformation_mode: attr.s('half_pixel'),
      });
      const image = b.reshape(b.clip(resized, 0, 1), shape3HW);
      return b.add(plain, b.mul(weight, b.sub(image, plain)));
    },
    // A plain background stays [3,1]: every per-frame use broadcasts it, so it costs no pass over the frame.
    () => plain,
  );
  // The flash goes towards white on a dark background and towards black on a light one, so the frame's mean
  // luminance swings by about `amount` and a general-flash detector sees it.
  const meanLuma = n.mean(n.matmul(n.tf([1, 3], LUMA), base));
  const target = n.cast(n.less(meanLuma, n.f(0.5)), 'float');
  const amount = n.clip(n.gather(world, n.i(3), 0), 0, 1);
  const strobeHz = n.gather(world, n.i(2), 0);
  const flashed = n.add(base, n.mul(amount, n.sub(target, base)));
  const backgrounds = n.concat([n.unsqueeze(n.matmul(MT, base), [0]), n.unsqueeze(n.matmul(MT, flashed), [0])], 0);
  const strobeOn = n.cast(n.and(n.greater(strobeHz, n.f(0)), n.greater(amount, n.f(0))), 'float');

  // Vignette and contrast: out = (c·gain + offset)·vignette, in 0..255 units.
  const nx = n.div(n.sub(xLine, n.mul(width, n.f(0.5))), n.mul(width, n.f(0.5)));
  const ny = n.div(n.sub(yLine, n.mul(height, n.f(0.5))), n.mul(height, n.f(0.5)));
  const rr = n.add(n.unsqueeze(n.mul(nx, nx), [0]), n.unsqueeze(n.mul(ny, ny), [1])); // [H,W], 2 in the corners
  const vignette = n.reshape(n.sub(n.f(1), n.mul(n.mul(pick(STYLE_VIGNETTE), n.f(0.5)), rr)), n.ti([1, -1]));
  const gain = n.mul(vignette, n.mul(pick(STYLE_GAIN), n.f(255)));
  const offset = n.add(n.mul(vignette, n.mul(pick(STYLE_OFFSET), n.f(255))), n.f(0.5));
  const channels = n.gather(n.ti([0, 1, 2, 0, 1, 2, 0, 0, 0], [3, 3]), style, 0);

  const texture = n.matmul(MT, n.transpose(n.reshape(inputs.cameo_texture!, n.ti([TEXTURE * TEXTURE, 3])), [1, 0]));
  const camera = inputs.camera!;
  return {
    width,
    height,
    aspect,
    xLine,
    yLine,
    shapeCHW,
    shapeHW: n.concat([hv, wv], 0),
    shape3HW,
    shape1HW: n.concat([n.ti([1]), n.reshape(hw, n.ti([1]))], 0),
    order,
    count: n.op('Size', [order]),
    colours,
    backgrounds,
    strobeHz,
    strobeOn,
    gain,
    offset,
    channels,
    isAnime,
    isPan: n.cast(n.equal(camera, n.i(1)), 'float'),
    isZoom: n.cast(n.equal(camera, n.i(2)), 'float'),
    hasCameo,
    cameoBody,
    cameoRank,
    texture,
  };
}

/**
 * The active bodies over a transparent background: colour [3,HW] (premultiplied by coverage) and the share of the
 * background [1,HW]. cx, cy, rpx [8,1] are every body's pixel centre and radius.
 *
 * One loop step per active body, front to back (painter's order reversed): weight_k = shaded_k · Π_{j<k}(1 - cover_j)
 * and the product carried on. A disc's coverage comes from its signed distance linearised at the rim,
 * sd = (r² - d²)/(2r) ≈ r - d: exact to a small fraction of a pixel across the anti-aliased edge, and a sum of a
 * row term and a column term, so each body costs a handful of passes over the frame (no square root, no [K,H,W]).
 */
function paintBodies(n: Net, names: Names, c: Render, cx: T, cy: T, rpx: T): T[] {
  const step = n.g.subgraph('paint');
  const s = new Net(step);
  const k = step.input(names.next('k'), 'int64', []);
  const cond = step.input(names.next('paint_cond'), 'bool', []);
  const through = step.input(names.next('through'), 'float', ['H', 'W']);
  const body = s.gather(c.order, k, 0);
  const at = (v: T): T => s.gather(s.reshape(v, s.ti([B])), body, 0);
  const r = s.max(at(rpx), s.f(0.5));
  const dx = s.sub(c.xLine, at(cx)); // [W]
  const dy = s.reshape(s.sub(c.yLine, at(cy)), s.ti([-1, 1])); // [H,1]
  const invTwoR = s.div(s.f(0.5), r);
  // S = sd + 0.5: coverage before clipping.
  const S = s.add(s.sub(s.add(s.mul(r, s.f(0.5)), s.f(0.5)), s.mul(s.mul(dx, dx), invTwoR)), s.neg(s.mul(s.mul(dy, dy), invTwoR)));
  const cover = s.clip(S, 0, 1);
  const shaded = ifThen(
    s,
    names,
    c.isAnime,
    'float',
    // Anime: flat colour inside a dark outline ring about 1/160 of the width thick (1 - 0.85 at the rim).
    (b) => {
      const ring = b.max(b.div(c.width, b.f(160)), b.f(1.5));
      const offset = b.sub(b.f(1 - 0.85 * 0.5), b.mul(b.f(0.85), ring));
      return b.mul(cover, b.clip(b.add(b.mul(S, b.f(0.85)), offset), 0.15, 1));
    },
    // Cinematic and noir: a soft highlight towards the upper left, separable as fx(u) + fy(v) over the disc.
    (b) => {
      const lit = (d: T): T => {
        const u = b.add(b.div(d, r), b.f(0.35));
        return b.sub(b.f(0.55), b.mul(b.f(0.35), b.mul(u, u)));
      };
      return b.mul(cover, b.add(lit(dx), lit(dy)));
    },
  );
  step.output(names.next('paint_cond_out'), s.op('Identity', [cond]), 'bool', []);
  step.output(names.next('through_out'), s.sub(through, s.mul(cover, through)), 'float', ['H', 'W']);
  step.output(names.next('weight_out'), s.mul(shaded, through), 'float', ['H', 'W']);
  const [left, weights] = n.g.opN('Loop', [c.count, '', n.expand(n.f(1), c.shapeHW)], { body: attr.g(step) }, 2);
  const W = n.reshape(weights!, n.ti([0, -1])); // [K,HW]
  const colour = ifThen(
    n,
    names,
    c.hasCameo,
    'float',
    (b) => {
      // The cameo body's row of `colours` is zero; it adds its texture here instead: the nearest texel of the 32x32
      // texture spread over the disc's bounding square, row 0 at the top. Only that square (clamped to the frame,
      // at least one pixel) is sampled, then padded out to the frame: the texture costs no pass over the whole frame.
      const at = (v: T): T => b.gather(b.reshape(v, b.ti([B])), c.cameoBody, 0);
      const radius = b.max(at(rpx), b.f(0.5));
      // [first, last) pixels and the count after them, as int64, all from the float size: the int64 inputs used in
      // this subgraph beside their float casts make onnxruntime's optimizer warn on every session it loads.
      const span = (centre: T, size: T): [T, T, T] => {
        const first = b.op('Clip', [b.floor(b.sub(centre, b.add(radius, b.f(1)))), b.f(0), b.sub(size, b.f(1))]);
        const last = b.op('Clip', [b.op('Ceil', [b.add(centre, b.add(radius, b.f(1)))]), b.add(first, b.f(1)), size]);
        return [b.cast(first, 'int64'), b.cast(last, 'int64'), b.cast(b.sub(size, last), 'int64')];
      };
      const [x0, x1, xAfter] = span(at(cx), c.width);
      const [y0, y1, yAfter] = span(at(cy), c.height);
      const one = (v: T): T => b.reshape(v, b.ti([1]));
      const box = (v: T): T => b.op('Slice', [v, b.concat([one(y0), one(x0)], 0), b.concat([one(y1), one(x1)], 0), b.ti([0, 1])]);
      const line = (v: T, first: T, last: T): T => b.op('Slice', [v, one(first), one(last), b.ti([0])]);
      const texel = (pixels: T, centre: T): T =>
        b.cast(b.clip(b.floor(b.mul(b.div(b.sub(pixels, b.sub(at(centre), radius)), b.mul(radius, b.f(2))), b.f(TEXTURE))), 0, TEXTURE - 1), 'int64');
      const cols = texel(b.reshape(line(c.xLine, x0, x1), b.ti([1, -1])), cx);
      const rows = texel(b.reshape(line(c.yLine, y0, y1), b.ti([-1, 1])), cy);
      const sampled = b.gather(c.texture, b.add(b.mul(rows, b.i(TEXTURE)), cols), 1); // [3,bh,bw]
      const weight = box(b.reshape(b.gather(W, c.cameoRank, 0), c.shapeHW)); // [bh,bw]
      const zero = b.ti([0]);
      const pads = b.concat([zero, one(y0), one(x0), zero, one(yAfter), one(xAfter)], 0);
      const texture = b.reshape(b.op('Pad', [b.mul(sampled, weight), pads]), c.shape3HW);
      return b.add(b.matmul(c.colours, W), texture);
    },
    (b) => b.matmul(c.colours, W),
  );
  return [colour, n.reshape(left!, n.ti([1, -1]))];
}

/**
 * One frame [H,W,3] uint8 of the state P at global frame `frame` (the picture at t = frame/24; the substeps after it
 * happen during the frame, so a collision's sound never precedes the frame that shows it coming).
 */
function renderFrame(n: Net, names: Names, c: Render, radius: T, P: T, frame: T): T {
  const TAU = 2 * Math.PI;
  // Camera phases from the integer frame modulo the period: exactly periodic and free of float growth over time.
  const phase = (period: number): T => n.mul(n.div(n.cast(n.op('Mod', [frame, n.i(period)]), 'float'), n.f(period)), n.f(TAU));
  const pan = n.mul(c.isPan, n.mul(n.f(VIDEO.panAmplitude), n.sin(phase(VIDEO.panPeriodFrames))));
  const zoom = n.add(n.f(1), n.mul(c.isZoom, n.mul(n.f(VIDEO.zoomAmount / 2), n.sub(n.f(1), n.cos(phase(VIDEO.zoomPeriodFrames))))));
  const scale = n.mul(zoom, c.width); // pixels per world unit
  const x = n.slice(P, 0, 1, 1);
  const y = n.slice(P, 1, 2, 1);
  // Zoom about the frame's centre; pan shifts the world horizontally. y is up in the world, down in pixels.
  const cx = n.add(n.mul(scale, n.sub(x, n.add(n.f(0.5), pan))), n.mul(c.width, n.f(0.5)));
  const cy = n.add(n.mul(c.height, n.f(0.5)), n.mul(scale, n.sub(n.mul(c.aspect, n.f(0.5)), y)));
  const rpx = n.mul(scale, radius);
  // Per-pixel work only for the active bodies, front to back (`order`); with none, the frame is the background.
  const [colour, through] = ifThenMany(
    n,
    names,
    n.greater(c.count, n.i(0)),
    ['float', 'float'],
    (b) => paintBodies(b, names, c, cx, cy, rpx),
    (b) => [b.expand(b.f(0), c.shape3HW), b.expand(b.f(1), c.shape1HW)],
  );
  // Strobe: a square wave of global time, on in every odd half period (floor(hz·t·2) odd, t = frame/24).
  const halfPeriods = n.floor(n.div(n.mul(c.strobeHz, n.cast(frame, 'float')), n.f(FPS / 2)));
  const odd = n.sub(halfPeriods, n.mul(n.f(2), n.floor(n.div(halfPeriods, n.f(2)))));
  const flash = n.cast(n.mul(odd, c.strobeOn), 'int64');
  const background = n.gather(c.backgrounds, flash, 0); // [3,HW] or [3,1]
  const lit = n.add(colour!, n.mul(through!, background));
  const bytes = n.cast(n.clip(n.add(n.mul(lit, c.gain), c.offset), 0, 255.5), 'uint8'); // truncation of x+0.5: rounding
  const chw = n.reshape(n.gather(bytes, c.channels, 0), c.shapeCHW);
  return n.transpose(chw, [1, 2, 0]);
}

export function buildVideoModel(): Uint8Array {
  const g = new GraphBuilder('reference_video');
  const n = new Net(g);
  const names = new Names();
  const inputs: Record<string, T> = {
    bodies: g.input('bodies', 'float', [B, 8]),
    world: g.input('world', 'float', [8]),
    state_in: g.input('state_in', 'float', [B, 4]),
    start_frame: g.input('start_frame', 'int64', []),
    num_frames: g.input('num_frames', 'int64', []),
    height: g.input('height', 'int64', []),
    width: g.input('width', 'int64', []),
    style: g.input('style', 'int64', []),
    camera: g.input('camera', 'int64', []),
    cameo_texture: g.input('cameo_texture', 'float', [TEXTURE, TEXTURE, 3]),
    cameo_body: g.input('cameo_body', 'int64', []),
    backdrop: g.input('backdrop', 'float', ['BH', 'BW', 3]),
    backdrop_weight: g.input('backdrop_weight', 'float', []),
  };
  // The frame size as floats, cast once and shared by physics and rendering.
  const width = n.cast(inputs.width!, 'float');
  const height = n.cast(inputs.height!, 'float');
  const size: FrameSize = { width, height, aspect: n.div(height, width) };
  const physics = physicsConstants(n, inputs.bodies!, inputs.world!, size.aspect);
  const render = renderConstants(n, names, inputs, size, physics.activeF);
  const P0 = n.slice(inputs.state_in!, 0, 2, 1);
  // Inactive bodies never move: their velocities are dropped here once.
  const V0 = n.mul(n.slice(inputs.state_in!, 2, 4, 1), physics.activeF);

  // The frame loop: carried P, V [8,2]; scanned frame [H,W,3] and events [8,8,4].
  const body = g.subgraph('frame');
  const b = new Net(body);
  const iter = body.input(names.next('iter'), 'int64', []);
  const cond = body.input(names.next('cond'), 'bool', []);
  let P = body.input(names.next('P'), 'float', [B, 2]);
  let V = body.input(names.next('V'), 'float', [B, 2]);
  const frame = b.add(inputs.start_frame!, iter);
  const image = renderFrame(b, names, render, physics.radius, P, frame);
  const events: T[] = [];
  for (let s = 0; s < SUBSTEPS; s++) {
    const next = substep(b, physics, P, V, s);
    P = next.P;
    V = next.V;
    events.push(next.event);
  }
  body.output(names.next('cond_out'), b.op('Identity', [cond]), 'bool', []);
  body.output(names.next('P_out'), P, 'float', [B, 2]);
  body.output(names.next('V_out'), V, 'float', [B, 2]);
  body.output(names.next('frame_out'), image, 'uint8', ['H', 'W', 3]);
  body.output(names.next('events_out'), b.concat(events, 0), 'float', [SUBSTEPS, B, 4]);

  const [Pf, Vf, frames, eventTrack] = g.opN('Loop', [inputs.num_frames!, '', P0, V0], { body: attr.g(body) }, 4);
  g.output('frames', frames!, 'uint8', ['F', 'H', 'W', 3]);
  g.output('state_out', n.concat([Pf!, Vf!], 1), 'float', [B, 4]);
  g.output('events', eventTrack!, 'float', ['F', SUBSTEPS, B, 4]);
  return encodeModel(g, 'reelforge reference video: bodies under gravity, rendered with a style and a camera; exact-time collisions as events');
}
