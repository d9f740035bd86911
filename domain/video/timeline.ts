// A video job's timeline: the stages it went through (its folded state's `stage`) with the times the event store
// recorded for the events that moved it, so a slow job shows where its time went. Times come in as arguments (the
// events' `created`), never from a clock, so folding the same stream again gives the same timeline.
import type { VideoStage } from './state';

/** Stages a job ends in: entered and left at once, so the timeline of a finished job has no open entry. */
const FINAL_STAGES: ReadonlySet<VideoStage> = new Set(['completed', 'failed', 'cancelled', 'blocked']);

export interface TimelineEntry {
  stage: VideoStage;
  /** ISO 8601, UTC, milliseconds: the `created` time of the event that entered the stage. */
  started_at: string;
  /** When the next stage started; null while the job is in this stage. */
  ended_at: string | null;
  /** ended_at - started_at; null while open. */
  duration_ms: number | null;
}

/**
 * The timeline after an event that left the video in `stage`, recorded at `atMs` (Unix ms). The same stage changes
 * nothing; another closes the open entry at `atMs` and opens the new one (closed at once for a final stage). A time
 * before the open entry's start (events appended by concurrent writers can be stamped out of order) counts as that
 * start, so an entry never ends before it began and entries stay contiguous.
 */
export function advanceTimeline(timeline: readonly TimelineEntry[], stage: VideoStage, atMs: number): TimelineEntry[] {
  const last = timeline[timeline.length - 1];
  if (last?.stage === stage) return timeline as TimelineEntry[];
  const startedMs = last ? Date.parse(last.ended_at ?? last.started_at) : -Infinity;
  const at = Math.max(atMs, startedMs);
  const iso = new Date(at).toISOString();
  const closed: TimelineEntry[] =
    last && last.ended_at === null ? [...timeline.slice(0, -1), { ...last, ended_at: iso, duration_ms: at - Date.parse(last.started_at) }] : [...timeline];
  const final = FINAL_STAGES.has(stage);
  return [...closed, { stage, started_at: iso, ended_at: final ? iso : null, duration_ms: final ? 0 : null }];
}
