// The baseline of bench:pipeline's orchestration overhead: the same video rendered and muxed directly, in a process
// of its own (a clean one, as the GPU worker's is: no Temporal worker, API or projector in it to slow its ffmpeg
// forks or its garbage collection). The engine, the GPU worker's chunking (video chunk i in slices, then audio chunk i
// beside video chunk i+1) and segment writers, and the mux activity's own code; no Temporal server, no event store, no
// moderation, no projection. scripts/bench/directRunner.ts is the process; startDirectRunner drives it over stdio.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { AutomatedVerdict, createModerationActivities } from '../../activities/moderation';
import type { createMuxActivities } from '../../activities/mux';
import { planChunks } from '../../domain/video';
import type { Engine } from '../../gpu-workers/engine/engine';
import { writeAudioSegment, writeVideoSegment } from '../../gpu-workers/engine/segments';
import { renderInSlices } from '../../gpu-workers/engine/slices';
import { watermarkChunk } from '../../gpu-workers/engine/watermark';
import type { FsBlobStore } from '../../infra/blobs';
import type { WatermarkSettings } from '../../infra/config';
import type { Ffmpeg } from '../../infra/media/ffmpeg';
import { startScript } from './child';

export interface DirectSpec {
  seconds: number;
  size: string;
  prompt: string;
  seed: number;
  style: string;
  camera: string;
  fps: number;
  framesPerChunk: number;
}

export interface DirectRun {
  totalMs: number;
  /** The scene, every chunk's video and audio, their segments. */
  renderMs: number;
  muxMs: number;
  /** One describeScene. */
  sceneMs: number;
  /** The output review's own compute (decode and flash analysis), run after and not part of totalMs. */
  reviewComputeMs: number;
  /** CPU seconds of the run for totalMs (the runner's process and the ffmpeg runs it waited for; not the review). */
  cpuS: number;
}

export interface DirectDeps {
  engine: Engine;
  ffmpeg: Ffmpeg;
  blobs: FsBlobStore;
  mux: ReturnType<typeof createMuxActivities>;
  moderation: ReturnType<typeof createModerationActivities>;
  /** CPU seconds used so far by this process and the children it has waited for. */
  cpu: () => number;
  /** The GPU worker's mark (WATERMARK*), drawn as it draws it: part of a chunk's cost. */
  watermark: WatermarkSettings | 'off';
}

export async function renderDirect(deps: DirectDeps, spec: DirectSpec): Promise<DirectRun> {
  const { engine, blobs, ffmpeg } = deps;
  const videoId = `direct_${randomUUID().replace(/-/g, '')}`;
  const [width, height] = spec.size.split('x').map(Number) as [number, number];
  try {
    const cpuBefore = deps.cpu();
    const started = performance.now();
    const scene = await engine.describeScene(spec.prompt, spec.seed, spec.size);
    const sceneMs = performance.now() - started;
    const plan = planChunks(spec.seconds, spec.fps, spec.framesPerChunk);
    const videoKeys: string[] = [];
    const audioKeys: string[] = [];
    let state: ArrayLike<number> = scene.initialState;
    let previousEvents: Float32Array | undefined;
    let audio: Promise<void> = Promise.resolve();
    for (const chunk of plan) {
      const video = await renderInSlices(engine, {
        scene,
        state,
        startFrame: chunk.start_frame,
        numFrames: chunk.num_frames,
        size: spec.size,
        style: spec.style,
        camera: spec.camera,
      });
      state = video.state;
      const allEvents = video.events;
      // Encoded before the next chunk renders: on one core, overlapping the two measured slower than this.
      const segment = await writeVideoSegment({
        blobs,
        ffmpeg,
        videoId,
        index: chunk.index,
        startFrame: chunk.start_frame,
        fps: spec.fps,
        video: watermarkChunk(video, deps.watermark),
      });
      videoKeys[chunk.index] = segment.key;
      const previous = previousEvents;
      previousEvents = allEvents;
      const previousAudio = audio;
      audio = (async () => {
        await previousAudio;
        const pcm = await engine.renderAudioChunk({
          scene,
          events: engine.eventWindow(previous, allEvents, chunk.start_frame),
          startFrame: chunk.start_frame,
          numFrames: chunk.num_frames,
        });
        audioKeys[chunk.index] = (
          await writeAudioSegment({ blobs, videoId, index: chunk.index, sampleRateHz: engine.pack.manifest.sample_rate_hz, audio: pcm })
        ).key;
      })();
      audio.catch(() => undefined);
    }
    await audio;
    const rendered = performance.now();
    // The mux activity's code as is; the mock environment only gives its heartbeats somewhere to go.
    await new MockActivityEnvironment().run(deps.mux.muxVideo, {
      videoId,
      videoKeys,
      audioKeys,
      fps: spec.fps,
      width,
      height,
      provenance: { seed: spec.seed, cameos: [] },
    });
    const done = performance.now();
    const cpuS = deps.cpu() - cpuBefore;
    // The output review's compute: every segment decoded and measured, then the analysis.
    const measurementKeys: string[] = [];
    for (const segmentKey of videoKeys) measurementKeys.push((await deps.moderation.measureSegmentFlashes({ segmentKey, width, height })).measurementKey);
    const review: AutomatedVerdict = await new MockActivityEnvironment().run(deps.moderation.checkOutputFlashes, { measurementKeys, fps: spec.fps });
    if (review.verdict !== 'allow') throw new Error(`the bench video would be blocked by the output review (${review.reasons.join('; ')}): change the prompt`);
    return { totalMs: done - started, renderMs: rendered - started, muxMs: done - rendered, sceneMs, reviewComputeMs: performance.now() - done, cpuS };
  } finally {
    await blobs.deletePrefix(`videos/${videoId}/`).catch(() => undefined);
  }
}

export interface DirectRunnerInfo {
  pid: number;
  provider: string;
  threads: number;
  pack: string;
}

export interface DirectRunner {
  info: DirectRunnerInfo;
  /** One direct render (the next waits for it); timed from before the scene to after the mux. */
  run(spec: DirectSpec): Promise<DirectRun>;
  stop(): Promise<void>;
}

/** How long the direct runner may take to load the pack and warm it up. */
const START_MS = 120_000;

/**
 * scripts/bench/directRunner.ts as a child process (on `cpus` when given, with `env` over this process's), its
 * blobs under `blobsDir`. Runs are sent one at a time.
 */
export async function startDirectRunner(options: { blobsDir: string; cpus?: string; env?: Record<string, string> }): Promise<DirectRunner> {
  const runner = startScript('scripts/bench/directRunner.ts', {
    args: [options.blobsDir],
    ...(options.env ? { env: options.env } : {}),
    ...(options.cpus !== undefined ? { cpus: options.cpus } : {}),
    stdin: true,
  });
  const { child, exited } = runner;
  const waiting: { resolve(value: unknown): void; reject(err: Error): void }[] = [];
  const failAll = (why: string) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`the direct runner ${why}:\n${runner.tail()}`));
  };
  void exited.then((how) => failAll(`exited (${how})`));
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const message = JSON.parse(line) as { ok: true; value: unknown } | { ok: false; error: string };
    const next = waiting.shift();
    if (!next) return;
    if (message.ok) next.resolve(message.value);
    else next.reject(new Error(`direct run failed: ${message.error}`));
  });
  const reply = <T>(): Promise<T> => new Promise<T>((resolve, reject) => waiting.push({ resolve: resolve as (v: unknown) => void, reject }));
  // Its input closed, it ends after the run in progress.
  const stop = () => runner.stop((c) => c.stdin?.end(), 10_000);
  let timer: NodeJS.Timeout | undefined;
  try {
    const info = await Promise.race([
      reply<DirectRunnerInfo>(),
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`the direct runner did not start in ${START_MS / 1000} s:\n${runner.tail()}`)), START_MS)),
      ),
    ]);
    let queue: Promise<unknown> = Promise.resolve();
    return {
      info,
      run: (spec) => {
        const result = queue.then(() => {
          const answer = reply<DirectRun>();
          child.stdin!.write(`${JSON.stringify(spec)}\n`);
          return answer;
        });
        queue = result.catch(() => undefined);
        return result;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
