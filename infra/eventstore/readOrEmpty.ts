// A stream's events, or none when it does not exist yet: how every read for a decision starts (a stream is created by
// its first append, so "missing" and "empty" mean the same to a decider).
import { StreamNotFound } from './errors';
import type { EventStore, RecordedEvent } from './port';

export async function readStreamOrEmpty(eventStore: EventStore, stream: string): Promise<RecordedEvent[]> {
  try {
    return await eventStore.readStream(stream);
  } catch (err) {
    if (err instanceof StreamNotFound) return [];
    throw err;
  }
}
