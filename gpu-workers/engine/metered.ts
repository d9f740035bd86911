// Time inside inference, for the GPU worker's /metrics: the engine's calls timed as they run (several at once with
// GPU_CONCURRENCY > 1, each counted). Divided by wall time times GPU_CONCURRENCY it is how busy the GPU was
// (`npm run bench:scaling` reports it per GPU host).
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import type { Engine } from './engine';

export const INFERENCE_SECONDS_METRIC = 'reelforge_gpu_inference_seconds_total';

export interface MeteredEngine {
  engine: Engine;
  registry: Registry;
}

/** `engine` with its scene, video and audio calls counted in `reelforge_gpu_inference_seconds_total{call}`. */
export function meteredEngine(engine: Engine): MeteredEngine {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'reelforge_' });
  const seconds = new Counter({
    name: INFERENCE_SECONDS_METRIC,
    help: 'Seconds spent inside inference calls (describeScene, renderVideoChunk, renderAudioChunk), summed over concurrent calls',
    labelNames: ['call'] as const,
    registers: [registry],
  });
  const timed = <A extends unknown[], R>(call: string, fn: (...args: A) => Promise<R>) => {
    seconds.inc({ call }, 0);
    return async (...args: A): Promise<R> => {
      const started = process.hrtime.bigint();
      try {
        return await fn(...args);
      } finally {
        seconds.inc({ call }, Number(process.hrtime.bigint() - started) / 1e9);
      }
    };
  };
  const metered: Engine = {
    get pack() {
      return engine.pack;
    },
    get provider() {
      return engine.provider;
    },
    get report() {
      return engine.report;
    },
    describeScene: timed('describeScene', (prompt: string, seed: number, size: string) => engine.describeScene(prompt, seed, size)),
    renderVideoChunk: timed('renderVideoChunk', (request: Parameters<Engine['renderVideoChunk']>[0]) => engine.renderVideoChunk(request)),
    renderAudioChunk: timed('renderAudioChunk', (request: Parameters<Engine['renderAudioChunk']>[0]) => engine.renderAudioChunk(request)),
    eventWindow: (previous, current, startFrame) => engine.eventWindow(previous, current, startFrame),
    close: () => engine.close(),
  };
  return { engine: metered, registry };
}
