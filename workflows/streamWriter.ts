// How a workflow records to the stream it owns: it tracks the stream's revision and its own event sequence (the
// source of deterministic event ids), and appends one batch at a time, so each append states the right revision
// even when several branches of the workflow record concurrently. What is asked for while an append is in flight
// goes out together in the next one: one activity for many small records.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { NewEvent } from '../activities/appendEvents';

const { appendEvents } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});

export interface StreamWriter {
  /**
   * Appends `events()`, computed when every earlier request has been computed (in the order they were made);
   * resolves once they are recorded. A throwing `events` rejects this request only.
   */
  append<E extends NewEvent>(events: () => E[], causationId?: string): Promise<E[]>;
}

interface Request {
  events: () => NewEvent[];
  causationId?: string;
  resolve: (events: NewEvent[]) => void;
  reject: (err: unknown) => void;
}

export function streamWriter(stream: string, metadata: { actor: string; correlationId: string }): StreamWriter {
  let revision = 'no_stream';
  let seq = 0;
  const queue: Request[] = [];
  let draining = false;

  const drain = async (): Promise<void> => {
    draining = true;
    try {
      while (queue.length > 0) {
        const taken = queue.splice(0);
        const decided: { request: Request; events: NewEvent[] }[] = [];
        for (const request of taken) {
          try {
            decided.push({ request, events: request.events() });
          } catch (err) {
            request.reject(err);
          }
        }
        const batch = decided.flatMap(({ request, events }) => events.map((e) => (request.causationId ? { ...e, metadata: { causationId: request.causationId } } : e)));
        try {
          if (batch.length > 0) {
            const result = await appendEvents({ stream, expectedRevision: revision, firstSeq: seq, events: batch, metadata });
            revision = result.nextExpectedRevision;
            seq += batch.length;
          }
          for (const { request, events } of decided) request.resolve(events);
        } catch (err) {
          for (const { request } of decided) request.reject(err);
        }
      }
    } finally {
      draining = false;
    }
  };

  return {
    append<E extends NewEvent>(events: () => E[], causationId?: string): Promise<E[]> {
      const done = new Promise<E[]>((resolve, reject) => queue.push({ events, causationId, resolve: resolve as (e: NewEvent[]) => void, reject }));
      if (!draining) void drain();
      return done;
    },
  };
}
