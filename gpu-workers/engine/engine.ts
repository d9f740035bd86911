// The inference engine: loads a model pack on the chosen execution provider, validates render requests, and runs the
// pack's three graphs (prompt → scene, scene + state → frames and event track, event track → audio), and with
// UPSCALER=on its upscaler for the sizes it lists (rendered smaller, then upscaled).
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { Config, InferenceEp } from '../../infra/config';
import type { Logger } from '../../infra/logger';
import { MODELS_DIR, packDirOf } from '../../infra/modelPacks';
import { InvalidRenderInput, ModelPackMismatch } from './errors';
import { evalShape, formatShape, loadModelPack, parseSize, tensorSpec, type GraphName, type LoadedModelPack, type ModelPackManifest } from './manifest';
import { chooseProvider, sessionPool, type ExecutionProvider, type SessionPool } from './sessions';
import { tokenize, validatePrompt } from './tokenizer';
import { loadUpscaler, upscaleFrames, type LoadedUpscaler } from './upscaler';
import type { VocabEntry } from './vocabulary';

export { MODELS_DIR, packDirOf };

/** Frames one chunk may hold: 10 s at 24 fps keeps a 1792x1024 chunk near 1.3 GB of RGB. */
export const MAX_CHUNK_FRAMES = 240;
/** Global audio sample indices ((start_frame + f) * samples_per_frame) must stay within int32 inside the graphs. */
const MAX_SEED = 2 ** 31 - 1;
/** A backdrop is resized inside the graph; 2048 a side keeps its one-time conversion to floats near 10 ms. */
const BACKDROP_MAX_SIDE = 2048;

/**
 * What text.onnx made of a prompt. Plain number arrays (each value exactly a float32), so a scene survives JSON and
 * Temporal payloads unchanged and the next chunk, on any worker, renders from the same numbers.
 */
export interface Scene {
  /** `name@version` of the pack that made it: another pack's graphs would read the numbers differently. */
  pack: string;
  seed: number;
  width: number;
  height: number;
  bodies: number[];
  initialState: number[];
  world: number[];
  ambient: number[];
}

export interface Cameo {
  /** 32 x 32 x 3 RGB, row-major, values 0..1. */
  texture: ArrayLike<number>;
  /** Harmonic weights of the voice timbre, finite. */
  voice: ArrayLike<number>;
  /** The body that wears it; by default the largest active body, so the likeness gets the most pixels. */
  body?: number;
}

export interface Backdrop {
  width: number;
  height: number;
  /** RGB row-major: bytes 0..255, or floats 0..1. */
  rgb: Uint8Array | Float32Array;
  /** 0 = plain background, 1 = the backdrop replaces it (default 1). */
  weight?: number;
}

export interface VideoChunkRequest {
  scene: Scene;
  /** `scene.initialState` for the first chunk, else the previous chunk's `state`. */
  state: ArrayLike<number>;
  startFrame: number;
  numFrames: number;
  size: string;
  style: string;
  camera: string;
  cameo?: Cameo;
  backdrop?: Backdrop;
}

export interface VideoChunk {
  /** RGB, F x H x W x 3. */
  frames: Uint8Array;
  /** F x (per-frame event block), see the pack's README. */
  events: Float32Array;
  /** Physics state after the last frame: the next chunk's `state`. */
  state: Float32Array;
  numFrames: number;
  width: number;
  height: number;
}

export interface AudioChunkRequest {
  scene: Scene;
  /** The event track of the `audio_carry_frames` frames before the chunk, then the chunk's own: see `eventWindow`. */
  events: Float32Array;
  startFrame: number;
  numFrames: number;
  cameo?: Cameo;
}

export interface ProviderReport {
  requested: InferenceEp;
  provider: ExecutionProvider;
  threads: number;
  rejected: { provider: ExecutionProvider; reason: string }[];
  warmUpMs: number;
}

export interface Engine {
  /** `vocabulary`: the words' scene features the pack ships (remixing reads them), if any. */
  readonly pack: { name: string; version: string; dir: string; manifest: ModelPackManifest; vocabulary?: readonly VocabEntry[] };
  readonly provider: ExecutionProvider;
  readonly report: ProviderReport;
  /** The upscaler in use (UPSCALER=on): the sizes it serves render at 1/scale of their sides. */
  readonly upscaler?: { model: string; scale: number; sizes: readonly string[] };
  describeScene(prompt: string, seed: number, size: string): Promise<Scene>;
  renderVideoChunk(request: VideoChunkRequest): Promise<VideoChunk>;
  /** Interleaved stereo, numFrames x samples_per_frame x 2 floats in -1..1. */
  renderAudioChunk(request: AudioChunkRequest): Promise<Float32Array>;
  /** Builds the audio graph's event window from the event track before the chunk and the chunk's own. */
  eventWindow(previous: Float32Array | undefined, current: Float32Array, startFrame: number): Float32Array;
  close(): Promise<void>;
}

export interface EngineOptions {
  config: Pick<Config, 'inferenceEp' | 'inferenceThreads' | 'modelPack'> & Partial<Pick<Config, 'upscaler'>>;
  logger: Logger;
  /** Overrides config.inferenceEp (the bench runs every provider in one process). */
  provider?: InferenceEp;
  /** Overrides config.inferenceThreads. */
  threads?: number;
  /** Overrides the pack folder that config.modelPack names. */
  packDir?: string;
  /** Overrides config.upscaler (the bench renders with and without it in one process). */
  upscale?: boolean;
  pool?: SessionPool;
}

/** Loads the pack on the configured provider (auto: the best that works), renders a warm-up chunk, and is ready. */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  const pool = options.pool ?? sessionPool;
  const dir = options.packDir ?? packDirOf(options.config.modelPack);
  const threads = options.threads ?? options.config.inferenceThreads;
  const requested = options.provider ?? options.config.inferenceEp;
  const upscale = options.upscale ?? options.config.upscaler === 'on';
  const logger = options.logger.child({ component: 'inference' });

  const open = async (provider: ExecutionProvider): Promise<{ runner: PackRunner; warmUpMs: number }> => {
    const opened: string[] = [];
    const release = () => Promise.all(opened.map((file) => pool.release(file, provider, threads)));
    try {
      const acquire = async (file: string) => {
        const session = await pool.acquire(file, provider, threads);
        opened.push(file);
        return session;
      };
      const loaded = await loadModelPack(dir, (_graph, file) => acquire(file));
      const upscaler = upscale ? await loadUpscaler(dir, loaded.manifest, acquire) : undefined;
      const runner = new PackRunner(loaded, release, upscaler);
      const warmUpMs = await runner.warmUp();
      return { runner, warmUpMs };
    } catch (err) {
      await release();
      throw err;
    }
  };
  // A pack that does not match its manifest is wrong on every provider: report that, rather than try the next one.
  const fatal = (err: unknown) => err instanceof ModelPackMismatch || err instanceof InvalidRenderInput;
  const choice = await chooseProvider(requested, open, logger, { fatal });
  const { runner, warmUpMs } = choice.value;
  const report: ProviderReport = { requested, provider: choice.provider, threads, rejected: choice.rejected, warmUpMs };
  const m = runner.manifest;
  const upscaler = runner.upscaler && { model: runner.upscaler.spec.model, scale: runner.upscaler.spec.scale, sizes: runner.upscaler.spec.sizes };
  logger.info({ pack: `${m.name}@${m.version}`, provider: choice.provider, threads, warmUpMs: Math.round(warmUpMs), upscaler }, 'inference engine ready');
  return {
    pack: { name: m.name, version: m.version, dir, manifest: m, ...(runner.features ? { vocabulary: runner.features } : {}) },
    provider: choice.provider,
    report,
    ...(upscaler ? { upscaler } : {}),
    describeScene: (prompt, seed, size) => runner.describeScene(prompt, seed, size),
    renderVideoChunk: (request) => runner.renderVideoChunk(request),
    renderAudioChunk: (request) => runner.renderAudioChunk(request),
    eventWindow: (previous, current, startFrame) => runner.eventWindow(previous, current, startFrame),
    close: () => runner.close(),
  };
}

const int64 = (value: number) => new ort.Tensor('int64', BigInt64Array.of(BigInt(value)), []);
const float32 = (value: number) => new ort.Tensor('float32', Float32Array.of(value), []);

/** Runs one loaded pack: all the per-request validation and tensor plumbing. */
class PackRunner {
  readonly manifest: ModelPackManifest;
  readonly features: readonly VocabEntry[] | undefined;
  private readonly packId: string;
  private readonly sessions: Record<GraphName, ort.InferenceSession>;
  private readonly vocab: string[];
  private readonly sizes: Map<string, { width: number; height: number }>;
  /** Floats per frame of the event track (8 substeps x 8 bodies x 4 in the reference pack). */
  private readonly frameEventSize: number;
  private readonly shapes: Record<'bodies' | 'state' | 'world' | 'ambient' | 'texture' | 'voice', number[]>;
  private readonly backdropCache = new WeakMap<Uint8Array | Float32Array, Float32Array>();
  private closed = false;

  constructor(
    loaded: LoadedModelPack,
    private readonly releaseSessions: () => Promise<unknown>,
    readonly upscaler?: LoadedUpscaler,
  ) {
    this.manifest = loaded.manifest;
    this.packId = `${loaded.manifest.name}@${loaded.manifest.version}`;
    this.sessions = loaded.sessions;
    this.vocab = loaded.vocab;
    this.features = loaded.features;
    this.sizes = new Map(this.manifest.resolutions.map((r) => [r, parseSize(r)!]));
    const fixed = (g: GraphName, kind: 'inputs' | 'outputs', name: string) => tensorSpec(this.manifest, g, kind, name).shape as number[];
    this.frameEventSize = product(fixed('video', 'outputs', 'events').slice(1));
    this.shapes = {
      bodies: fixed('text', 'outputs', 'bodies'),
      state: fixed('text', 'outputs', 'initial_state'),
      world: fixed('text', 'outputs', 'world'),
      ambient: fixed('text', 'outputs', 'ambient'),
      texture: [...this.manifest.cameo.texture],
      voice: [...this.manifest.cameo.voice],
    };
  }

  /** One tiny chunk through all three graphs, so the first real request does not pay for kernel and buffer setup. */
  async warmUp(): Promise<number> {
    const started = performance.now();
    const size = this.manifest.resolutions.reduce((a, b) => (area(this.sizes.get(a)!) <= area(this.sizes.get(b)!) ? a : b));
    const scene = await this.describeScene('a red ball bounces', 1, size);
    const video = await this.renderVideoChunk({
      scene,
      state: scene.initialState,
      startFrame: 0,
      numFrames: 1,
      size,
      style: this.manifest.styles[0]!,
      camera: this.manifest.cameras[0]!,
    });
    await this.renderAudioChunk({ scene, events: this.eventWindow(undefined, video.events, 0), startFrame: 0, numFrames: 1 });
    // A tiny frame: enough to set up the upscaler's kernels without paying for a large frame at every start.
    if (this.upscaler) await upscaleFrames(this.upscaler, new Uint8Array(8 * 8 * 3), 1, 8, 8);
    return performance.now() - started;
  }

  async describeScene(prompt: string, seed: number, size: string): Promise<Scene> {
    this.ensureOpen();
    const text = validatePrompt(prompt);
    checkInteger('seed', seed, 0, MAX_SEED);
    const { width, height } = this.size(size);
    const tokens = tokenize(text, this.vocab);
    const tokenShape = tensorSpec(this.manifest, 'text', 'inputs', 'tokens').shape as number[];
    if (tokens.length !== product(tokenShape)) {
      throw new ModelPackMismatch(this.manifest.name, `the tokenizer gave ${tokens.length} tokens, text.onnx takes ${formatShape(tokenShape)}`);
    }
    const out = await this.run('text', {
      tokens: new ort.Tensor('int64', tokens, tokenShape),
      seed: int64(seed),
      aspect: float32(height / width),
    });
    // -0 becomes 0 here because JSON (and so a Temporal payload) would make it 0 anyway: a scene rendered in this
    // process and one that went through a workflow must be the same numbers.
    const plain = (t: ort.Tensor) => Array.from(t.data as Float32Array, (v) => v + 0);
    return {
      pack: this.packId,
      seed,
      width,
      height,
      bodies: plain(out.bodies!),
      initialState: plain(out.initial_state!),
      world: plain(out.world!),
      ambient: plain(out.ambient!),
    };
  }

  async renderVideoChunk(req: VideoChunkRequest): Promise<VideoChunk> {
    this.ensureOpen();
    const scene = this.checkScene(req.scene);
    const { width, height } = this.size(req.size);
    if (width * scene.height !== height * scene.width) {
      throw new InvalidRenderInput('size', `${req.size} has another aspect than the scene, which was described for ${scene.width}x${scene.height}`);
    }
    const style = this.indexOf('style', req.style, this.manifest.styles);
    const camera = this.indexOf('camera', req.camera, this.manifest.cameras);
    this.checkFrames(req.startFrame, req.numFrames);
    const state = floats('state', req.state, product(this.shapes.state));
    const cameoBody = req.cameo ? this.cameoBody(scene, req.cameo) : -1;
    const texture = req.cameo ? unitFloats('cameo.texture', req.cameo.texture, product(this.shapes.texture)) : new Float32Array(product(this.shapes.texture));
    if (req.cameo) floats('cameo.voice', req.cameo.voice, product(this.shapes.voice));
    const backdrop = req.backdrop ? this.backdrop(req.backdrop) : { data: new Float32Array(3), dims: [1, 1, 3], weight: 0 };
    // A size the upscaler serves renders at 1/scale of its sides (world coordinates are fractions of the width, so the
    // scene is the same picture with fewer pixels) and is upscaled to the size asked for.
    const scale = this.upscaler?.spec.sizes.includes(req.size) ? this.upscaler.spec.scale : 1;
    const renderHeight = height / scale;
    const renderWidth = width / scale;

    const out = await this.run(
      'video',
      {
        bodies: new ort.Tensor('float32', Float32Array.from(scene.bodies), this.shapes.bodies),
        world: new ort.Tensor('float32', Float32Array.from(scene.world), this.shapes.world),
        state_in: new ort.Tensor('float32', state, this.shapes.state),
        start_frame: int64(req.startFrame),
        num_frames: int64(req.numFrames),
        height: int64(renderHeight),
        width: int64(renderWidth),
        style: int64(style),
        camera: int64(camera),
        cameo_texture: new ort.Tensor('float32', texture, this.shapes.texture),
        cameo_body: int64(cameoBody),
        backdrop: new ort.Tensor('float32', backdrop.data, backdrop.dims),
        backdrop_weight: float32(backdrop.weight),
      },
      { F: req.numFrames, H: renderHeight, W: renderWidth },
    );
    const rendered = out.frames!.data as Uint8Array;
    return {
      frames: scale === 1 ? rendered : await upscaleFrames(this.upscaler!, rendered, req.numFrames, renderHeight, renderWidth),
      events: out.events!.data as Float32Array,
      state: out.state_out!.data as Float32Array,
      numFrames: req.numFrames,
      width,
      height,
    };
  }

  async renderAudioChunk(req: AudioChunkRequest): Promise<Float32Array> {
    this.ensureOpen();
    const scene = this.checkScene(req.scene);
    this.checkFrames(req.startFrame, req.numFrames);
    const carry = this.manifest.audio_carry_frames;
    const frames = carry + req.numFrames;
    if (!(req.events instanceof Float32Array) || req.events.length !== frames * this.frameEventSize) {
      throw new InvalidRenderInput(
        'events',
        `expected a Float32Array of ${frames} frames (${carry} carried + ${req.numFrames}) x ${this.frameEventSize} = ${frames * this.frameEventSize} values, got ${describeLength(req.events)}`,
      );
    }
    const cameoBody = req.cameo ? this.cameoBody(scene, req.cameo) : -1;
    const voice = req.cameo ? floats('cameo.voice', req.cameo.voice, product(this.shapes.voice)) : new Float32Array(product(this.shapes.voice));
    const eventDims = [frames, ...(tensorSpec(this.manifest, 'audio', 'inputs', 'events').shape.slice(1) as number[])];
    const out = await this.run(
      'audio',
      {
        events: new ort.Tensor('float32', req.events, eventDims),
        bodies: new ort.Tensor('float32', Float32Array.from(scene.bodies), this.shapes.bodies),
        ambient: new ort.Tensor('float32', Float32Array.from(scene.ambient), this.shapes.ambient),
        start_frame: int64(req.startFrame),
        voice: new ort.Tensor('float32', voice, this.shapes.voice),
        cameo_body: int64(cameoBody),
      },
      { F: req.numFrames, P: carry },
    );
    return out.audio!.data as Float32Array;
  }

  eventWindow(previous: Float32Array | undefined, current: Float32Array, startFrame: number): Float32Array {
    const carry = this.manifest.audio_carry_frames;
    const size = this.frameEventSize;
    if (!(current instanceof Float32Array) || current.length === 0 || current.length % size !== 0) {
      throw new InvalidRenderInput(
        'events',
        `expected the chunk's event track, a Float32Array of whole frames of ${size} values, got ${describeLength(current)}`,
      );
    }
    checkInteger('startFrame', startFrame, 0, Number.MAX_SAFE_INTEGER);
    // Frames before frame 0 are silence; any other missing frame would drop the tail of a sound, so it is an error.
    const needed = Math.min(carry, startFrame);
    const have = previous ? Math.floor(previous.length / size) : 0;
    if (previous && previous.length % size !== 0) throw new InvalidRenderInput('previousEvents', `not whole frames of ${size} values`);
    if (have < needed) {
      throw new InvalidRenderInput(
        'previousEvents',
        `a chunk starting at frame ${startFrame} needs the event track of the ${needed} frames before it, got ${have}`,
      );
    }
    const window = new Float32Array(carry * size + current.length);
    if (needed > 0) window.set(previous!.subarray((have - needed) * size), (carry - needed) * size);
    window.set(current, carry * size);
    return window;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.releaseSessions();
  }

  // ---------------------------------------------------------------------------------------------------------------

  private async run(graph: GraphName, feeds: Record<string, ort.Tensor>, vars: Record<string, number> = {}): Promise<Record<string, ort.Tensor>> {
    const session = this.sessions[graph];
    const out = (await session.run(feeds)) as Record<string, ort.Tensor>;
    // The session check at load accepts symbolic dims; here the sizes actually returned must be the ones promised.
    for (const spec of this.manifest.graphs[graph].outputs) {
      const tensor = out[spec.name];
      if (!tensor) continue;
      const want = evalShape(spec.shape, vars);
      if (tensor.type !== spec.dtype || tensor.dims.length !== want.length || want.some((d, i) => d !== undefined && tensor.dims[i] !== d)) {
        throw new ModelPackMismatch(
          this.manifest.name,
          `${spec.name} from ${this.manifest.graphs[graph].file} is ${tensor.type} ${formatShape([...tensor.dims])}, the manifest promises ${spec.dtype} ${formatShape(want)}`,
        );
      }
    }
    return out;
  }

  private ensureOpen(): void {
    if (this.closed) throw new Error('the inference engine is closed');
  }

  private size(size: string): { width: number; height: number } {
    const found = typeof size === 'string' ? this.sizes.get(size) : undefined;
    if (!found) {
      throw new InvalidRenderInput(
        'size',
        `${JSON.stringify(size)} is not supported by model pack ${this.manifest.name}; supported sizes (width x height): ${this.manifest.resolutions.join(', ')}`,
      );
    }
    return found;
  }

  private indexOf(field: string, value: string, allowed: string[]): number {
    const index = typeof value === 'string' ? allowed.indexOf(value) : -1;
    if (index < 0) throw new InvalidRenderInput(field, `${JSON.stringify(value)} is not one of ${allowed.join(', ')}`);
    return index;
  }

  private checkFrames(startFrame: number, numFrames: number): void {
    checkInteger('numFrames', numFrames, 1, MAX_CHUNK_FRAMES);
    checkInteger('startFrame', startFrame, 0, Math.floor(MAX_SEED / this.manifest.samples_per_frame) - MAX_CHUNK_FRAMES);
  }

  private checkScene(scene: Scene): Scene {
    if (!scene || typeof scene !== 'object') throw new InvalidRenderInput('scene', 'missing');
    if (scene.pack !== this.packId)
      throw new InvalidRenderInput('scene.pack', `the scene was made by ${JSON.stringify(scene.pack)}, this engine runs ${this.packId}`);
    floats('scene.bodies', scene.bodies, product(this.shapes.bodies));
    floats('scene.initialState', scene.initialState, product(this.shapes.state));
    floats('scene.world', scene.world, product(this.shapes.world));
    floats('scene.ambient', scene.ambient, product(this.shapes.ambient));
    if (!this.sizes.has(`${scene.width}x${scene.height}`))
      throw new InvalidRenderInput('scene.width', `${scene.width}x${scene.height} is not a size of this pack`);
    return scene;
  }

  private cameoBody(scene: Scene, cameo: Cameo): number {
    const stride = this.shapes.bodies[1]!;
    const count = this.shapes.bodies[0]!;
    const active = (i: number) => scene.bodies[i * stride]! > 0.5;
    if (cameo.body !== undefined) {
      checkInteger('cameo.body', cameo.body, 0, count - 1);
      if (!active(cameo.body)) throw new InvalidRenderInput('cameo.body', `body ${cameo.body} is not in the scene`);
      return cameo.body;
    }
    let best = -1;
    for (let i = 0; i < count; i++) if (active(i) && (best < 0 || scene.bodies[i * stride + 4]! > scene.bodies[best * stride + 4]!)) best = i;
    // Rendering without the cameo would break the promise a reserved cameo use makes, so say so instead.
    if (best < 0) throw new InvalidRenderInput('cameo', 'the scene has no body to wear it; describe something that moves');
    return best;
  }

  private backdrop(b: Backdrop): { data: Float32Array; dims: number[]; weight: number } {
    checkInteger('backdrop.width', b.width, 1, BACKDROP_MAX_SIDE);
    checkInteger('backdrop.height', b.height, 1, BACKDROP_MAX_SIDE);
    const weight = b.weight ?? 1;
    if (typeof weight !== 'number' || !(weight >= 0 && weight <= 1))
      throw new InvalidRenderInput('backdrop.weight', `must be from 0 to 1, got ${String(weight)}`);
    const length = b.width * b.height * 3;
    if (!(b.rgb instanceof Uint8Array) && !(b.rgb instanceof Float32Array))
      throw new InvalidRenderInput('backdrop.rgb', 'must be a Uint8Array (0..255) or a Float32Array (0..1)');
    if (b.rgb.length !== length) throw new InvalidRenderInput('backdrop.rgb', `expected ${b.width}x${b.height}x3 = ${length} values, got ${b.rgb.length}`);
    // Converted and checked once per image (every chunk of a video passes the same one), so a large backdrop does not
    // hold the event loop on every chunk.
    let data = this.backdropCache.get(b.rgb);
    if (!data) {
      data = b.rgb instanceof Uint8Array ? Float32Array.from(b.rgb, (v) => v / 255) : unitFloats('backdrop.rgb', b.rgb, length);
      this.backdropCache.set(b.rgb, data);
    }
    return { data, dims: [b.height, b.width, 3], weight };
  }
}

function checkInteger(field: string, value: number, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidRenderInput(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value) ?? String(value)}`);
  }
}

function floats(field: string, values: ArrayLike<number> | undefined, length: number): Float32Array {
  if (!values || typeof values !== 'object' || values.length !== length) {
    throw new InvalidRenderInput(field, `expected ${length} numbers, got ${describeLength(values)}`);
  }
  const out = Float32Array.from(values);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]!)) throw new InvalidRenderInput(field, `value ${i} is ${String(values[i])}, not a finite number`);
  }
  return out;
}

function unitFloats(field: string, values: ArrayLike<number> | undefined, length: number): Float32Array {
  const out = floats(field, values, length);
  for (let i = 0; i < out.length; i++) {
    if (out[i]! < 0 || out[i]! > 1) throw new InvalidRenderInput(field, `value ${i} is ${out[i]}, outside 0..1`);
  }
  return out;
}

function describeLength(values: unknown): string {
  if (values === undefined || values === null) return 'nothing';
  const length = (values as { length?: unknown }).length;
  return typeof length === 'number' ? `${length} values` : typeof values;
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function area(s: { width: number; height: number }): number {
  return s.width * s.height;
}
