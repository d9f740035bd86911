// How a workflow records to the stream it owns: it tracks the stream's revision and its own event sequence (the
// source of deterministic event ids), and appends one batch at a time, so each append states the right revision
// even when several branches of the workflow record concurrently.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { NewEvent } from '../activities/appendEvents';

const { appendEvents } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});

export interface StreamWriter {
  /** Appends `events()` (computed when the previous append has finished); resolves once they are recorded. */
  append<E extends NewEvent>(events: () => E[], causationId?: string): Promise<E[]>;
}

export function streamWriter(stream: string, metadata: { actor: string; correlationId: string }): StreamWriter {
  let revision = 'no_stream';
  let seq = 0;
  let tail: Promise<unknown> = Promise.resolve();
  return {
    append<E extends NewEvent>(events: () => E[], causationId?: string): Promise<E[]> {
      const step = tail.then(async () => {
        const batch = events();
        if (batch.length === 0) return batch;
        const result = await appendEvents({ stream, expectedRevision: revision, firstSeq: seq, events: batch, metadata: { ...metadata, causationId } });
        revision = result.nextExpectedRevision;
        seq += batch.length;
        return batch;
      });
      tail = step.catch(() => undefined);
      return step;
    },
  };
}
