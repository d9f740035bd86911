// The GPU worker's inference meter: the safety classifier's scoring is counted with the engine's calls, so the time
// inside inference (and the busy fraction the benches take from it) covers everything the worker runs on the device.
import { Registry } from 'prom-client';
import { SAFETY_INPUT_SIDE } from '../../gpu-workers/engine/safety';
import { INFERENCE_SECONDS_METRIC, inferenceMeter, meteredSafety } from '../../gpu-workers/engine/metered';
import { inferenceSecondsIn } from '../../scripts/bench/gpuMetrics';
import { testSafetyClassifier } from '../support/pipeline';

describe('the inference meter', () => {
  it('counts safety scoring as inference time, in the series the benches sum', async () => {
    const registry = new Registry();
    const meter = inferenceMeter({ registry, concurrency: 1 });
    const safety = meteredSafety(await testSafetyClassifier(), meter);
    const scores = await safety.score(new Uint8Array(2 * SAFETY_INPUT_SIDE * SAFETY_INPUT_SIDE * 3), 2);

    expect(scores).toHaveLength(2);
    const text = await registry.metrics();
    const series = text.split('\n').find((line) => line.startsWith(`${INFERENCE_SECONDS_METRIC}{call="scoreSafety"}`));
    const counted = Number(series?.split(' ').pop());
    expect(counted).toBeGreaterThan(0);
    expect(inferenceSecondsIn(text)).toBe(counted);
    expect(meter.finishedSeconds()).toBe(counted);
  });

  it('refuses a /metrics answer without the counter rather than read it as no inference', () => {
    expect(() => inferenceSecondsIn('reelforge_gpu_busy_fraction 0.5\n')).toThrow(/has no reelforge_gpu_inference_seconds_total/);
  });
});
