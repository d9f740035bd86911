// An event store whose appends are measured for the role's /metrics: their latency
// (`reelforge_eventstore_append_seconds{outcome}`), and the video jobs they record by status
// (`reelforge_video_jobs_total{status}`: a job requested, and how it ended), which the orchestration worker's
// generation workflows append. A retry of an append that had committed (recognised by the store, written once) counts
// its job again, which Temporal makes rare.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { VideoEventType } from '../../domain/video/events';
import type { EventStore } from './port';

export const APPEND_SECONDS_METRIC = 'reelforge_eventstore_append_seconds';
export const VIDEO_JOBS_METRIC = 'reelforge_video_jobs_total';

const JOB_STATUS: Partial<Record<VideoEventType, string>> = {
  VideoRequested: 'requested',
  VideoCompleted: 'completed',
  VideoFailed: 'failed',
  VideoBlocked: 'blocked',
  VideoCancelled: 'cancelled',
};

export function meteredEventStore(store: EventStore, registry: Registry): EventStore {
  const seconds = new Histogram({
    name: APPEND_SECONDS_METRIC,
    help: 'Time to append a batch of events to a stream, by outcome (ok, or error: a version conflict included)',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const jobs = new Counter({
    name: VIDEO_JOBS_METRIC,
    help: 'Video jobs by status: requested, and each end (completed, failed, blocked, cancelled) as recorded',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  for (const status of Object.values(JOB_STATUS)) jobs.inc({ status }, 0);
  return {
    appendToStream: async (stream, events, options) => {
      const end = seconds.startTimer();
      try {
        const result = await store.appendToStream(stream, events, options);
        end({ outcome: 'ok' });
        for (const event of events) {
          const status = JOB_STATUS[event.type as VideoEventType];
          if (status) jobs.inc({ status });
        }
        return result;
      } catch (err) {
        end({ outcome: 'error' });
        throw err;
      }
    },
    readStream: (stream, options) => store.readStream(stream, options),
    readAll: (options) => store.readAll(options),
    subscribeToAll: (options) => store.subscribeToAll(options),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
