// recordEventsWorkflow: appends batches of events to one stream. The smallest user of the stream writer; the Temporal
// harness test proves with it that a retried append lands each event exactly once.
import { workflowInfo } from '@temporalio/workflow';
import type { NewEvent } from '../activities/appendEvents';
import { streamWriter } from './streamWriter';

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
  const writer = streamWriter(input.stream, { actor: input.actor, correlationId: workflowInfo().workflowId });
  let recorded = 0;
  for (const batch of input.batches) recorded += (await writer.append(() => batch)).length;
  return { revision: String(recorded - 1), eventsRecorded: recorded };
}
