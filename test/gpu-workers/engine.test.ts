// The inference engine end to end on the reference pack: validation that names the bad field, deterministic and
// chunk-invariant frames and audio, every API size, sounds on the collisions' samples, and segments in the blob store.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createEngine, MAX_CHUNK_FRAMES, type Engine, type Scene, type VideoChunk } from '../../gpu-workers/engine/engine';
import { InvalidRenderInput } from '../../gpu-workers/engine/errors';
import { writeChunk, writeAudioSegment } from '../../gpu-workers/engine/segments';
import { chooseProvider, ProviderUnavailable, SessionPool, type ExecutionProvider } from '../../gpu-workers/engine/sessions';
import { FsBlobStore } from '../../infra/blobs';
import { loadConfig } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { detectOnsets, matchOnsets } from './support/onsets';
import { impacts } from './support/scenes';
import { testEnv } from '../support/env';

const API_SIZES = ['256x256', '512x512', '480x854', '854x480', '720x1280', '1280x720', '1024x1792', '1792x1024'];
const SIZE = '256x256';
const PROMPT = 'five balls collide';
const SEED = 7;
const SPF = 2000;
const ONE_MS = 48;

const silent = createLogger({ level: 'silent', name: 'test' });
const cpuConfig = loadConfig({ INFERENCE_EP: 'cpu', INFERENCE_THREADS: '2' });

let engine: Engine;
let tmp: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-engine-'));
  engine = await createEngine({ config: cpuConfig, logger: silent });
});
afterAll(async () => {
  await engine?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Renders `lengths` consecutive chunks, carrying state through JSON as a Temporal payload would carry it. */
async function renderChunks(
  scene: Scene,
  lengths: number[],
  opts: { style?: string; camera?: string } = {},
): Promise<{ video: VideoChunk[]; audio: Float32Array[] }> {
  const video: VideoChunk[] = [];
  const audio: Float32Array[] = [];
  let state: number[] = scene.initialState;
  let startFrame = 0;
  let previous: Float32Array | undefined;
  for (const numFrames of lengths) {
    const chunk = await engine.renderVideoChunk({
      scene,
      state,
      startFrame,
      numFrames,
      size: SIZE,
      style: opts.style ?? 'cinematic',
      camera: opts.camera ?? 'pan',
    });
    audio.push(await engine.renderAudioChunk({ scene, events: engine.eventWindow(previous, chunk.events, startFrame), startFrame, numFrames }));
    video.push(chunk);
    state = JSON.parse(JSON.stringify(Array.from(chunk.state))) as number[];
    previous = chunk.events;
    startFrame += numFrames;
  }
  return { video, audio };
}

function concat<T extends Uint8Array | Float32Array>(parts: T[]): T {
  const out = new (parts[0]!.constructor as new (n: number) => T)(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p as never, offset);
    offset += p.length;
  }
  return out;
}

const bytesOf = (a: Uint8Array | Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('inference engine on the reference pack', () => {
  it('loads the configured pack on the configured provider and warms it up', () => {
    expect(engine.provider).toBe('cpu');
    expect(engine.pack).toMatchObject({ name: 'reference', version: '1.0.0' });
    expect(engine.report).toMatchObject({ requested: 'cpu', provider: 'cpu', threads: 2, rejected: [] });
    expect(engine.report.warmUpMs).toBeGreaterThan(0);
  });

  describe('refuses bad input with a message naming the field', () => {
    let scene: Scene;
    beforeAll(async () => {
      scene = await engine.describeScene(PROMPT, SEED, SIZE);
    });
    const chunk = (over: Record<string, unknown> = {}) =>
      engine.renderVideoChunk({ scene, state: scene.initialState, startFrame: 0, numFrames: 1, size: SIZE, style: 'noir', camera: 'static', ...over });

    it.each<[string, () => Promise<unknown>, string | RegExp]>([
      ['an empty prompt', () => engine.describeScene('', 1, SIZE), 'invalid prompt: must not be empty'],
      ['a prompt of blanks', () => engine.describeScene('   \n ', 1, SIZE), 'invalid prompt: must not be only whitespace'],
      [
        'a prompt of 10,000 characters',
        () => engine.describeScene('ball '.repeat(2000), 1, SIZE),
        'invalid prompt: is 10000 characters long; the limit is 2000 characters',
      ],
      [
        'a prompt with a control character',
        () => engine.describeScene('a red ball\u001b[31m bounces', 1, SIZE),
        'invalid prompt: contains control character U+001B at index 10',
      ],
      ['a negative seed', () => engine.describeScene(PROMPT, -1, SIZE), 'invalid seed: must be an integer from 0 to 2147483647, got -1'],
      ['a fractional seed', () => engine.describeScene(PROMPT, 1.5, SIZE), 'invalid seed: must be an integer from 0 to 2147483647, got 1.5'],
      ['a seed past 2^31-1', () => engine.describeScene(PROMPT, 2 ** 31, SIZE), 'invalid seed: must be an integer from 0 to 2147483647, got 2147483648'],
      [
        'a size larger than any supported',
        () => engine.describeScene(PROMPT, 1, '4096x4096'),
        'invalid size: "4096x4096" is not supported by model pack reference; supported sizes (width x height): 256x256, 512x512, 480x854, 854x480, 720x1280, 1280x720, 1024x1792, 1792x1024',
      ],
      [
        'a size smaller than any supported',
        () => engine.describeScene(PROMPT, 1, '100x100'),
        /^invalid size: "100x100" is not supported by model pack reference; supported sizes \(width x height\): 256x256, /,
      ],
      ['a size that is not WxH', () => engine.describeScene(PROMPT, 1, 'large'), /^invalid size: "large" is not supported/],
      ['an unknown style', () => chunk({ style: 'vaporwave' }), 'invalid style: "vaporwave" is not one of cinematic, anime, noir'],
      ['an unknown camera', () => chunk({ camera: 'dolly' }), 'invalid camera: "dolly" is not one of static, pan, zoom'],
      [
        'a supported size of another aspect than the scene',
        () => chunk({ size: '1280x720' }),
        'invalid size: 1280x720 has another aspect than the scene, which was described for 256x256',
      ],
      ['zero frames', () => chunk({ numFrames: 0 }), `invalid numFrames: must be an integer from 1 to ${MAX_CHUNK_FRAMES}, got 0`],
      ['too many frames', () => chunk({ numFrames: 241 }), 'invalid numFrames: must be an integer from 1 to 240, got 241'],
      ['a negative start frame', () => chunk({ startFrame: -1 }), /^invalid startFrame: must be an integer from 0 to \d+, got -1$/],
      ['a state of the wrong length', () => chunk({ state: new Float32Array(31) }), 'invalid state: expected 32 numbers, got 31 values'],
      [
        'a state with NaN',
        () => chunk({ state: [...scene.initialState.slice(0, 5), NaN, ...scene.initialState.slice(6)] }),
        'invalid state: value 5 is NaN, not a finite number',
      ],
      [
        'a cameo texture of the wrong size',
        () => chunk({ cameo: { texture: new Float32Array(100), voice: new Float32Array(8) } }),
        'invalid cameo.texture: expected 3072 numbers, got 100 values',
      ],
      [
        'a cameo texture outside 0..1',
        () => chunk({ cameo: { texture: new Float32Array(3072).fill(2), voice: new Float32Array(8) } }),
        'invalid cameo.texture: value 0 is 2, outside 0..1',
      ],
      [
        'a cameo voice that is not finite',
        () => chunk({ cameo: { texture: new Float32Array(3072), voice: new Float32Array(8).fill(Infinity) } }),
        'invalid cameo.voice: value 0 is Infinity, not a finite number',
      ],
      [
        'a cameo on a body that is not in the scene',
        () => chunk({ cameo: { texture: new Float32Array(3072), voice: new Float32Array(8), body: 7 } }),
        'invalid cameo.body: body 7 is not in the scene',
      ],
      [
        'a backdrop whose bytes do not match its size',
        () => chunk({ backdrop: { width: 4, height: 3, rgb: new Uint8Array(10) } }),
        'invalid backdrop.rgb: expected 4x3x3 = 36 values, got 10',
      ],
      [
        'a backdrop wider than 2048',
        () => chunk({ backdrop: { width: 5000, height: 1, rgb: new Uint8Array(15000) } }),
        'invalid backdrop.width: must be an integer from 1 to 2048, got 5000',
      ],
      [
        'a backdrop with values outside 0..1',
        () => chunk({ backdrop: { width: 1, height: 1, rgb: Float32Array.of(0, 0.5, 1.5) } }),
        'invalid backdrop.rgb: value 2 is 1.5, outside 0..1',
      ],
      [
        'a scene of another pack',
        () => chunk({ scene: { ...scene, pack: 'other@2' } }),
        'invalid scene.pack: the scene was made by "other@2", this engine runs reference@1.0.0',
      ],
      [
        'an audio event window of the wrong length',
        () => engine.renderAudioChunk({ scene, events: new Float32Array(24 * 256), startFrame: 0, numFrames: 24 }),
        'invalid events: expected a Float32Array of 30 frames (6 carried + 24) x 256 = 7680 values, got 6144 values',
      ],
    ])('%s', async (_what, call, message) => {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidRenderInput);
      expect((err as Error).message).toMatch(typeof message === 'string' ? new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : message);
    });

    it('a chunk after frame 0 without the event track before it', () => {
      expect(() => engine.eventWindow(undefined, new Float32Array(24 * 256), 24)).toThrow(
        'invalid previousEvents: a chunk starting at frame 24 needs the event track of the 6 frames before it, got 0',
      );
    });
  });

  it('renders a scene in chunks: same inputs and seed give byte-identical frames and audio', async () => {
    const scene = await engine.describeScene(PROMPT, SEED, SIZE);
    expect(JSON.parse(JSON.stringify(scene))).toEqual(scene);
    expect(scene.bodies.filter((_, i) => i % 8 === 0 && scene.bodies[i]! > 0.5)).toHaveLength(5);

    const first = await renderChunks(scene, [24, 24]);
    expect(first.video.map((c) => [c.numFrames, c.width, c.height, c.frames.length, c.events.length, c.state.length])).toEqual([
      [24, 256, 256, 24 * 256 * 256 * 3, 24 * 256, 32],
      [24, 256, 256, 24 * 256 * 256 * 3, 24 * 256, 32],
    ]);
    expect(first.audio.map((a) => a.length)).toEqual([24 * SPF * 2, 24 * SPF * 2]);
    // Not a blank: the frames change over time and the audio has sound in it.
    expect(bytesOf(first.video[0]!.frames.subarray(0, 256 * 256 * 3)).equals(bytesOf(first.video[1]!.frames.subarray(0, 256 * 256 * 3)))).toBe(false);
    expect(Math.max(...first.audio[0]!.map(Math.abs))).toBeGreaterThan(0.05);

    const again = await renderChunks(await engine.describeScene(PROMPT, SEED, SIZE), [24, 24]);
    for (let i = 0; i < 2; i++) {
      expect(bytesOf(again.video[i]!.frames).equals(bytesOf(first.video[i]!.frames))).toBe(true);
      expect(bytesOf(again.video[i]!.events).equals(bytesOf(first.video[i]!.events))).toBe(true);
      expect(bytesOf(again.audio[i]!).equals(bytesOf(first.audio[i]!))).toBe(true);
    }
    // Another seed is another scene.
    const other = await engine.describeScene(PROMPT, SEED + 1, SIZE);
    expect(other.initialState).not.toEqual(scene.initialState);
  });

  it('two chunks of 24 frames give exactly the frames, events and audio of one chunk of 48', async () => {
    const scene = await engine.describeScene(PROMPT, SEED, SIZE);
    for (const camera of ['pan', 'zoom']) {
      const two = await renderChunks(scene, [24, 24], { camera, style: 'anime' });
      const one = await renderChunks(scene, [48], { camera, style: 'anime' });
      expect(bytesOf(concat(two.video.map((c) => c.frames))).equals(bytesOf(one.video[0]!.frames))).toBe(true);
      expect(bytesOf(concat(two.video.map((c) => c.events))).equals(bytesOf(one.video[0]!.events))).toBe(true);
      expect(bytesOf(two.video[1]!.state).equals(bytesOf(one.video[0]!.state))).toBe(true);
      expect(bytesOf(concat(two.audio)).equals(bytesOf(one.audio[0]!))).toBe(true);
    }
  });

  it('every impact of the video event track sounds within 1 ms of its sample, and no other sound starts', async () => {
    const scene = await engine.describeScene(PROMPT, SEED, SIZE);
    const { video, audio } = await renderChunks(scene, [24, 24]);
    const track = concat(video.map((c) => c.events));
    // Distinct audible impact samples; the detector reports sounds closer than 10 ms as one, so they are one here too.
    const times = [
      ...new Set(
        impacts(track)
          .filter((i) => i.speed >= 0.05)
          .map((i) => i.frame * SPF + i.sample),
      ),
    ].sort((a, b) => a - b);
    const expected: number[] = [];
    for (const t of times) if (expected.length === 0 || t - expected[expected.length - 1]! >= 480) expected.push(t);
    expect(expected.length).toBeGreaterThanOrEqual(8);
    const { missed, spurious, errors } = matchOnsets(expected, detectOnsets(concat(audio)), ONE_MS);
    expect({ missed, spurious }).toEqual({ missed: [], spurious: [] });
    expect(Math.max(...errors.map(Math.abs))).toBeLessThanOrEqual(ONE_MS);
  });

  it('renders one frame at every size of the API, portrait and landscape, at the size asked for', async () => {
    for (const size of API_SIZES) {
      const [width, height] = size.split('x').map(Number) as [number, number];
      const scene = await engine.describeScene(PROMPT, SEED, size);
      const chunk = await engine.renderVideoChunk({ scene, state: scene.initialState, startFrame: 0, numFrames: 1, size, style: 'cinematic', camera: 'zoom' });
      expect({ size, width: chunk.width, height: chunk.height, bytes: chunk.frames.length }).toEqual({ size, width, height, bytes: width * height * 3 });
    }
  });

  it('wears a cameo: the texture changes the frames, the voice the audio', async () => {
    const scene = await engine.describeScene(PROMPT, SEED, SIZE);
    const texture = Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => (i % 7) / 6);
    const voice = Float32Array.from([0, 0, 1, 0, 1, 0, 0, 1]);
    const request = { scene, state: scene.initialState, startFrame: 0, numFrames: 24, size: SIZE, style: 'cinematic', camera: 'static' };
    const plain = await engine.renderVideoChunk(request);
    const withCameo = await engine.renderVideoChunk({ ...request, cameo: { texture, voice } });
    expect(bytesOf(withCameo.frames).equals(bytesOf(plain.frames))).toBe(false);
    // The likeness is drawn on a body; it does not change the physics.
    expect(bytesOf(withCameo.events).equals(bytesOf(plain.events))).toBe(true);
    const window = engine.eventWindow(undefined, plain.events, 0);
    const audioPlain = await engine.renderAudioChunk({ scene, events: window, startFrame: 0, numFrames: 24 });
    const audioCameo = await engine.renderAudioChunk({ scene, events: window, startFrame: 0, numFrames: 24, cameo: { texture, voice } });
    expect(bytesOf(audioCameo).equals(bytesOf(audioPlain))).toBe(false);
  });

  it('paints a backdrop image behind the scene, by its weight', async () => {
    const scene = await engine.describeScene(PROMPT, SEED, SIZE);
    const request = { scene, state: scene.initialState, startFrame: 0, numFrames: 2, size: SIZE, style: 'cinematic', camera: 'static' };
    // A 4x4 green image: the graph resizes it to the frame.
    const rgb = new Uint8Array(4 * 4 * 3).map((_, i) => (i % 3 === 1 ? 255 : 0));
    const plain = await engine.renderVideoChunk(request);
    const weightless = await engine.renderVideoChunk({ ...request, backdrop: { width: 4, height: 4, rgb, weight: 0 } });
    const painted = await engine.renderVideoChunk({ ...request, backdrop: { width: 4, height: 4, rgb } });
    expect(bytesOf(weightless.frames).equals(bytesOf(plain.frames))).toBe(true);
    const greenness = (frames: Uint8Array) => {
      let g = 0;
      for (let i = 0; i < frames.length; i += 3) g += frames[i + 1]! - (frames[i]! + frames[i + 2]!) / 2;
      return g / (frames.length / 3);
    };
    expect(greenness(painted.frames)).toBeGreaterThan(greenness(plain.frames) + 50);
  });

  it('writes a chunk to the blob store: an MPEG-TS segment that decodes to its frames, and s16le PCM', async () => {
    const ffmpeg = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });
    const blobs = new FsBlobStore(path.join(tmp, 'blobs'));
    const scene = await engine.describeScene(PROMPT, SEED, SIZE);
    const { video, audio } = await renderChunks(scene, [24, 24]);
    const written = [];
    for (let index = 0; index < 2; index++) {
      written.push(
        await writeChunk({
          blobs,
          ffmpeg,
          videoId: 'video_test',
          index,
          startFrame: index * 24,
          fps: 24,
          sampleRateHz: 48000,
          video: video[index]!,
          audio: audio[index]!,
        }),
      );
    }
    expect(written.map((w) => [w.video.key, w.audio.key])).toEqual([
      ['videos/video_test/chunks/000.ts', 'videos/video_test/chunks/000.s16le-48000hz-2ch.pcm'],
      ['videos/video_test/chunks/001.ts', 'videos/video_test/chunks/001.s16le-48000hz-2ch.pcm'],
    ]);
    expect(written[1]).toMatchObject({
      video: { container: 'mpegts', codec: 'h264', width: 256, height: 256, fps: 24, startFrame: 24, frames: 24 },
      audio: { encoding: 's16le', sampleRateHz: 48000, channels: 2, samples: 24 * SPF, bytes: 24 * SPF * 4 },
    });
    expect(await blobs.list('videos/video_test/')).toHaveLength(4);

    const segment = path.join(tmp, 'chunk1.ts');
    fs.writeFileSync(segment, await blobs.get(written[1]!.video.key));
    const info = await ffmpeg.probe(segment);
    expect(info).toMatchObject({ videoFrames: 24, video: { codec: 'h264', pixelFormat: 'yuv420p', width: 256, height: 256, fps: 24 } });
    const decoded = await ffmpeg.decodeToRgb(segment, 256, 256);
    expect(decoded.count).toBe(24);
    let error = 0;
    for (let i = 0; i < decoded.frames.length; i++) error += Math.abs(decoded.frames[i]! - video[1]!.frames[i]!);
    expect(error / decoded.frames.length).toBeLessThan(6);

    // The two segments joined byte for byte play as 48 frames: what the mux step relies on.
    const joined = path.join(tmp, 'joined.ts');
    fs.writeFileSync(joined, Buffer.concat([await blobs.get(written[0]!.video.key), await blobs.get(written[1]!.video.key)]));
    expect((await ffmpeg.probe(joined)).videoFrames).toBe(48);

    const pcm = await blobs.get(written[0]!.audio.key);
    for (const i of [0, 1, 4321, 24 * SPF * 2 - 1]) expect(pcm.readInt16LE(i * 2)).toBe(Math.round(Math.max(-1, Math.min(1, audio[0]![i]!)) * 32767));
    await expect(writeAudioSegment({ blobs, videoId: '../escape', index: 0, sampleRateHz: 48000, audio: audio[0]! })).rejects.toThrow('invalid blob key');
  });

  it('with INFERENCE_EP=auto takes the best provider that works and logs why the others were not taken', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const auto = await createEngine({ config: loadConfig({ INFERENCE_EP: 'auto', INFERENCE_THREADS: '1' }), logger });
    try {
      const chosen = lines.find((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('inference provider:'));
      expect(chosen).toMatchObject({ requested: 'auto', provider: auto.provider });
      const order = ['cuda', 'webgpu', 'cpu'];
      // Everything better than the choice was tried (or ruled out) and has a reason.
      expect(auto.report.rejected.map((r) => r.provider)).toEqual(order.slice(0, order.indexOf(auto.provider)));
      for (const r of auto.report.rejected) expect(r.reason.length).toBeGreaterThan(10);
      expect(lines.some((l) => l.msg === 'inference engine ready' && l.pack === 'reference@1.0.0')).toBe(true);
    } finally {
      await auto.close();
    }
  });

  it('shares one session per graph, provider and thread count between engines, and releases it with the last', async () => {
    const pool = new SessionPool();
    const a = await createEngine({ config: cpuConfig, logger: silent, pool });
    const b = await createEngine({ config: cpuConfig, logger: silent, pool });
    expect(pool.size).toBe(3);
    const c = await createEngine({ config: cpuConfig, logger: silent, pool, threads: 1 });
    expect(pool.size).toBe(6);
    await a.close();
    await c.close();
    expect(pool.size).toBe(3);
    const scene = await b.describeScene(PROMPT, SEED, SIZE);
    expect(scene.bodies).toHaveLength(64);
    await b.close();
    expect(pool.size).toBe(0);
    await expect(b.describeScene(PROMPT, SEED, SIZE)).rejects.toThrow('the inference engine is closed');
  });
});

describe('execution provider choice', () => {
  const works =
    (ok: ExecutionProvider[], tried: ExecutionProvider[] = []) =>
    async (provider: ExecutionProvider) => {
      tried.push(provider);
      if (!ok.includes(provider)) throw new Error(`${provider} failed: no device\nsecond line`);
      return provider;
    };
  const cuda = (present: boolean) => () => ({ present, dir: '/ort/bin' });

  it('auto takes CUDA first when its library is there and it works', async () => {
    const choice = await chooseProvider('auto', works(['cuda', 'webgpu', 'cpu']), silent, { probeCuda: cuda(true) });
    expect(choice).toMatchObject({ provider: 'cuda', rejected: [] });
  });

  it('auto skips CUDA without its library, falls back past a failing WebGPU to the CPU, and says why', async () => {
    const tried: ExecutionProvider[] = [];
    const choice = await chooseProvider('auto', works(['cpu'], tried), silent, { probeCuda: cuda(false) });
    expect(tried).toEqual(['webgpu', 'cpu']);
    expect(choice.provider).toBe('cpu');
    expect(choice.rejected).toEqual([
      { provider: 'cuda', reason: expect.stringContaining('libonnxruntime_providers_cuda.so is not in /ort/bin') },
      { provider: 'webgpu', reason: 'webgpu failed: no device' },
    ]);
  });

  it('a provider asked for by name is the only one tried; failing, it names the reason', async () => {
    const tried: ExecutionProvider[] = [];
    const err = await chooseProvider('webgpu', works(['cpu'], tried), silent).catch((e: unknown) => e);
    expect(tried).toEqual(['webgpu']);
    expect(err).toBeInstanceOf(ProviderUnavailable);
    expect((err as Error).message).toBe('INFERENCE_EP=webgpu: no execution provider works here (webgpu: webgpu failed: no device)');
  });

  it('an error that no provider can fix stops the search', async () => {
    const tried: ExecutionProvider[] = [];
    const attempt = async (provider: ExecutionProvider) => {
      tried.push(provider);
      throw new RangeError('bad pack');
    };
    await expect(chooseProvider('auto', attempt, silent, { probeCuda: cuda(true), fatal: (e) => e instanceof RangeError })).rejects.toThrow('bad pack');
    expect(tried).toEqual(['cuda']);
  });
});
