// The GPU queue (docs/architecture.md, "Queue position and estimates"): what "waiting for a GPU" means in the `videos`
// read model (gpuQueueColumns, folded by videos.ts), and the estimates for the videos waiting, pure functions over
// what the read model records of recent renders. No clock and no SQL here; videosQuery.ts feeds them.
import { isFinished, type VideoEvent, type VideoState } from '../domain/video';

export interface GpuQueueColumns {
  gpu_wait_since_ms: number | null;
  render_started_at: number | null;
}

/**
 * "Waiting for a GPU": from its ChunksPlanned (prompt allowed, cameos reserved, chunks planned: the workflow's next
 * step is its first activity on the gpu queue) until its first GPU output is recorded: SceneDescribed described on the
 * GPU (a prompt's or a remix's; an extension's is its source's, decided without one) or else its first
 * VideoChunkRendered. That output's time is its render start. A finished video waits for nothing.
 */
export function gpuQueueColumns(prev: GpuQueueColumns, event: VideoEvent, next: VideoState, recordedMs: number): GpuQueueColumns {
  if (isFinished(next)) return { gpu_wait_since_ms: null, render_started_at: prev.render_started_at };
  if (prev.render_started_at !== null) return prev;
  const gpuOutput = event.type === 'VideoChunkRendered' || (event.type === 'SceneDescribed' && event.data.source !== 'extension');
  if (gpuOutput) return { gpu_wait_since_ms: null, render_started_at: event.data.at };
  if (event.type === 'ChunksPlanned') return { gpu_wait_since_ms: recordedMs, render_started_at: null };
  return prev;
}

/** A completed video's render: from its first GPU output to completion (Unix seconds), for `seconds` of video. */
export interface RenderSample {
  seconds: number;
  startedAt: number;
  completedAt: number;
}

/** A video rendering now: started at `startedAt` (its first GPU output), not finished. */
export interface RenderingVideo {
  seconds: number;
  startedAt: number;
}

export interface RenderRates {
  /** Mean wall-clock seconds of rendering per second of video over the samples (sum of durations / sum of seconds). */
  secondsPerVideoSecond: number;
  /** GPU slots observed working: the most renders seen at once among the samples and now, at least 1. */
  slots: number;
}

/** How many of the samples' renders one wall-clock second saw at most; a render is [startedAt, completedAt), at least 1 s long. */
function maxOverlap(samples: readonly RenderSample[]): number {
  let most = 0;
  for (const a of samples) {
    const at = a.startedAt;
    const n = samples.filter((b) => b.startedAt <= at && at < Math.max(b.completedAt, b.startedAt + 1)).length;
    most = Math.max(most, n);
  }
  return most;
}

/** The rates of the recent renders, or null when there is none to measure (no estimate rather than a made-up one). */
export function renderRates(recent: readonly RenderSample[], rendering: readonly RenderingVideo[]): RenderRates | null {
  const usable = recent.filter((s) => s.seconds > 0 && s.completedAt >= s.startedAt);
  if (usable.length === 0) return null;
  const wall = usable.reduce((sum, s) => sum + (s.completedAt - s.startedAt), 0);
  const video = usable.reduce((sum, s) => sum + s.seconds, 0);
  return { secondsPerVideoSecond: wall / video, slots: Math.max(1, rendering.length, maxOverlap(usable)) };
}

/** When a video rendering now is expected to finish: its start plus its seconds at the recent rate, not before `now`. */
export function expectedFinish(rates: RenderRates, video: RenderingVideo, now: number): number {
  return Math.max(now, video.startedAt + rates.secondsPerVideoSecond * video.seconds);
}

/**
 * When a waiting video starts and completes. The slots free up as the videos rendering now finish (a slot with none is
 * free now); the work of the videos ahead of it (`aheadSeconds` of video at the recent rate) is shared by the slots as
 * they free up, and it starts when that work is done; it then takes its own seconds at the same rate. More work
 * ahead never gives an earlier start, so the estimates are ordered like the positions. Unix seconds, rounded up.
 */
export function estimateWait(
  rates: RenderRates,
  input: { now: number; rendering: readonly RenderingVideo[]; aheadSeconds: number; seconds: number },
): { startAt: number; completionAt: number } {
  const { now, rendering, aheadSeconds, seconds } = input;
  const busy = rendering.map((v) => expectedFinish(rates, v, now)).sort((a, b) => a - b);
  // The rendering videos beyond the slot count (none, as slots >= rendering) would wait: the slots are the earliest ones.
  const free = [...busy, ...Array<number>(Math.max(0, rates.slots - busy.length)).fill(now)].sort((a, b) => a - b).slice(0, rates.slots);
  let left = rates.secondsPerVideoSecond * aheadSeconds;
  let t = free[0]!;
  let working = 1;
  for (;;) {
    const next = working < free.length ? free[working]! : Infinity;
    if (left <= (next - t) * working) {
      t += left / working;
      break;
    }
    left -= (next - t) * working;
    t = next;
    working++;
  }
  return { startAt: Math.ceil(t), completionAt: Math.ceil(t + rates.secondsPerVideoSecond * seconds) };
}
