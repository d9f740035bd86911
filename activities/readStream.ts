// Reads a domain stream for a workflow that must decide on its current state (publishing, takedowns): the events
// as plain {type, data} and the revision to append at.
import { StreamNotFound } from '../infra/eventstore/errors';
import type { EventStore } from '../infra/eventstore/port';

export function createReadStream(deps: { eventStore: EventStore }) {
  return {
    async readVideoStream(input: { stream: string }): Promise<{ events: { type: string; data: unknown }[]; revision: string }> {
      try {
        const events = await deps.eventStore.readStream(input.stream);
        return { events: events.map((e) => ({ type: e.type, data: e.data })), revision: events.length ? events[events.length - 1]!.revision.toString() : 'no_stream' };
      } catch (err) {
        if (err instanceof StreamNotFound) return { events: [], revision: 'no_stream' };
        throw err;
      }
    },
  };
}
