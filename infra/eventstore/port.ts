// The event store port, modelled on EventStoreDB/KurrentDB: streams with revisions, a global $all log
// with commit/prepare positions, optimistic concurrency, idempotent appends and catch-up subscriptions.

/** The revision the caller expects the stream to be at; a bigint is the revision of its last event. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

/** A place in $all. Compare with comparePositions; as in EventStoreDB, both parts order the log. */
export interface Position {
  commit: bigint;
  prepare: bigint;
}

export const START: Position = Object.freeze({ commit: 0n, prepare: 0n });

export interface EventData<Type extends string = string, Data = unknown> {
  /** A UUID; the same id appended again is recognised as a retry. */
  id: string;
  type: Type;
  /** Any JSON value. */
  data: Data;
  metadata?: Record<string, unknown>;
}

export interface RecordedEvent<Type extends string = string, Data = unknown> {
  id: string;
  streamName: string;
  type: Type;
  revision: bigint;
  position: Position;
  data: Data;
  metadata: Record<string, unknown>;
  created: Date;
}

export interface AppendOptions {
  expectedRevision?: ExpectedRevision;
}

export interface AppendResult {
  /** The revision of the stream's last event after the append. */
  nextExpectedRevision: bigint;
  /** The $all position of the last event appended. */
  position: Position;
}

export interface ReadStreamOptions {
  direction?: 'forwards' | 'backwards';
  /** Inclusive; defaults to the start (forwards) or the end (backwards). */
  fromRevision?: bigint | 'start' | 'end';
  maxCount?: number;
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. Defaults to the beginning. */
  fromPosition?: Position;
  maxCount?: number;
}

export interface SubscribeToAllOptions {
  /** Exclusive: a checkpoint, the position of the last event already handled. */
  fromPosition?: Position;
}

/** Catch-up, then live. Iterate it; close() ends the iteration. */
export interface Subscription extends AsyncIterable<RecordedEvent> {
  close(): Promise<void>;
}

export interface EventStore {
  appendToStream(stream: string, events: readonly EventData[], options?: AppendOptions): Promise<AppendResult>;
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  subscribeToAll(options?: SubscribeToAllOptions): Subscription;
  /** A cheap round trip for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** Checkpoints are stored and passed around as text: "commit/prepare". */
export function positionToString(p: Position): string {
  return `${p.commit}/${p.prepare}`;
}

export function positionFromString(text: string): Position {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m) throw new TypeError(`not a position: ${JSON.stringify(text)} (expected "commit/prepare")`);
  return { commit: BigInt(m[1]!), prepare: BigInt(m[2]!) };
}
