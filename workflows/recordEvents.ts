// recordEventsWorkflow: appends batches of events to one stream through the appendEvents activity, tracking the
// stream revision and the per-workflow event sequence; the building block every domain workflow uses to record.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { NewEvent } from '../activities/appendEvents';

const { appendEvents } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds', backoffCoefficient: 2 },
});

export interface RecordEventsInput {
  stream: string;
  batches: NewEvent[][];
  /** Who asked; recorded in every event's metadata. */
  actor: string;
}

export interface RecordEventsResult {
  revision: string;
  eventsRecorded: number;
}

export async function recordEventsWorkflow(input: RecordEventsInput): Promise<RecordEventsResult> {
  let revision = 'no_stream';
  let seq = 0;
  for (const batch of input.batches) {
    const result = await appendEvents({ stream: input.stream, expectedRevision: revision, firstSeq: seq, events: batch, metadata: { actor: input.actor } });
    revision = result.nextExpectedRevision;
    seq += batch.length;
  }
  return { revision, eventsRecorded: seq };
}
