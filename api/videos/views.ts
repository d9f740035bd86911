// Views of a video's content, counted in memory and recorded in batches: a viewer counts once per video per window
// (a player's many Range requests, a replay a minute later: one view), and each video's views since the last flush go
// to its stream as one VideoViewed {count, at} every few seconds and when the server closes. Never an event per request.
import { randomUUID } from 'node:crypto';
import { commandMetadata } from '../../infra/eventstore/commandHandler';
import { StreamNotFound, WrongExpectedVersion } from '../../infra/eventstore/errors';
import type { EventStore } from '../../infra/eventstore/port';
import type { Logger } from '../../infra/logger';

export interface ViewCounterOptions {
  eventStore: EventStore;
  logger: Logger;
  /** A viewer counts once per video per window; default 30 minutes. */
  windowMs?: number;
  /** How often pending counts are recorded; default 5 s. */
  flushMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

export interface ViewCounter {
  /** Notes a view of the video by the viewer; counted unless the same viewer was counted within the window. */
  record(viewerId: string, videoId: string): void;
  /** Records every pending count now (one VideoViewed per video); resolves when they are appended. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
}

export function createViewCounter(options: ViewCounterOptions): ViewCounter {
  const windowMs = options.windowMs ?? 30 * 60 * 1000;
  const flushMs = options.flushMs ?? 5000;
  const now = options.now ?? Date.now;
  /** viewer + video → when that viewer's view stops suppressing the next one. */
  const seen = new Map<string, number>();
  const pending = new Map<string, number>();
  let flushing: Promise<void> = Promise.resolve();
  let closed = false;

  const timer = setInterval(() => void counter.flush(), flushMs);
  timer.unref();

  /** A blind append (no read, no decision: counts add up in any order); only the stream must exist. */
  async function append(videoId: string, count: number): Promise<void> {
    const at = Math.floor(now() / 1000);
    try {
      await options.eventStore.appendToStream(
        `video-${videoId}`,
        [{ id: randomUUID(), type: 'VideoViewed', data: { count, at }, metadata: commandMetadata({ actor: 'api', causationId: 'RecordViews' }) }],
        {
          expectedRevision: 'stream_exists',
        },
      );
    } catch (err) {
      // A video with no stream has nobody to count for; anything else puts the count back for the next flush.
      if (err instanceof StreamNotFound || err instanceof WrongExpectedVersion) return;
      pending.set(videoId, (pending.get(videoId) ?? 0) + count);
      options.logger.warn({ err, videoId, count }, 'views not recorded; retrying at the next flush');
    }
  }

  const counter: ViewCounter = {
    record(viewerId, videoId) {
      if (closed) return;
      const t = now();
      const key = `${viewerId} ${videoId}`;
      const until = seen.get(key);
      if (until !== undefined && until > t) return;
      seen.set(key, t + windowMs);
      pending.set(videoId, (pending.get(videoId) ?? 0) + 1);
    },
    flush() {
      // Flushes run one after another, so a count is never appended twice.
      flushing = flushing.then(async () => {
        const t = now();
        for (const [key, until] of seen) if (until <= t) seen.delete(key);
        const batch = [...pending];
        pending.clear();
        await Promise.all(batch.map(([videoId, count]) => append(videoId, count)));
      });
      return flushing;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await counter.flush();
    },
  };
  return counter;
}
