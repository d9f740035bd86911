// Input checks shared by every adapter, so bad input fails the same way everywhere, before anything is written.
import { EventTooLarge, InvalidEvent, InvalidStreamName } from './errors';
import type { EventData } from './port';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_STREAM_NAME = 200;

export function assertStreamName(stream: unknown): asserts stream is string {
  if (typeof stream !== 'string' || stream.length === 0) throw new InvalidStreamName(stream, 'must be a non-empty string');
  if (stream.length > MAX_STREAM_NAME) throw new InvalidStreamName(stream, `longer than ${MAX_STREAM_NAME} characters`);
  if (stream.startsWith('$')) throw new InvalidStreamName(stream, 'names starting with $ are reserved for the system');
  if (/[\u0000-\u001f\u007f\s]/.test(stream)) throw new InvalidStreamName(stream, 'must not contain whitespace or control characters');
}

export interface SerializedEvent {
  id: string;
  type: string;
  data: string;
  metadata: string;
}

/** Checks and serializes a batch; throws before the adapter touches storage. */
export function serializeEvents(events: readonly EventData[], maxBytes: number): SerializedEvent[] {
  if (!Array.isArray(events) || events.length === 0) throw new InvalidEvent('events', 'must be a non-empty array');
  const seen = new Set<string>();
  return events.map((e, i) => {
    if (typeof e?.id !== 'string' || !UUID.test(e.id)) throw new InvalidEvent(`events[${i}].id`, 'must be a UUID');
    const id = e.id.toLowerCase();
    if (seen.has(id)) throw new InvalidEvent(`events[${i}].id`, `repeats ${id} within one append`);
    seen.add(id);
    if (typeof e.type !== 'string' || e.type.length === 0 || e.type.length > 200 || e.type.startsWith('$')) {
      throw new InvalidEvent(`events[${i}].type`, 'must be a non-empty string of at most 200 characters, not starting with $');
    }
    const data = toJson(e.data, `events[${i}].data`);
    if (e.metadata !== undefined && (typeof e.metadata !== 'object' || e.metadata === null || Array.isArray(e.metadata))) {
      throw new InvalidEvent(`events[${i}].metadata`, 'must be an object');
    }
    const metadata = toJson(e.metadata ?? {}, `events[${i}].metadata`);
    const size = Buffer.byteLength(data) + Buffer.byteLength(metadata);
    if (size > maxBytes) throw new EventTooLarge(id, size, maxBytes);
    return { id, type: e.type, data, metadata };
  });
}

function toJson(value: unknown, field: string): string {
  if (value === undefined) throw new InvalidEvent(field, 'is missing');
  let json: string | undefined;
  try {
    json = JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'bigint') throw new InvalidEvent(field, 'contains a bigint; encode it as a string');
      if (typeof v === 'number' && !Number.isFinite(v)) throw new InvalidEvent(field, 'contains a non-finite number');
      return v;
    });
  } catch (err) {
    if (err instanceof InvalidEvent) throw err;
    throw new InvalidEvent(field, `is not serializable as JSON (${(err as Error).message})`);
  }
  if (json === undefined) throw new InvalidEvent(field, 'is not serializable as JSON');
  return json;
}
