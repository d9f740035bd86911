// The KurrentDB/EventStoreDB adapter of the event store port, on @kurrent/kurrentdb-client.
// The server gives streams, revisions, $all positions and catch-up subscriptions; this file maps them to the port.
//
// Idempotency, and where it stops. KurrentDB deduplicates a retried append by event ids alone (and only near the
// expected revision, or from a cache of recent ids for `any`), and it accepts an id already used elsewhere. The port
// promises more: the same events appended again return the first result, and a reused id with other content is a
// DuplicateEventId. So before writing we read the part of the stream where an earlier attempt of this append would
// be (the revisions right after the expected one; the start for `no_stream`; the last few events for `any` and
// `stream_exists`) and compare ids, type, data and metadata; after a WrongExpectedVersion we look again, since a
// first attempt still in flight may have landed meanwhile. What this cannot see, unlike the SQL adapter's unique
// index: an id reused further back in the stream than that window, or in another stream. KurrentDB has no index by
// event id, and scanning for one on every append would cost more than the guarantee is worth here.
import {
  AppendRecordSizeExceededError,
  BACKWARDS,
  END,
  FORWARDS,
  KurrentDBClient,
  MaxAppendSizeExceededError,
  START as CLIENT_START,
  StreamDeletedError,
  StreamNotFoundError,
  StreamTombstonedError,
  TransactionMaxSizeExceededError,
  WrongExpectedVersionError,
  excludeSystemEvents,
  jsonEvent,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type JSONType,
  type ReadStreamOptions as ClientReadStreamOptions,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import type { Logger } from '../logger';
import { DuplicateEventId, EventStoreError, EventTooLarge, StreamNotFound, WrongExpectedVersion } from './errors';
import {
  START,
  comparePositions,
  type AppendOptions,
  type AppendResult,
  type EventData,
  type EventStore,
  type ExpectedRevision,
  type Position,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeToAllOptions,
  type Subscription,
} from './port';
import { assertStreamName, serializeEvents, type SerializedEvent } from './validate';

export interface KurrentDbEventStoreOptions {
  /** `kurrentdb://`, `kurrentdb+discover://`, `esdb://` or `esdb+discover://` connection string. */
  url: string;
  maxEventBytes: number;
  logger?: Logger;
}

/** Events read before an `any` / `stream_exists` append to recognise a retry, beyond the batch itself. */
const RETRY_WINDOW = 32;
/** Page size of readAll; bounds one round trip, not the result. */
const PAGE = 1000;
/** A subscription stops pulling from the server while this many events wait for the consumer. */
const HIGH_WATER = 256;
const PING_TIMEOUT_MS = 5000;

export function createKurrentDbEventStore(options: KurrentDbEventStoreOptions): EventStore {
  return new KurrentDbEventStore(options);
}

class KurrentDbEventStore implements EventStore {
  private readonly client: KurrentDBClient;
  private readonly subscriptions = new Set<KurrentSubscription>();
  private closed = false;

  constructor(private readonly options: KurrentDbEventStoreOptions) {
    // The client still accepts esdb:// but warns on the console; we log through pino only.
    const url = options.url.trim().replace(/^esdb(\+discover)?:\/\//i, (_m, discover?: string) => `kurrentdb${discover ?? ''}://`);
    this.client = KurrentDBClient.connectionString(url);
  }

  async appendToStream(stream: string, events: readonly EventData[], options: AppendOptions = {}): Promise<AppendResult> {
    assertStreamName(stream);
    const expected = checkExpected(options.expectedRevision ?? 'any');
    const batch = serializeEvents(events, this.options.maxEventBytes);
    const retryWindow = windowFor(expected, batch.length);

    const earlier = await this.findAppended(stream, batch, retryWindow);
    if (earlier) return earlier;

    let written: { nextExpectedRevision: bigint; position?: Position };
    try {
      written = await this.client.appendToStream(
        stream,
        // Sent from the validated serialization, so what is stored is exactly what was checked and sized.
        batch.map((e) => jsonEvent({ id: e.id, type: e.type, data: JSON.parse(e.data) as JSONType, metadata: JSON.parse(e.metadata) as JSONType })),
        { streamState: expected },
      );
    } catch (err) {
      if (err instanceof WrongExpectedVersionError) {
        const landed = await this.findAppended(stream, batch, retryWindow);
        if (landed) return landed;
        throw new WrongExpectedVersion(stream, String(expected), err.actualState);
      }
      throw mapAppendError(err, stream, batch);
    }

    // A single self-committed event's append position is its $all position. For a batch the server answers with
    // the position of the write, not of its last event, and a retry it deduplicated may come back without a
    // position (or with different content: the server compares ids only). Reading the batch back costs a round
    // trip but gives the last event's real position and the same answer a later retry gets.
    if (batch.length === 1 && written.position && isRealPosition(written.position)) {
      return { nextExpectedRevision: written.nextExpectedRevision, position: written.position };
    }
    const first = written.nextExpectedRevision - BigInt(batch.length) + 1n;
    const result =
      (first >= 0n && (await this.findAppended(stream, batch, { direction: FORWARDS, fromRevision: first, maxCount: batch.length }))) ||
      (await this.findAppended(stream, batch, retryWindow));
    if (result) return result;
    if (written.position && isRealPosition(written.position)) {
      return { nextExpectedRevision: written.nextExpectedRevision, position: written.position };
    }
    throw new EventStoreError(`append to ${stream} succeeded but its events could not be found to read their position`);
  }

  /**
   * The result of an earlier append of exactly these events found in `where`, or undefined if none of their ids is
   * there. Throws DuplicateEventId when an id is there with other content, or only part of the batch is.
   */
  private async findAppended(stream: string, batch: SerializedEvent[], where: ClientReadStreamOptions): Promise<AppendResult | undefined> {
    let window: RecordedEvent[];
    try {
      // From the leader: a follower may not have the first attempt yet, and then we would write it twice.
      window = await collect(this.client.readStream(stream, { ...where, requiresLeader: true }));
    } catch (err) {
      if (isMissingStream(err)) return undefined;
      throw err;
    }
    const byId = new Map(window.map((e) => [e.id.toLowerCase(), e]));
    const found = batch.map((e) => byId.get(e.id));
    if (found.every((f) => f === undefined)) return undefined;
    batch.forEach((e, i) => {
      const recorded = found[i];
      if (recorded && !sameContent(recorded, e)) throw new DuplicateEventId(e.id, 'for an event with other content');
    });
    const present = found.filter((f): f is RecordedEvent => f !== undefined);
    const contiguous = present.every((f, i) => i === 0 || f.revision === present[i - 1]!.revision + 1n);
    if (present.length !== batch.length || !contiguous) {
      throw new DuplicateEventId(present[0]!.id, `in an earlier append that held only ${present.length} of these ${batch.length} events`);
    }
    const last = present[present.length - 1]!;
    return { nextExpectedRevision: last.revision, position: last.position };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    assertStreamName(stream);
    const direction = options.direction === 'backwards' ? BACKWARDS : FORWARDS;
    // The client starts at the beginning whatever the direction; the port starts a backwards read at the end.
    let fromRevision = options.fromRevision ?? (direction === BACKWARDS ? END : CLIENT_START);
    let maxCount = countOf(options.maxCount);
    if (typeof fromRevision === 'bigint' && fromRevision < 0n) {
      // The client rejects negative revisions; before the start, forwards means from 0 and backwards means nothing.
      if (direction === BACKWARDS) maxCount = 0;
      fromRevision = 0n;
    }
    // For the client a forwards read from the end is empty; for the port (and the SQL adapter) `end` is the last
    // event, inclusive, and nothing follows it.
    const lastOnly = direction === FORWARDS && fromRevision === END;
    try {
      // Still one read when nothing is wanted, so a missing stream is reported as it is for any other read.
      const events = await collect(
        this.client.readStream(stream, {
          direction: lastOnly ? BACKWARDS : direction,
          fromRevision,
          maxCount: lastOnly ? 1 : Math.max(maxCount ?? Number.MAX_SAFE_INTEGER, 1),
        }),
      );
      return maxCount === 0 ? [] : events;
    } catch (err) {
      if (isMissingStream(err)) throw new StreamNotFound(stream);
      throw err;
    }
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const limit = countOf(options.maxCount) ?? Number.MAX_SAFE_INTEGER;
    let after = options.fromPosition && comparePositions(options.fromPosition, START) > 0 ? options.fromPosition : undefined;
    const out: RecordedEvent[] = [];
    while (out.length < limit) {
      // The client's fromPosition is inclusive and the port's exclusive: ask for one more and drop the event at it.
      const want = Math.min(limit - out.length, PAGE) + (after ? 1 : 0);
      let received = 0;
      let last: Position | undefined;
      // The server filters out system event types; a filtered read still fills `want` unless $all ends first.
      for await (const resolved of this.client.readAll({ fromPosition: after ?? CLIENT_START, maxCount: want, filter: excludeSystemEvents() })) {
        received++;
        const event = resolved.event && toRecorded(resolved);
        if (!event || (after && comparePositions(event.position, after) <= 0)) continue;
        last = event.position;
        if (isSystem(event)) continue;
        out.push(event);
        if (out.length >= limit) break;
      }
      if (received < want || !last) break;
      after = last;
    }
    return out;
  }

  subscribeToAll(options: SubscribeToAllOptions = {}): Subscription {
    if (this.closed) throw new EventStoreError('event store is closed');
    const after = options.fromPosition && comparePositions(options.fromPosition, START) > 0 ? options.fromPosition : undefined;
    const source = this.client.subscribeToAll({ fromPosition: after ?? CLIENT_START, filter: excludeSystemEvents() });
    const sub = new KurrentSubscription(source, after, this.options.logger, () => this.subscriptions.delete(sub));
    this.subscriptions.add(sub);
    return sub;
  }

  async ping(): Promise<void> {
    if (this.closed) throw new EventStoreError('event store is closed');
    // The last record of $all: one event at most, and it needs the same $all access the projectors need.
    const read = collectRaw(this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 }));
    await withTimeout(read, PING_TIMEOUT_MS, `KurrentDB did not answer within ${PING_TIMEOUT_MS} ms`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Closing ours first ends their iterations; dispose() alone cancels the gRPC calls but leaves a `for await` hanging.
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.client.dispose();
  }
}

/** Catch-up then live events of $all, pushed by the client into a small queue that `for await` pulls from. */
class KurrentSubscription implements Subscription {
  private readonly buffer: RecordedEvent[] = [];
  private waiter: { resolve: (r: IteratorResult<RecordedEvent>) => void; reject: (err: unknown) => void } | undefined;
  private failure: { error: unknown } | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private iterating = false;

  constructor(
    private readonly source: AllStreamSubscription,
    private readonly after: Position | undefined,
    private readonly logger: Logger | undefined,
    private readonly onClose: () => void,
  ) {
    // Listening at once: an error emitted before anyone iterates would otherwise crash the process.
    source.on('data', (resolved: AllStreamResolvedEvent) => this.receive(resolved));
    source.on('error', (err: Error) => this.fail(err));
    source.on('end', () => this.fail(new EventStoreError('the server ended the subscription to $all')));
  }

  private receive(resolved: AllStreamResolvedEvent): void {
    if (this.closed || this.failure) return;
    let event: RecordedEvent | undefined;
    try {
      event = resolved.event && toRecorded(resolved);
    } catch (err) {
      this.fail(err);
      return;
    }
    // The server filter drops system event types; events of system streams with other types are dropped here.
    // The checkpoint is exclusive: whether or not the server resends the event at it, it is not delivered twice.
    if (!event || isSystem(event) || (this.after && comparePositions(event.position, this.after) <= 0)) return;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.resolve({ value: event, done: false });
      return;
    }
    this.buffer.push(event);
    if (this.buffer.length >= HIGH_WATER) this.source.pause();
  }

  private fail(error: unknown): void {
    if (this.closed || this.failure) return;
    this.failure = { error };
    this.logger?.warn({ err: error }, 'subscription to $all failed');
    // Buffered events are still delivered and the error comes after them, from next(); a consumer already waiting
    // has no buffer left and gets it now, once.
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      void this.close();
      waiter.reject(error);
    }
  }

  private next(): Promise<IteratorResult<RecordedEvent>> {
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    const value = this.buffer.shift();
    if (value) {
      if (this.buffer.length < HIGH_WATER / 2 && this.source.isPaused()) this.source.resume();
      return Promise.resolve({ value, done: false });
    }
    if (this.failure) {
      const { error } = this.failure;
      // Thrown once; the iteration is over and the gRPC call released.
      void this.close();
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<RecordedEvent> {
    if (this.iterating) throw new EventStoreError('a subscription can be iterated only once');
    this.iterating = true;
    return {
      next: () => this.next(),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.buffer.length = 0;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve({ value: undefined, done: true });
    this.onClose();
    try {
      await this.source.unsubscribe();
    } catch (err) {
      // The call may never have started (server unreachable); there is nothing left to cancel then.
      this.logger?.debug({ err }, 'unsubscribing from $all failed');
    }
    this.source.destroy();
  }
}

function checkExpected(expected: ExpectedRevision): ExpectedRevision {
  if (typeof expected === 'bigint') {
    if (expected < 0n) throw new EventStoreError(`expectedRevision must be >= 0, got ${expected}`);
    return expected;
  }
  if (expected !== 'any' && expected !== 'no_stream' && expected !== 'stream_exists') {
    throw new EventStoreError(`expectedRevision must be 'any', 'no_stream', 'stream_exists' or a bigint, got ${String(expected)}`);
  }
  return expected;
}

/** Where an earlier attempt of an append with this expectation would have put its events. */
function windowFor(expected: ExpectedRevision, size: number): ClientReadStreamOptions {
  if (typeof expected === 'bigint') return { direction: FORWARDS, fromRevision: expected + 1n, maxCount: size };
  if (expected === 'no_stream') return { direction: FORWARDS, fromRevision: CLIENT_START, maxCount: size };
  return { direction: BACKWARDS, fromRevision: END, maxCount: size + RETRY_WINDOW };
}

function mapAppendError(err: unknown, stream: string, batch: SerializedEvent[]): unknown {
  if (isMissingStream(err)) return new StreamNotFound(stream);
  if (err instanceof AppendRecordSizeExceededError) return new EventTooLarge(err.recordId, err.size, err.maxSize);
  if (err instanceof MaxAppendSizeExceededError || err instanceof TransactionMaxSizeExceededError) {
    // The server's limit is on the whole append; name its largest event and report the batch's size.
    const sizes = batch.map((e) => ({ id: e.id, bytes: Buffer.byteLength(e.data) + Buffer.byteLength(e.metadata) }));
    const largest = sizes.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const total = sizes.reduce((sum, s) => sum + s.bytes, 0);
    const limit = err instanceof MaxAppendSizeExceededError ? err.maxAppendSize : err.maxSize;
    return new EventTooLarge(largest.id, total, limit);
  }
  return err;
}

function isMissingStream(err: unknown): boolean {
  // A deleted or tombstoned stream is, for the port, a stream that does not exist.
  return err instanceof StreamNotFoundError || err instanceof StreamDeletedError || err instanceof StreamTombstonedError;
}

/** Positions the server sends for "none" (-1 as an unsigned 64-bit number) are not real ones. */
function isRealPosition(p: Position): boolean {
  return p.commit >= 0n && p.prepare >= 0n && p.commit < 2n ** 63n && p.prepare < 2n ** 63n;
}

function isSystem(event: RecordedEvent): boolean {
  return event.type.startsWith('$') || event.streamName.startsWith('$');
}

function sameContent(recorded: RecordedEvent, e: SerializedEvent): boolean {
  // As jsonb equality in the SQL adapter: the same JSON values, whatever the key order or number spelling.
  return (
    recorded.type === e.type &&
    canonicalJson(recorded.data) === canonicalJson(JSON.parse(e.data)) &&
    canonicalJson(recorded.metadata) === canonicalJson(JSON.parse(e.metadata))
  );
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function toRecorded(resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent | undefined {
  const e = resolved.event;
  if (!e) return undefined;
  // Stream reads carry positions from servers 22.6 on; older ones give the commit position only, which is
  // also the prepare position of an event written outside an explicit transaction.
  const position = e.position ?? (resolved.commitPosition !== undefined ? { commit: resolved.commitPosition, prepare: resolved.commitPosition } : undefined);
  if (!position) throw new EventStoreError(`event ${e.id} came without a $all position; KurrentDB/EventStoreDB 22.6 or later is required`);
  return {
    id: e.id.toLowerCase(),
    streamName: e.streamId,
    type: e.type,
    revision: e.revision,
    position: { commit: position.commit, prepare: position.prepare },
    data: e.isJson ? e.data : decodeBinary(e.data as Uint8Array),
    metadata: toMetadata(e.metadata),
    created: e.created,
  };
}

/** Events written by other tools may be binary; JSON text is parsed, anything else is returned as text. */
function decodeBinary(bytes: Uint8Array): unknown {
  const text = Buffer.from(bytes).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function toMetadata(value: unknown): Record<string, unknown> {
  const parsed = value instanceof Uint8Array ? decodeBinary(value) : value;
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}

async function collect(events: AsyncIterable<ResolvedEvent | AllStreamResolvedEvent>): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const resolved of events) {
    const event = toRecorded(resolved);
    if (event) out.push(event);
  }
  return out;
}

async function collectRaw(events: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of events) {
    // drained only to complete the round trip
  }
}

/** Undefined for "no limit"; a non-negative integer otherwise. */
function countOf(maxCount: number | undefined): number | undefined {
  if (maxCount === undefined || maxCount === Number.POSITIVE_INFINITY) return undefined;
  if (!(maxCount > 0)) return 0;
  return Math.min(Math.floor(maxCount), Number.MAX_SAFE_INTEGER);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new EventStoreError(message)), ms);
  });
  // The losing read may still fail later; that must not surface as an unhandled rejection.
  promise.catch(() => undefined);
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
