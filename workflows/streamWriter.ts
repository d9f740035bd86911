// How a workflow records to the stream it owns: it tracks the stream's revision and its own event sequence (the
// source of deterministic event ids), and appends one batch at a time, so each append states the right revision
// even when several branches of the workflow record concurrently. What is asked for while an append is in flight
// goes out together in the next one: one activity for many small records.
import { CancellationScope, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { NewEvent } from '../activities/appendEvents';
import { GENESIS_HASH } from '../domain/cameo';

const { appendEvents } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});

export interface StreamWriter {
  /**
   * Appends `events()`, computed when every earlier request has been computed (in the order they were made);
   * resolves once they are recorded. A throwing `events` rejects this request only.
   */
  append<E extends NewEvent>(events: () => E[], causationId?: string, metadata?: Record<string, unknown>): Promise<E[]>;
  /** Where the stream stands after the appends so far: what a continued-as-new run starts from. */
  position(): WriterPosition;
}

export interface WriterPosition {
  /** The stream's revision as the next append's expected revision ('no_stream' before the first event). */
  revision: string;
  /** The workflow's next event sequence number (event ids derive from the workflow id and it). */
  seq: number;
  /** For a hash-chained stream: the hash of its last event. */
  headHash?: string;
}

interface Request {
  events: () => NewEvent[];
  causationId?: string;
  /** Over the writer's metadata for these events only (an actor other than the workflow's). */
  metadata?: Record<string, unknown>;
  resolve: (events: NewEvent[]) => void;
  reject: (err: unknown) => void;
}

export function streamWriter(
  stream: string,
  metadata: { actor: string; correlationId: string },
  from?: Partial<WriterPosition> & { chained?: boolean },
): StreamWriter {
  let revision = from?.revision ?? 'no_stream';
  let seq = from?.seq ?? 0;
  let headHash = from?.headHash ?? (from?.chained ? GENESIS_HASH : undefined);
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
        const batch = decided.flatMap(({ request, events }) => {
          const own = {
            ...(request.causationId ? { causationId: request.causationId } : {}),
            ...Object.fromEntries(Object.entries(request.metadata ?? {}).filter(([, v]) => v !== undefined)),
          };
          return events.map((e) => (Object.keys(own).length > 0 ? { ...e, metadata: own } : e));
        });
        try {
          if (batch.length > 0) {
            // Not cancellable: once decided, events are recorded (the deciding side's state already includes them),
            // even when the scope that asked for them is being cancelled.
            const input = {
              stream,
              expectedRevision: revision,
              firstSeq: seq,
              events: batch,
              metadata,
              ...(headHash !== undefined ? { chain: { prevHash: headHash } } : {}),
            };
            const result = await CancellationScope.nonCancellable(() => appendEvents(input));
            revision = result.nextExpectedRevision;
            if (headHash !== undefined) headHash = result.headHash;
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
    append<E extends NewEvent>(events: () => E[], causationId?: string, metadata?: Record<string, unknown>): Promise<E[]> {
      const done = new Promise<E[]>((resolve, reject) => queue.push({ events, causationId, metadata, resolve: resolve as (e: NewEvent[]) => void, reject }));
      if (!draining) void drain();
      return done;
    },
    position: () => ({ revision, seq, ...(headHash !== undefined ? { headHash } : {}) }),
  };
}
