// What the feed, lineage and likes read models share: the video id of a `video-<id>` stream, and a guard that makes
// the shape of the few fields they read an event's own problem (parked) rather than a wrong row.
import type { RecordedEvent } from '../infra/eventstore/port';

export const VIDEO_STREAM_PREFIX = 'video-';

/** An event a read model refuses to fold; the runner parks it for that read model only. */
export class MalformedEvent extends Error {
  constructor(readModel: string, event: RecordedEvent, why: string) {
    super(`${readModel}: ${event.type} at revision ${event.revision} of ${event.streamName}: ${why}`);
    this.name = 'MalformedEvent';
  }
}

export function field<T extends 'string' | 'number'>(readModel: string, event: RecordedEvent, name: string, kind: T): T extends 'string' ? string : number {
  const data = event.data as Record<string, unknown> | null;
  const value = data && typeof data === 'object' ? data[name] : undefined;
  if (typeof value !== kind || (kind === 'number' && !Number.isFinite(value)) || (kind === 'string' && value === '')) {
    throw new MalformedEvent(readModel, event, `data.${name} must be a ${kind === 'string' ? 'non-empty string' : 'finite number'}`);
  }
  return value as never;
}

export function optionalString(readModel: string, event: RecordedEvent, name: string): string | null {
  const data = event.data as Record<string, unknown> | null;
  const value = data && typeof data === 'object' ? data[name] : undefined;
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' || value === '') throw new MalformedEvent(readModel, event, `data.${name} must be a non-empty string or null`);
  return value;
}

export function videoIdOf(event: RecordedEvent): string {
  return event.streamName.slice(VIDEO_STREAM_PREFIX.length);
}
