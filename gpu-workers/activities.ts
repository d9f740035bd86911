// The GPU task queue's activities: render one video chunk or one audio chunk of a video and store it in the blob
// store, and score a rendered chunk's sampled frames with the safety classifier. A chunk's final physics state and
// event track are stored beside it, so chunk i+1 (and a retry of it on any worker) starts from exactly what chunk i
// recorded, and audio chunk i finds the events it must sound.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ScoredFrame } from '../domain/moderation/outputSafety';
import type { Collision } from '../domain/video/events';
import type { BlobStore } from '../infra/blobs';
import type { WatermarkSettings } from '../infra/config';
import type { Logger } from '../infra/logger';
import { refusedInput, type Ffmpeg } from '../infra/media/ffmpeg';
import { measureSegmentFlashes } from '../infra/media/flashes';
import { loadLikeness } from '../infra/media/likeness';
import type { Backdrop, Cameo, Engine, Scene, VideoChunk } from './engine/engine';
import { InvalidRenderInput } from './engine/errors';
import { parseSize } from './engine/manifest';
import { SAFETY_INPUT_SIDE, SAFETY_RESIZE_SIDE, type SafetyClassifier } from './engine/safety';
import { renderInSlices } from './engine/slices';
import { promptMentions, remixScene, vocabularyOf } from './engine/remix';
import { writeAudioSegment, writeVideoSegment } from './engine/segments';
import { watermarkChunk } from './engine/watermark';

export interface ChunkJob {
  videoId: string;
  index: number;
  startFrame: number;
  numFrames: number;
  prompt: string;
  seed: number;
  size: string;
  style: string;
  camera: string;
  /** The likeness to render into the video (a verified cameo's asset in the blob store). */
  cameo?: { likenessKey: string };
  /** The video's input_reference image (PNG or JPEG in the blob store): the backdrop, scaled and cropped to the frame. */
  backdrop?: { key: string };
  /** The scene to render (the one the video recorded: a remix's or an extension's); absent, described from the prompt. */
  scene?: Scene;
  /**
   * Where the chunk before this one lives when it is not this video's chunk index - 1: an extension's first chunk
   * continues from its source's last carry and event track.
   */
  previous?: { videoId: string; index: number };
  /**
   * The video's chunks after this one, in order. The worker renders them ahead (up to GPU_LOOKAHEAD_CHUNKS past the
   * latest chunk asked for, on free slots), each from the one before, so the device does not idle while the workflow
   * records a chunk and schedules the next; a chunk's activity then takes those frames (the render is deterministic)
   * instead of rendering them again.
   */
  upcoming?: { startFrame: number; numFrames: number }[];
}

export interface DescribeSceneInput {
  videoId: string;
  prompt: string;
  seed: number;
  size: string;
  /** A remix: this scene (the parent's, as recorded) changed by what the prompt's words set. */
  remixOf?: Scene;
}

export interface VideoChunkResult {
  blob_key: string;
  frames: number;
  collisions: Collision[];
}

export interface AudioChunkResult {
  blob_key: string;
  samples: number;
}

/**
 * One chunk whole (renderChunk): its video segment, its audio, its segment's flash measurement and its sampled frames'
 * safety scores, each stored in the blob store as the separate activities store them.
 */
export interface ChunkResult {
  video: VideoChunkResult;
  audio: AudioChunkResult;
  /** The flash measurement of the segment as decoded (infra/media/flashes.ts): what the output review reads. */
  measurement: { measurementKey: string; frames: number };
  safety: SegmentSafetyResult;
}

export interface SegmentSafetyInput {
  /** A rendered chunk's segment (VideoChunkResult.blob_key). */
  segmentKey: string;
  /** Its frames. */
  numFrames: number;
}

export interface SegmentSafetyResult {
  segment_key: string;
  frames: ScoredFrame[];
}

/** Frames of each chunk the safety classifier scores: one a third of a second apart in a 24-frame chunk. */
export const SAFETY_SAMPLES_PER_CHUNK = 3;

/** The frames sampled from a segment of `numFrames`: the middles of `samples` equal stretches, so no two coincide. */
export function safetySampleFrames(numFrames: number, samples = SAFETY_SAMPLES_PER_CHUNK): number[] {
  if (!Number.isInteger(numFrames) || numFrames < 1) throw new RangeError(`a segment of ${numFrames} frames has none to score`);
  const n = Math.min(samples, numFrames);
  return Array.from({ length: n }, (_, i) => Math.floor(((i + 0.5) * numFrames) / n));
}

const KINDS: Collision['kind'][] = ['floor', 'wall', 'body'];

function carriedKey(videoId: string, index: number): string {
  return `videos/${videoId}/chunks/${String(index).padStart(3, '0')}.carry.json`;
}

function eventsKey(videoId: string, index: number): string {
  return `videos/${videoId}/chunks/${String(index).padStart(3, '0')}.events.f32`;
}

/** Collisions of an event track ([F, substeps, bodies, 4]: speed, sample in frame, x, kind). */
export function collisionsOf(events: Float32Array, startFrame: number, samplesPerFrame: number, frameSize: number): Collision[] {
  const out: Collision[] = [];
  const frames = events.length / frameSize;
  const bodies = 8;
  for (let f = 0; f < frames; f++) {
    for (let i = f * frameSize; i < (f + 1) * frameSize; i += 4) {
      const speed = events[i]!;
      if (speed <= 0) continue;
      const body = Math.floor((i - f * frameSize) / 4) % bodies;
      out.push({
        frame: startFrame + f,
        sample: (startFrame + f) * samplesPerFrame + events[i + 1]!,
        speed: Math.round(speed * 1e4) / 1e4,
        body,
        kind: KINDS[Math.round(events[i + 3]!) - 1] ?? 'body',
      });
    }
  }
  return out;
}

/**
 * At most `limit` holders at once; the rest wait in order. A waiting activity heartbeats, so a long queue inside
 * the worker is not mistaken for a dead one, and notices its cancellation.
 */
class Slots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      const ctx = Context.current();
      const turn = new Promise<void>((resolve) => this.waiting.push(resolve));
      const beat = setInterval(() => ctx.heartbeat({ waitingForSlot: true }), 1000);
      try {
        await Promise.race([turn, ctx.cancelled]);
      } catch (err) {
        // Cancelled while waiting: give the turn, when it comes, to the next in line.
        void turn.then(() => this.release());
        throw err;
      } finally {
        clearInterval(beat);
      }
    } else {
      this.active++;
    }
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  /** `work` on a slot if one is free now (nobody waits for it); undefined, and `work` not started, if none is. */
  tryRun<T>(work: () => Promise<T>): Promise<T> | undefined {
    if (this.active >= this.limit) return undefined;
    this.active++;
    return work().finally(() => this.release());
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

/** How long a chunk rendered ahead is kept for its activity (in memory: a 720x1280 chunk's frames are 66 MB). */
const AHEAD_TTL_MS = 60_000;
/**
 * How far past the latest chunk asked for the worker renders, by default (GPU_LOOKAHEAD_CHUNKS): enough to cover the
 * workflow's round trip between two chunks when that takes longer than a chunk's render (a small video on a busy
 * orchestration), few enough to keep the frames held in memory bounded.
 */
export const DEFAULT_LOOKAHEAD_CHUNKS = 2;
/** Videos whose latest asked chunk is remembered (a video cancelled midway is forgotten in turn). */
const ASKED_VIDEOS = 256;

type AheadKind = 'video' | 'audio';

/** Everything a chunk's render depends on: a chunk rendered ahead is taken only by an activity asking for exactly it. */
function aheadKey(job: ChunkJob, kind: AheadKind): string {
  return JSON.stringify([
    kind,
    job.videoId,
    job.index,
    job.startFrame,
    job.numFrames,
    job.prompt,
    job.seed,
    job.size,
    job.style,
    job.camera,
    job.cameo?.likenessKey ?? null,
    job.backdrop?.key ?? null,
    job.scene ?? null,
    job.previous ?? null,
  ]);
}

/**
 * Chunks rendered ahead of their activities, on slots nobody was waiting for. Nothing is stored until the chunk's
 * own activity takes the result (so a cancelled or deleted video leaves no files behind); a worker that dies loses
 * them, and the activities render those chunks again from what the previous chunks stored.
 */
class RenderAhead {
  private readonly pending = new Map<string, AheadEntry>();

  /**
   * Starts `work` for `job` if a slot is free and it is not already under way. `progress` throws once the render is
   * abandoned, and otherwise keeps its details for the heartbeats of the activity that takes it.
   */
  start<T>(
    job: ChunkJob,
    kind: AheadKind,
    slots: Slots,
    work: (progress: (details?: Record<string, unknown>) => void) => Promise<T>,
    then?: (result: T) => void,
  ): void {
    const key = aheadKey(job, kind);
    const existing = this.pending.get(key);
    if (existing) {
      // Under way: its own `then` follows. Done: follow it now (the chain may have stopped at the lookahead).
      if (existing.done) then?.(existing.done.value as T);
      return;
    }
    let abandoned = false;
    const entry: AheadEntry = {
      result: Promise.resolve(),
      details: { renderingAhead: true },
      abandon: () => {
        abandoned = true;
        clearTimeout(entry.timer);
        if (this.pending.get(key) === entry) this.pending.delete(key);
      },
    };
    const result = slots.tryRun(() =>
      work((details) => {
        if (abandoned) throw new Error(`${kind} chunk ${job.index} of ${job.videoId} rendered ahead: no longer wanted`);
        if (details) entry.details = { ...details, renderingAhead: true };
      }),
    );
    if (!result) return;
    entry.result = result;
    this.pending.set(key, entry);
    result.then(
      (done) => {
        entry.done = { value: done };
        entry.timer = setTimeout(entry.abandon, AHEAD_TTL_MS).unref();
        if (!abandoned) then?.(done);
      },
      () => entry.abandon(),
    );
  }

  /**
   * The chunk rendered (or being rendered) ahead for `job`, waited for while heartbeating its progress; undefined
   * when none was started or it failed (the caller renders it itself). The activity's cancellation abandons it.
   */
  async take<T>(job: ChunkJob, kind: AheadKind): Promise<T | undefined> {
    const key = aheadKey(job, kind);
    const entry = this.pending.get(key);
    if (!entry) return undefined;
    this.pending.delete(key);
    clearTimeout(entry.timer);
    const ctx = Context.current();
    ctx.heartbeat(entry.details);
    const beat = setInterval(() => ctx.heartbeat(entry.details), 1000);
    try {
      return (await Promise.race([entry.result, ctx.cancelled])) as T;
    } catch (err) {
      if (ctx.cancellationSignal.aborted) {
        entry.abandon();
        throw err;
      }
      return undefined;
    } finally {
      clearInterval(beat);
    }
  }
}

interface AheadEntry {
  result: Promise<unknown>;
  /** The latest progress of the render, for the heartbeats of the activity waiting for it. */
  details: Record<string, unknown>;
  /** Set once the render is done. */
  done?: { value: unknown };
  abandon(): void;
  timer?: NodeJS.Timeout;
}

/** What a chunk's frames wear besides the scene: a likeness on a body, an image behind it. */
interface Looks {
  cameo?: Cameo;
  backdrop?: Backdrop;
}

/** Decoded backdrops by key and size: every chunk of a video paints the same one. */
const BACKDROP_CACHE_SIZE = 8;

/** Scenes by prompt, seed and size: the video and audio activities of one video describe the same scene. */
const SCENE_CACHE_SIZE = 32;

/**
 * The GPU worker's Temporal options for `concurrency` GPU slots: each slot renders one video chunk and, beside it,
 * one audio chunk (audio chunk i runs while video chunk i+1 does) and the safety scoring of the chunk before, so the
 * worker takes three times as many tasks.
 */
export function gpuWorkerOptions(concurrency: number) {
  return {
    maxConcurrentActivityTaskExecutions: 3 * concurrency,
    // Heartbeats reach the server (and cancellations come back) at least every second, not every 16 s.
    maxHeartbeatThrottleInterval: '1 second',
  } as const;
}

function checkCancelled(): void {
  const ctx = Context.current();
  if (!ctx.cancellationSignal.aborted) return;
  // The worker is stopping and the chunk's drain time is up: the attempt fails, retryable, and Temporal gives the chunk
  // to another worker at once (the history shows why), not after a heartbeat timeout.
  const shutdown = ctx.cancellationDetails?.workerShutdown || (ctx.cancellationSignal.reason as Error | undefined)?.message === 'WORKER_SHUTDOWN';
  if (shutdown && !ctx.cancellationDetails?.cancelRequested) {
    throw ApplicationFailure.retryable('the GPU worker is shutting down: chunk handed back', WORKER_SHUTDOWN_FAILURE);
  }
  throw new CancelledFailure('chunk rendering cancelled');
}

/** The error type of a chunk's attempt cut short by its worker's shutdown. */
export const WORKER_SHUTDOWN_FAILURE = 'WorkerShutdown';

/**
 * An input the engine refuses (InvalidRenderInput: a prompt it cannot take, a scene of another pack) is refused on
 * every attempt and every worker: the activity fails non-retryably, so the video fails at once instead of after ten
 * retries.
 */
function finalOnRefusal<A extends unknown[], R>(activity: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await activity(...args);
    } catch (err) {
      if (err instanceof InvalidRenderInput) throw ApplicationFailure.nonRetryable(err.message, 'InvalidRenderInput');
      throw err;
    }
  };
}

export function createGpuActivities(deps: {
  engine: Engine;
  blobs: BlobStore;
  ffmpeg: Ffmpeg;
  logger: Logger;
  /** The output safety classifier (open_nsfw); the GPU worker always loads one, a test that scores no output may not. */
  safety?: SafetyClassifier;
  concurrency?: number;
  lookaheadChunks?: number;
  /**
   * The visible mark drawn into every frame before its chunk is encoded (WATERMARK*), or 'off'. Required, not
   * defaulted: it is part of what makes a chunk, so every GPU worker of a deployment must be given the same.
   */
  watermark: WatermarkSettings | 'off';
  /** Told each video chunk's render time (its frames, slice by slice, whether asked for or ahead), for /metrics. */
  onChunkRendered?: (seconds: number) => void;
}) {
  const lookahead = deps.lookaheadChunks ?? DEFAULT_LOOKAHEAD_CHUNKS;
  const { engine, blobs } = deps;
  const manifest = engine.pack.manifest;
  const fps = manifest.fps;
  const samplesPerFrame = manifest.samples_per_frame;
  const scenes = new Map<string, Promise<Scene>>();
  const sceneOf = (job: ChunkJob): Promise<Scene> => {
    // A recorded scene is the scene: nothing to describe, and the prompt (a remix's) would not give it back. The cache
    // is keyed on everything that makes a described one.
    if (job.scene) return Promise.resolve(job.scene);
    const key = `${job.prompt}\u0000${job.seed}\u0000${job.size}`;
    let scene = scenes.get(key);
    if (scene) {
      scenes.delete(key); // re-inserted below: the map's order is least recently used first
    } else {
      scene = engine.describeScene(job.prompt, job.seed, job.size);
      scene.catch(() => scenes.delete(key));
    }
    scenes.set(key, scene);
    if (scenes.size > SCENE_CACHE_SIZE) scenes.delete(scenes.keys().next().value!);
    return scene;
  };
  const likenessOf = async (job: ChunkJob): Promise<Cameo | undefined> => (job.cameo ? await loadLikeness(blobs, job.cameo.likenessKey) : undefined);
  const backdrops = new Map<string, Promise<Backdrop>>();
  const backdropOf = (job: ChunkJob): Promise<Backdrop> | undefined => {
    if (!job.backdrop) return undefined;
    const key = `${job.backdrop.key}\u0000${job.size}`;
    let backdrop = backdrops.get(key);
    if (backdrop)
      backdrops.delete(key); // re-inserted below: least recently used first
    else {
      backdrop = decodeBackdrop(job.backdrop.key, job.size);
      backdrop.catch(() => backdrops.delete(key));
    }
    backdrops.set(key, backdrop);
    if (backdrops.size > BACKDROP_CACHE_SIZE) backdrops.delete(backdrops.keys().next().value!);
    return backdrop;
  };
  const looksOf = async (job: ChunkJob): Promise<Looks> => {
    const [cameo, backdrop] = await Promise.all([likenessOf(job), backdropOf(job)]);
    return { ...(cameo ? { cameo } : {}), ...(backdrop ? { backdrop } : {}) };
  };
  const videoSlots = new Slots(deps.concurrency ?? 1);
  const audioSlots = new Slots(deps.concurrency ?? 1);
  const ahead = new RenderAhead();
  /** The latest chunk index each video's activities have asked for: how far ahead its rendering may go. */
  const asked = new Map<string, number>();
  const markAsked = (videoId: string, index: number) => {
    asked.delete(videoId); // re-inserted last: the map's order is least recently asked first
    asked.set(videoId, index);
    if (asked.size > ASKED_VIDEOS) asked.delete(asked.keys().next().value!);
  };

  return {
    describeVideoScene: finalOnRefusal(describeVideoScene),
    renderVideoChunk: finalOnRefusal(renderVideoChunk),
    renderAudioChunk: finalOnRefusal(renderAudioChunk),
    renderChunk: finalOnRefusal(renderChunk),
    scoreSegmentSafety,
  };

  /**
   * A chunk in one activity: its video (as renderVideoChunk), then its audio, its segment's flash measurement and its
   * frames' safety scores side by side. One task and one result per chunk instead of four, so the workflow records the
   * chunk in one append; the measurement runs here, beside the GPU, rather than in an activity of its own.
   */
  async function renderChunk(job: ChunkJob): Promise<ChunkResult> {
    const frame = parseSize(job.size);
    if (!frame) throw new InvalidRenderInput('size', `${job.size} is not WIDTHxHEIGHT`);
    const video = await renderVideoChunk(job);
    const segment = { segmentKey: video.blob_key, width: frame.width, height: frame.height };
    const [audio, measurement, safety] = await Promise.all([
      renderAudioChunk(job),
      measureSegmentFlashes({ blobs, ffmpeg: deps.ffmpeg }, segment),
      scoreSegmentSafety({ segmentKey: video.blob_key, numFrames: video.frames }),
    ]);
    return { video, audio, measurement, safety };
  }

  /**
   * Scores sampled frames of a rendered chunk's segment with the safety classifier, for the output review. The
   * segment is decoded from the blob store (with the pinned ffmpeg), not taken from the frames this worker rendered:
   * it is what the MP4 will hold (the mux copies it), any GPU worker can score it (a retry, a chunk rendered
   * elsewhere), and the render's frames need not be kept in memory until then. Each sampled frame is resized to
   * 256x256 and its centre 224x224 cropped (open_nsfw's reference preprocessing), stored as the JPEG the classifier
   * then reads back (the reference also scores a JPEG round trip), so a moderator sees exactly what was scored.
   */
  async function scoreSegmentSafety(input: SegmentSafetyInput): Promise<SegmentSafetyResult> {
    const classifier = deps.safety;
    if (!classifier) throw new Error('this GPU worker has no safety classifier loaded');
    const ctx = Context.current();
    const sampled = safetySampleFrames(input.numFrames);
    const crop = (SAFETY_RESIZE_SIDE - SAFETY_INPUT_SIDE) / 2;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelforge-safety-'));
    try {
      const segment = path.join(dir, 'segment.ts');
      await fs.writeFile(segment, await blobs.get(input.segmentKey));
      const filters = [
        `select=${sampled.map((f) => `eq(n\\,${f})`).join('+')}`,
        // Our segments are BT.709, limited range; JPEG (JFIF) is BT.601, full range.
        `scale=${SAFETY_RESIZE_SIDE}:${SAFETY_RESIZE_SIDE}:flags=bilinear:in_color_matrix=bt709:in_range=tv:out_color_matrix=bt601:out_range=pc`,
        `crop=${SAFETY_INPUT_SIDE}:${SAFETY_INPUT_SIDE}:${crop}:${crop}`,
        'format=yuvj444p',
      ];
      const pattern = path.join(dir, 'frame-%02d.jpg');
      await deps.ffmpeg.run(
        ['-i', segment, '-vf', filters.join(','), '-fps_mode', 'passthrough', '-an', '-q:v', '3', '-f', 'image2', pattern],
        `sampling frames of ${input.segmentKey}`,
      );
      ctx.heartbeat({ sampled: sampled.length });
      const rgb = await deps.ffmpeg.run(
        ['-i', pattern, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'],
        `reading back the sampled frames of ${input.segmentKey}`,
      );
      const frameBytes = SAFETY_INPUT_SIDE * SAFETY_INPUT_SIDE * 3;
      if (rgb.length !== sampled.length * frameBytes) {
        throw ApplicationFailure.nonRetryable(
          `${input.segmentKey} gave ${Math.floor(rgb.length / frameBytes)} of the ${sampled.length} frames sampled (${sampled.join(', ')}): does it hold ${input.numFrames} frames?`,
          'InvalidRenderInput',
        );
      }
      checkCancelled();
      const scores = await classifier.score(new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.length), sampled.length);
      const frames: ScoredFrame[] = [];
      for (const [i, frame] of sampled.entries()) {
        const key = `${input.segmentKey}.safety-${String(frame).padStart(3, '0')}.jpg`;
        await blobs.put(key, await fs.readFile(path.join(dir, `frame-${String(i + 1).padStart(2, '0')}.jpg`)));
        frames.push({ segment_key: input.segmentKey, frame, blob_key: key, nsfw: Math.round(scores[i]! * 1e6) / 1e6 });
      }
      return { segment_key: input.segmentKey, frames };
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  /** The scene a video's chunks will render: its prompt's, or (a remix) its parent's changed by the prompt's words. */
  async function describeVideoScene(input: DescribeSceneInput): Promise<Scene> {
    const described = await sceneOf({
      videoId: input.videoId,
      index: 0,
      startFrame: 0,
      numFrames: 1,
      prompt: input.prompt,
      seed: input.seed,
      size: input.size,
      style: '',
      camera: '',
    });
    if (!input.remixOf) return described;
    try {
      return remixScene(input.remixOf, described, promptMentions(input.prompt, vocabularyOf(engine.pack)));
    } catch (err) {
      // A remix that cannot be made now cannot be made on a retry either.
      throw ApplicationFailure.nonRetryable((err as Error).message, 'InvalidRenderInput');
    }
  }

  /**
   * The image as the frame's backdrop: scaled to cover the frame and cropped to it, centred (as a wallpaper fills a
   * screen), decoded once to RGB. An image ffmpeg cannot decode fails the video at once: a retry would not decode it.
   */
  async function decodeBackdrop(key: string, size: string): Promise<Backdrop> {
    const frame = parseSize(size);
    if (!frame) throw ApplicationFailure.nonRetryable(`size ${size} is not WIDTHxHEIGHT`, 'InvalidRenderInput');
    const { width, height } = frame;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelforge-backdrop-'));
    try {
      const file = path.join(dir, 'input_reference');
      await fs.writeFile(file, await blobs.get(key));
      let decoded: { frames: Uint8Array; count: number };
      try {
        decoded = await deps.ffmpeg.decodeFrames(file, { width, height, maxFrames: 1, cover: true });
      } catch (err) {
        if (refusedInput(err))
          throw ApplicationFailure.nonRetryable(`the input_reference image ${key} could not be decoded: ${err.message}`, 'InvalidRenderInput');
        throw err;
      }
      if (decoded.count < 1) throw ApplicationFailure.nonRetryable(`the input_reference image ${key} holds no picture`, 'InvalidRenderInput');
      return { width, height, rgb: decoded.frames.slice(0, width * height * 3) };
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  /** Where the chunk before `job` stored its carry and event track. */
  function previousOf(job: ChunkJob): { videoId: string; index: number } | undefined {
    return job.index > 0 ? { videoId: job.videoId, index: job.index - 1 } : job.previous;
  }

  /** What the engine renders for `job`'s chunk from `state` (its starting state), slice by slice. */
  async function renderFrames(job: ChunkJob, scene: Scene, looks: Looks, state: ArrayLike<number>, beat: (framesDone: number) => void): Promise<VideoChunk> {
    const started = process.hrtime.bigint();
    const chunk = await renderInSlices(
      engine,
      { scene, state, startFrame: job.startFrame, numFrames: job.numFrames, size: job.size, style: job.style, camera: job.camera, ...looks },
      beat,
    );
    deps.onChunkRendered?.(Number(process.hrtime.bigint() - started) / 1e9);
    return chunk;
  }

  async function renderVideoChunk(job: ChunkJob): Promise<VideoChunkResult> {
    const ctx = Context.current();
    const log = deps.logger.child({ videoId: job.videoId, chunk: job.index, attempt: ctx.info.attempt });
    const scene = await sceneOf(job);
    const looks = await looksOf(job);
    const heartbeat = (framesDone: number) => {
      checkCancelled();
      ctx.heartbeat({ framesDone, frames: job.numFrames });
    };
    let rendered = await ahead.take<VideoChunk>(job, 'video');
    if (rendered) log.debug('video chunk rendered ahead');
    else {
      rendered = await videoSlots.run(async () => {
        let state: ArrayLike<number> = scene.initialState;
        const previous = previousOf(job);
        if (previous) {
          // A retried or moved chunk starts from the state the previous chunk recorded, never from a guess.
          state = (JSON.parse((await blobs.get(carriedKey(previous.videoId, previous.index))).toString('utf8')) as { state: number[] }).state;
        }
        checkCancelled();
        return renderFrames(job, scene, looks, state, heartbeat);
      });
    }
    checkCancelled();
    // The slot is free again: the next chunk starts from this one's final state while this one is stored.
    markAsked(job.videoId, job.index);
    renderAheadAfter(job, rendered, scene, looks);
    const segment = await writeVideoSegment({
      blobs,
      ffmpeg: deps.ffmpeg,
      videoId: job.videoId,
      index: job.index,
      startFrame: job.startFrame,
      fps,
      // Marked after the engine and after the next chunk was started from this one, just before encoding: the frames
      // rendered (and those rendered ahead) stay the engine's own, and every output made from the segment (the MP4,
      // the live preview's fragments, the thumbnail and the spritesheet) carries the mark.
      video: watermarkChunk(rendered, deps.watermark),
    });
    const { events } = rendered;
    await blobs.put(eventsKey(job.videoId, job.index), new Uint8Array(events.buffer, events.byteOffset, events.byteLength));
    // Written last: its presence means the chunk is whole, and the next chunk continues from it.
    await blobs.put(
      carriedKey(job.videoId, job.index),
      Buffer.from(JSON.stringify({ state: Array.from(rendered.state), startFrame: job.startFrame, numFrames: job.numFrames })),
    );
    // This chunk's audio can start now too: its event track is stored, and so is the one before it.
    if (lookahead > 0) ahead.start(job, 'audio', audioSlots, (progress) => renderAudio(job, scene, looks.cameo, () => progress()));
    const collisions = collisionsOf(events, job.startFrame, samplesPerFrame, events.length / job.numFrames);
    log.debug({ bytes: segment.bytes, collisions: collisions.length }, 'video chunk rendered');
    return { blob_key: segment.key, frames: job.numFrames, collisions };
  }

  /**
   * Renders the chunk after `job` ahead, from `rendered` (job's frames), and on from there while it stays within
   * `lookahead` chunks of the latest chunk asked for.
   */
  function renderAheadAfter(job: ChunkJob, rendered: VideoChunk, scene: Scene, looks: Looks): void {
    const [following, ...rest] = job.upcoming ?? [];
    if (!following) {
      asked.delete(job.videoId);
      return;
    }
    const next: ChunkJob = {
      ...job,
      index: job.index + 1,
      startFrame: following.startFrame,
      numFrames: following.numFrames,
      previous: undefined,
      upcoming: rest,
    };
    if (next.index > (asked.get(job.videoId) ?? job.index) + lookahead) return;
    ahead.start(
      next,
      'video',
      videoSlots,
      (progress) => renderFrames(next, scene, looks, rendered.state, (framesDone) => progress({ framesDone, frames: next.numFrames })),
      (done) => renderAheadAfter(next, done, scene, looks),
    );
  }

  /** A chunk's audio, from the event tracks stored for it and the chunk before it. */
  async function renderAudio(job: ChunkJob, scene: Scene, cameo: Cameo | undefined, wanted: () => void = checkCancelled): Promise<Float32Array> {
    const readEvents = async (videoId: string, index: number) => {
      const buf = await blobs.get(eventsKey(videoId, index));
      return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    };
    const current = await readEvents(job.videoId, job.index);
    const before = previousOf(job);
    const previous = before ? await readEvents(before.videoId, before.index) : undefined;
    wanted();
    return engine.renderAudioChunk({
      scene,
      events: engine.eventWindow(previous, current, job.startFrame),
      startFrame: job.startFrame,
      numFrames: job.numFrames,
      ...(cameo ? { cameo } : {}),
    });
  }

  async function renderAudioChunk(job: ChunkJob): Promise<AudioChunkResult> {
    const ctx = Context.current();
    const scene = await sceneOf(job);
    const cameo = await likenessOf(job);
    const audio = (await ahead.take<Float32Array>(job, 'audio')) ?? (await audioSlots.run(() => renderAudio(job, scene, cameo)));
    checkCancelled();
    ctx.heartbeat({ samples: audio.length / 2 });
    const segment = await writeAudioSegment({ blobs, videoId: job.videoId, index: job.index, sampleRateHz: manifest.sample_rate_hz, audio });
    return { blob_key: segment.key, samples: segment.samples };
  }
}

export type GpuActivities = ReturnType<typeof createGpuActivities>;
