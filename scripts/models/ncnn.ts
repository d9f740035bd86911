// Reads an ncnn model (the .param text and the .bin weights) for the upscaler conversion: only the layer types the
// SRVGG-compact networks use, and every byte of the .bin accounted for, so a different file is refused, not misread.

/** One layer of a .param file: `type name inputs outputs in... out... key=value...`. */
export interface NcnnLayer {
  type: string;
  name: string;
  inputs: string[];
  outputs: string[];
  /** Params by key (`0=64` → 0: [64]; arrays, written `-23300=n,a,b,...`, are not used by these models and refused). */
  params: Map<number, number>;
}

export interface NcnnConvolution {
  layer: NcnnLayer;
  numOutput: number;
  numInput: number;
  kernel: number;
  pad: number;
  /** Weights as IEEE half-precision bit patterns, [out, in, kh, kw] (ncnn's order, which is ONNX's). */
  weightF16: Uint16Array;
  bias: Float32Array;
}

export interface NcnnModel {
  layers: NcnnLayer[];
  convolutions: Map<string, NcnnConvolution>;
  /** PReLU slopes by layer name. */
  slopes: Map<string, Float32Array>;
}

const PARAM_MAGIC = 7767517;
/** The tag before a weight blob stored as float16 (ncnn's ModelBin: 0x01306B47; 0 would be raw float32). */
const TAG_FLOAT16 = 0x01306b47;

export function parseNcnnParam(text: string): NcnnLayer[] {
  const lines = text.split('\n').map((l) => l.trim());
  if (Number(lines[0]) !== PARAM_MAGIC) throw new Error(`ncnn .param: magic ${lines[0]} is not ${PARAM_MAGIC}`);
  const [layerCount, blobCount] = (lines[1] ?? '').split(/\s+/).map(Number);
  const layers: NcnnLayer[] = [];
  for (const line of lines.slice(2)) {
    if (line === '') continue;
    const fields = line.split(/\s+/);
    const [type, name, nIn, nOut] = fields as [string, string, string, string];
    const inCount = Number(nIn);
    const outCount = Number(nOut);
    const inputs = fields.slice(4, 4 + inCount);
    const outputs = fields.slice(4 + inCount, 4 + inCount + outCount);
    const params = new Map<number, number>();
    for (const kv of fields.slice(4 + inCount + outCount)) {
      const m = /^(-?[0-9]+)=(.+)$/.exec(kv);
      if (!m || Number(m[1]) < 0 || m[2]!.includes(',')) throw new Error(`ncnn .param: layer ${name}: unsupported param ${kv}`);
      params.set(Number(m[1]), Number(m[2]));
    }
    layers.push({ type, name, inputs, outputs, params });
  }
  if (layers.length !== layerCount) throw new Error(`ncnn .param: header says ${layerCount} layers, found ${layers.length}`);
  const blobs = new Set(layers.flatMap((l) => l.outputs));
  if (blobs.size !== blobCount) throw new Error(`ncnn .param: header says ${blobCount} blobs, found ${blobs.size}`);
  return layers;
}

const param = (layer: NcnnLayer, key: number, fallback?: number): number => {
  const v = layer.params.get(key) ?? fallback;
  if (v === undefined) throw new Error(`ncnn layer ${layer.name}: param ${key} is missing`);
  return v;
};

/**
 * Walks the layers in file order and takes each one's weights from the .bin, as ncnn's ModelBin does: a Convolution's
 * weights behind a 4-byte storage tag, then its float32 bias; a PReLU's float32 slopes. Refuses what these models do
 * not use (dilation, stride, groups, int8) and a .bin with bytes left over.
 */
export function readNcnnModel(paramText: string, bin: Uint8Array): NcnnModel {
  const layers = parseNcnnParam(paramText);
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  let offset = 0;
  const take = (bytes: number, what: string): Uint8Array => {
    if (offset + bytes > bin.length) throw new Error(`ncnn .bin: ${what} runs past the end of the file (${bin.length} bytes)`);
    const out = bin.slice(offset, offset + bytes);
    offset += bytes;
    return out;
  };
  const floats = (count: number, what: string) => new Float32Array(take(count * 4, what).buffer);
  const convolutions = new Map<string, NcnnConvolution>();
  const slopes = new Map<string, Float32Array>();
  for (const layer of layers) {
    switch (layer.type) {
      case 'Convolution': {
        const numOutput = param(layer, 0);
        const kernel = param(layer, 1);
        if (param(layer, 11, kernel) !== kernel) throw new Error(`ncnn layer ${layer.name}: only square kernels are supported`);
        if (param(layer, 2, 1) !== 1 || param(layer, 3, 1) !== 1) throw new Error(`ncnn layer ${layer.name}: dilation and stride must be 1`);
        if (param(layer, 8, 0) !== 0) throw new Error(`ncnn layer ${layer.name}: int8 convolutions are not supported`);
        if (param(layer, 9, 0) !== 0) throw new Error(`ncnn layer ${layer.name}: fused activations are not supported`);
        const pad = param(layer, 4, 0);
        const weightCount = param(layer, 6);
        const numInput = weightCount / (numOutput * kernel * kernel);
        if (!Number.isInteger(numInput)) throw new Error(`ncnn layer ${layer.name}: ${weightCount} weights do not fill ${numOutput} x k${kernel}`);
        if (offset + 4 > bin.length) throw new Error(`ncnn .bin: the tag of ${layer.name} runs past the end of the file`);
        const tag = view.getUint32(offset, true);
        offset += 4;
        if (tag !== TAG_FLOAT16) throw new Error(`ncnn .bin: ${layer.name}'s weights have storage tag 0x${tag.toString(16)}, only float16 is supported`);
        const weightF16 = new Uint16Array(take(weightCount * 2, `${layer.name} weights`).buffer);
        const bias = param(layer, 5, 0) === 1 ? floats(numOutput, `${layer.name} bias`) : new Float32Array(numOutput);
        convolutions.set(layer.name, { layer, numOutput, numInput, kernel, pad, weightF16, bias });
        break;
      }
      case 'PReLU':
        slopes.set(layer.name, floats(param(layer, 0), `${layer.name} slopes`));
        break;
      case 'Input':
      case 'Split':
      case 'PixelShuffle':
      case 'Interp':
      case 'BinaryOp':
        break;
      default:
        throw new Error(`ncnn layer ${layer.name}: type ${layer.type} is not supported`);
    }
  }
  if (offset !== bin.length) throw new Error(`ncnn .bin: ${bin.length - offset} bytes left after the last layer's weights`);
  return { layers, convolutions, slopes };
}

/** A half-precision bit pattern as a number (for checks and for a plain JavaScript forward pass). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
