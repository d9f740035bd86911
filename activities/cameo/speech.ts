// Voice activity for cameo recordings: Silero VAD v5 through onnxruntime-node, one probability of speech per 32 ms.
// Fed the way Silero's own ONNX wrapper feeds v5: 512 new samples at 16 kHz after the previous window's last 64, with
// the recurrent state carried from window to window.
import * as ort from 'onnxruntime-node';

export const VAD_SAMPLE_RATE_HZ = 16000;
export const VAD_WINDOW_SAMPLES = 512;
const CONTEXT_SAMPLES = 64;

export interface SpeechDetector {
  /** The probability of speech in each 512-sample window of `samples` (16 kHz mono), in order. */
  probabilities(samples: Float32Array): Promise<number[]>;
}

export async function createSpeechDetector(modelPath: string): Promise<SpeechDetector> {
  const session = await ort.InferenceSession.create(modelPath, { logSeverityLevel: 3, intraOpNumThreads: 1, interOpNumThreads: 1 });
  for (const name of ['input', 'state', 'sr']) {
    if (!session.inputNames.includes(name))
      throw new Error(`the voice activity model ${modelPath} has no input ${name} (it has ${session.inputNames.join(', ')})`);
  }
  for (const name of ['output', 'stateN']) {
    if (!session.outputNames.includes(name))
      throw new Error(`the voice activity model ${modelPath} has no output ${name} (it has ${session.outputNames.join(', ')})`);
  }
  const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(VAD_SAMPLE_RATE_HZ)]), []);
  return {
    async probabilities(samples) {
      let state = new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
      const out: number[] = [];
      const window = new Float32Array(CONTEXT_SAMPLES + VAD_WINDOW_SAMPLES);
      for (let start = 0; start + VAD_WINDOW_SAMPLES <= samples.length; start += VAD_WINDOW_SAMPLES) {
        window.copyWithin(0, VAD_WINDOW_SAMPLES, VAD_WINDOW_SAMPLES + CONTEXT_SAMPLES);
        window.set(samples.subarray(start, start + VAD_WINDOW_SAMPLES), CONTEXT_SAMPLES);
        const result = await session.run({ input: new ort.Tensor('float32', window.slice(), [1, window.length]), state, sr });
        out.push((result.output!.data as Float32Array)[0]!);
        state = result.stateN as ort.TypedTensor<'float32'>;
      }
      return out;
    },
  };
}
