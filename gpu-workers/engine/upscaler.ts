// The pack's optional upscaler (manifest `upscaler`): opened beside the three graphs when UPSCALER=on, checked against
// its manifest entry and SHA-256, and run frame by frame between the render of a chunk and its encoding.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelPackMismatch } from './errors';
import { compareGraph, evalShape, formatShape, type ModelPackManifest, type UpscalerSpec } from './manifest';

export interface LoadedUpscaler {
  spec: UpscalerSpec;
  session: ort.InferenceSession;
}

/** Opens the upscaler a pack declares; a pack without one, or a file that is not the one built, is refused. */
export async function loadUpscaler(
  dir: string,
  manifest: ModelPackManifest,
  createSession: (file: string) => Promise<ort.InferenceSession>,
): Promise<LoadedUpscaler> {
  const spec = manifest.upscaler;
  if (!spec) throw new ModelPackMismatch(manifest.name, 'UPSCALER=on, but manifest.json declares no upscaler');
  const file = path.join(dir, spec.file);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    throw new ModelPackMismatch(manifest.name, `${spec.file} (the upscaler) is missing from ${dir}`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== spec.sha256) throw new ModelPackMismatch(manifest.name, `${spec.file} has SHA-256 ${sha256}, the manifest says ${spec.sha256}`);
  const session = await createSession(file);
  const problems = compareGraph({ file: spec.file, inputs: spec.inputs, outputs: spec.outputs }, session);
  if (problems.length > 0) throw new ModelPackMismatch(manifest.name, problems.join('; '));
  return { spec, session };
}

/**
 * Upscales F frames of h x w RGB to (h * scale) x (w * scale), one frame per run: the network's activations for a
 * whole chunk would take gigabytes (64 channels of floats per pixel), one frame's take tens of megabytes. Each frame
 * is upscaled on its own, so a chunk's frames do not depend on where the chunk starts.
 */
export async function upscaleFrames(upscaler: LoadedUpscaler, frames: Uint8Array, numFrames: number, height: number, width: number): Promise<Uint8Array> {
  const { spec, session } = upscaler;
  const input = spec.inputs[0]!;
  const output = spec.outputs[0]!;
  const frameBytes = height * width * 3;
  if (frames.length !== numFrames * frameBytes) throw new Error(`upscaler: ${frames.length} bytes are not ${numFrames} frames of ${width}x${height} RGB`);
  const want = evalShape(output.shape, { F: 1, H: height, W: width });
  const outBytes = frameBytes * spec.scale * spec.scale;
  const out = new Uint8Array(numFrames * outBytes);
  for (let f = 0; f < numFrames; f++) {
    const feeds = { [input.name]: new ort.Tensor('uint8', frames.subarray(f * frameBytes, (f + 1) * frameBytes), [1, height, width, 3]) };
    const result = (await session.run(feeds))[output.name];
    if (!result || result.type !== 'uint8' || result.dims.length !== want.length || want.some((d, i) => result.dims[i] !== d)) {
      throw new Error(
        `upscaler: ${output.name} from ${spec.file} is ${result?.type} ${formatShape([...(result?.dims ?? [])])}, expected uint8 ${formatShape(want)}`,
      );
    }
    out.set(result.data as Uint8Array, f * outBytes);
    result.dispose();
  }
  return out;
}
