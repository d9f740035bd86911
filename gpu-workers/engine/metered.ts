// The GPU worker's inference calls measured and traced, for its /metrics and its spans: time inside inference
// (`reelforge_gpu_inference_seconds_total{call}`: the engine's scene, video and audio calls and the safety
// classifier's scoring, several calls at once with GPU_CONCURRENCY > 1, each counted), each video chunk's render time
// (`reelforge_gpu_chunk_render_seconds`, its slices together: chunkRenderSeconds), and how busy the GPU slots were over
// the last minute (`reelforge_gpu_busy_fraction`: inference time, calls still running included, over wall time times
// GPU_CONCURRENCY; `npm run bench:scaling` and `npm run bench:pipeline` report the same over a burst). Each call is a
// span (`inference renderVideoChunk`, ...) under the activity's span when tracing is on; a no-op otherwise.
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Engine } from './engine';
import type { SafetyClassifier } from './safety';

export const INFERENCE_SECONDS_METRIC = 'reelforge_gpu_inference_seconds_total';
export const CHUNK_RENDER_SECONDS_METRIC = 'reelforge_gpu_chunk_render_seconds';
export const BUSY_FRACTION_METRIC = 'reelforge_gpu_busy_fraction';

/** The window the busy fraction is measured over. */
const BUSY_WINDOW_MS = 60_000;

const tracer = trace.getTracer('reelforge-gpu-worker');

/** The histogram of video chunk render times (the activities observe it: a chunk is rendered in several engine calls). */
export function chunkRenderSeconds(registry: Registry): Histogram {
  return new Histogram({
    name: CHUNK_RENDER_SECONDS_METRIC,
    help: "Time to render one video chunk's frames (all its slices), on demand or ahead",
    buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120],
    registers: [registry],
  });
}

/**
 * Times inference calls into one counter and one busy fraction. The engine and the safety classifier share it: both
 * run on the device, so both take its slots, and a busy fraction without the safety scoring would under-count them.
 */
export interface InferenceMeter {
  /** `fn` counted, timed and traced as the call `name`. */
  timed<A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>): (...args: A) => Promise<R>;
  /** Seconds inside the calls finished so far, all names together (what the counter's series add up to). */
  finishedSeconds(): number;
}

export function inferenceMeter(options: { registry: Registry; concurrency: number }): InferenceMeter {
  const { registry } = options;
  const seconds = new Counter({
    name: INFERENCE_SECONDS_METRIC,
    help: 'Seconds spent inside inference calls (describeScene, renderVideoChunk, renderAudioChunk, scoreSafety), summed over concurrent calls',
    labelNames: ['call'] as const,
    registers: [registry],
  });
  // Busy time: the calls finished, plus the running ones so far; sampled at each scrape to take the last minute's.
  let finishedSeconds = 0;
  const running = new Set<{ started: bigint }>();
  const busySeconds = (now: bigint) => finishedSeconds + [...running].reduce((sum, call) => sum + Number(now - call.started) / 1e9, 0);
  const samples: { at: bigint; busy: number }[] = [{ at: process.hrtime.bigint(), busy: 0 }];
  new Gauge({
    name: BUSY_FRACTION_METRIC,
    help: 'Share of the GPU slots (GPU_CONCURRENCY) spent inside inference over the last minute',
    registers: [registry],
    collect() {
      const now = process.hrtime.bigint();
      const sample = { at: now, busy: busySeconds(now) };
      // The oldest sample kept is the newest one at least a window old, so the fraction covers a full minute.
      while (samples.length > 1 && Number(now - samples[1]!.at) / 1e6 >= BUSY_WINDOW_MS) samples.shift();
      const first = samples[0]!;
      const wall = Number(now - first.at) / 1e9;
      samples.push(sample);
      this.set(wall > 0 ? Math.min(1, (sample.busy - first.busy) / (wall * options.concurrency)) : 0);
    },
  });
  return {
    finishedSeconds: () => finishedSeconds,
    timed<A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) {
      seconds.inc({ call: name }, 0);
      return (...args: A): Promise<R> =>
        tracer.startActiveSpan(`inference ${name}`, async (span) => {
          const started = process.hrtime.bigint();
          const call = { started };
          running.add(call);
          try {
            return await fn(...args);
          } catch (err) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
            throw err;
          } finally {
            running.delete(call);
            const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
            finishedSeconds += elapsed;
            seconds.inc({ call: name }, elapsed);
            span.end();
          }
        });
    },
  };
}

/** `engine` with its scene, video and audio calls counted, timed and traced by `meter`. */
export function meteredEngine(engine: Engine, meter: InferenceMeter): Engine {
  return {
    get pack() {
      return engine.pack;
    },
    get provider() {
      return engine.provider;
    },
    get report() {
      return engine.report;
    },
    get upscaler() {
      return engine.upscaler;
    },
    describeScene: meter.timed('describeScene', (prompt: string, seed: number, size: string) => engine.describeScene(prompt, seed, size)),
    renderVideoChunk: meter.timed('renderVideoChunk', (request: Parameters<Engine['renderVideoChunk']>[0]) => engine.renderVideoChunk(request)),
    renderAudioChunk: meter.timed('renderAudioChunk', (request: Parameters<Engine['renderAudioChunk']>[0]) => engine.renderAudioChunk(request)),
    eventWindow: (previous, current, startFrame) => engine.eventWindow(previous, current, startFrame),
    close: () => engine.close(),
  };
}

/** `classifier` with its scoring counted, timed and traced by `meter` as the call `scoreSafety`. */
export function meteredSafety(classifier: SafetyClassifier, meter: InferenceMeter): SafetyClassifier {
  return {
    modelPath: classifier.modelPath,
    provider: classifier.provider,
    score: meter.timed('scoreSafety', (rgb: Uint8Array, count: number) => classifier.score(rgb, count)),
    close: () => classifier.close(),
  };
}
