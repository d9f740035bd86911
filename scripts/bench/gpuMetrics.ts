// The GPU worker's time inside inference as the benches read it: its `GET /metrics` (Prometheus text) scraped before
// and after a burst, so the busy fraction is the worker's own count, not an estimate from the workflow histories.
import { INFERENCE_SECONDS_METRIC } from '../../gpu-workers/engine/metered';

/** Seconds inside inference, every call together: the sum of the counter's series in a /metrics answer. */
export function inferenceSecondsIn(metricsText: string): number {
  const series = metricsText.split('\n').filter((line) => line.startsWith(`${INFERENCE_SECONDS_METRIC}{`) || line.startsWith(`${INFERENCE_SECONDS_METRIC} `));
  if (series.length === 0) throw new Error(`the GPU worker's /metrics has no ${INFERENCE_SECONDS_METRIC}`);
  return series.reduce((n, line) => n + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** Scrapes `<healthUrl>/metrics` of a GPU worker and sums its inference seconds. */
export async function scrapeInferenceSeconds(healthUrl: string): Promise<number> {
  const res = await fetch(`${healthUrl}/metrics`);
  // 503 until the engine is loaded; a bench reads it only once the worker polls.
  if (!res.ok) throw new Error(`GET ${healthUrl}/metrics answered ${res.status}: ${await res.text()}`);
  return inferenceSecondsIn(await res.text());
}
