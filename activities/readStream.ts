// Reads a domain stream for a workflow that must decide on its current state (publishing, takedowns): the events
// as plain {type, data} and the revision to append at.
import type { EventStore } from '../infra/eventstore/port';
import { readStreamOrEmpty } from '../infra/eventstore/readOrEmpty';

export function createReadStream(deps: { eventStore: EventStore }) {
  return {
    async readVideoStream(input: { stream: string }): Promise<{ events: { type: string; data: unknown }[]; revision: string }> {
      const events = await readStreamOrEmpty(deps.eventStore, input.stream);
      return {
        events: events.map((e) => ({ type: e.type, data: e.data })),
        revision: events.length ? events[events.length - 1]!.revision.toString() : 'no_stream',
      };
    },
  };
}
