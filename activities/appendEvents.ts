// The activity through which workflows record domain events: deterministic event ids and expected revisions,
// so an attempt retried by Temporal after its append committed writes nothing twice.
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { eventHash } from '../domain/cameo/chain';
import { WrongExpectedVersion } from '../infra/eventstore/errors';
import type { EventStore, ExpectedRevision } from '../infra/eventstore/port';
import type { Logger } from '../infra/logger';

export interface NewEvent {
  type: string;
  data: unknown;
  /** This event's own metadata (a causation id), over the batch's. */
  metadata?: Record<string, unknown>;
}

export interface AppendEventsInput {
  stream: string;
  /** 'no_stream', 'any', 'stream_exists' or a revision as a decimal string (bigints do not cross Temporal's JSON). */
  expectedRevision: string;
  /** The workflow's sequence number of the first event; ids derive from the workflow id and this number. */
  firstSeq: number;
  events: NewEvent[];
  /** Actor, correlation and causation ids; workflow id, run id and time are added here. */
  metadata?: Record<string, unknown>;
  /**
   * For a hash-chained stream (a cameo's consent history): the hash of the stream's last event (GENESIS_HASH for a
   * new stream). Each event then carries `prev_hash` and `hash` in its metadata (domain/cameo/chain.ts); the
   * expected revision must be exact.
   */
  chain?: { prevHash: string };
}

export interface AppendEventsResult {
  nextExpectedRevision: string;
  /** The hash of the last event appended, for a chained stream. */
  headHash?: string;
}

/** A UUID (version 8, RFC 9562 "custom") derived from the workflow id and the event's sequence number. */
export function deterministicEventId(workflowId: string, seq: number): string {
  const h = createHash('sha256').update(`${workflowId}\u0000${seq}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function parseExpected(text: string): ExpectedRevision {
  if (text === 'any' || text === 'no_stream' || text === 'stream_exists') return text;
  if (/^\d+$/.test(text)) return BigInt(text);
  throw ApplicationFailure.nonRetryable(`expectedRevision ${JSON.stringify(text)} is not a revision`, 'InvalidExpectedRevision');
}

export function createAppendEvents(deps: { eventStore: EventStore; logger: Logger }) {
  return async function appendEvents(input: AppendEventsInput): Promise<AppendEventsResult> {
    const info = Context.current().info;
    if (!info.workflowExecution) {
      throw ApplicationFailure.nonRetryable('appendEvents must run inside a workflow: event ids derive from the workflow id', 'NoWorkflow');
    }
    const { workflowId, runId } = info.workflowExecution;
    // The recorded time is the first attempt's schedule time, so a retry carries the same content as the
    // original and is recognised as the same event.
    const at = new Date(info.scheduledTimestampMs).toISOString();
    const expected = parseExpected(input.expectedRevision);
    let prevHash = input.chain?.prevHash;
    let firstRevision = 0;
    if (input.chain) {
      if (typeof expected !== 'bigint' && expected !== 'no_stream') {
        throw ApplicationFailure.nonRetryable(
          `a hash-chained append needs an exact expected revision, not ${input.expectedRevision}`,
          'InvalidExpectedRevision',
        );
      }
      firstRevision = expected === 'no_stream' ? 0 : Number(expected) + 1;
    }
    const events = input.events.map((e, i) => {
      const link: Record<string, string> = {};
      if (prevHash !== undefined) {
        const hash = eventHash(prevHash, firstRevision + i, e.type, e.data);
        link.prev_hash = prevHash;
        link.hash = hash;
        prevHash = hash;
      }
      return {
        id: deterministicEventId(workflowId, input.firstSeq + i),
        type: e.type,
        data: e.data,
        metadata: { ...input.metadata, ...e.metadata, ...link, workflowId, workflowRunId: runId, seq: input.firstSeq + i, at },
      };
    });
    try {
      const result = await deps.eventStore.appendToStream(input.stream, events, { expectedRevision: expected });
      deps.logger.debug({ stream: input.stream, count: events.length, attempt: info.attempt }, 'events appended');
      return { nextExpectedRevision: result.nextExpectedRevision.toString(), ...(prevHash !== undefined ? { headHash: prevHash } : {}) };
    } catch (err) {
      if (err instanceof WrongExpectedVersion) {
        // Another writer moved the stream: retrying the same append cannot succeed.
        throw ApplicationFailure.nonRetryable(err.message, 'WrongExpectedVersion');
      }
      throw err;
    }
  };
}
