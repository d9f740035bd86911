// One way to change a stream from a command (the pattern of Emmett's CommandHandler): read the stream, fold it with
// the aggregate's evolve, decide, append what was decided at the revision read; when another writer appended in
// between, read and decide again, a bounded number of times. Generic over the decider: it knows no domain aggregate.
import { randomUUID } from 'node:crypto';
import { WrongExpectedVersion } from './errors';
import { readStreamOrEmpty } from './readOrEmpty';
import type { EventStore } from './port';

export interface DomainEvent {
  type: string;
  data: unknown;
}

/** How an aggregate's state is folded from its events. */
export interface Evolver<State, Event extends DomainEvent> {
  /** A fresh state for a stream with no events. */
  initialState: () => State;
  evolve: (state: State, event: Event) => State;
}

/** Who and what caused the events; recorded in every event's metadata (see commandMetadata). */
export interface CommandMetadata {
  actor: string;
  /** The entity the command is about (a video id), so its events can be traced together. */
  correlationId?: string;
  /** The command that caused the events. */
  causationId?: string;
  /** The HTTP request that carried the command. */
  requestId?: string;
}

/** The metadata every command records: the fields given, and `at`, when it was appended (ISO 8601). */
export function commandMetadata(metadata: CommandMetadata, now: Date = new Date()): Record<string, unknown> {
  const defined = Object.entries(metadata).filter(([, v]) => v !== undefined);
  return { ...Object.fromEntries(defined), at: now.toISOString() };
}

export interface Decision<State> {
  state: State;
  /** The revision read; undefined when the stream has no events. */
  revision: bigint | undefined;
  /** 1 for the first read, 2 after the first conflict, ... */
  attempt: number;
}

export interface HandleOptions<Event extends DomainEvent> {
  metadata: CommandMetadata;
  /** Appends that found the stream moved, before giving up (CommandConflict); default 4. */
  maxAttempts?: number;
  /** Each event's id; default a random UUID. A deterministic id makes a repeated append an idempotent retry. */
  eventId?: (event: Event, index: number, revision: bigint | undefined) => string;
}

export interface HandleResult<State, Event extends DomainEvent> {
  /** What was appended; empty when the decision was that nothing changes (nothing appended then). */
  newEvents: Event[];
  /** The state with the new events folded in. */
  newState: State;
  /** The stream's revision after the append (the one read when nothing was appended; undefined: no stream). */
  nextExpectedRevision: bigint | undefined;
}

/** The stream kept moving under the decision: every attempt found another writer had appended first. */
export class CommandConflict extends WrongExpectedVersion {
  constructor(
    last: WrongExpectedVersion,
    readonly attempts: number,
  ) {
    super(last.streamName, last.expected, last.actual);
    this.message = `stream ${last.streamName} kept moving: gave up after ${attempts} attempts (${last.message})`;
  }
}

export type Decide<State, Event extends DomainEvent> = (decision: Decision<State>) => Event[] | Promise<Event[]>;

export type CommandHandler<State, Event extends DomainEvent> = (
  stream: string,
  decide: Decide<State, Event>,
  options: HandleOptions<Event>,
) => Promise<HandleResult<State, Event>>;

const DEFAULT_ATTEMPTS = 4;

/**
 * A handler for one aggregate's streams. `decide` gets the state folded from the stream and returns the events to
 * append; whatever it throws (a decider's refusal) comes back as it is, with nothing appended. It may be called
 * again, on a newer state, after a conflict.
 */
export function commandHandler<State, Event extends DomainEvent>(store: EventStore, evolver: Evolver<State, Event>): CommandHandler<State, Event> {
  async function read(stream: string): Promise<{ state: State; revision: bigint | undefined }> {
    const recorded = await readStreamOrEmpty(store, stream);
    const state = recorded.reduce((s, e) => evolver.evolve(s, { type: e.type, data: e.data } as Event), evolver.initialState());
    return { state, revision: recorded.length > 0 ? recorded[recorded.length - 1]!.revision : undefined };
  }

  return async (stream, decide, options) => {
    const maxAttempts = options.maxAttempts ?? DEFAULT_ATTEMPTS;
    for (let attempt = 1; ; attempt++) {
      const { state, revision } = await read(stream);
      const newEvents = await decide({ state, revision, attempt });
      if (newEvents.length === 0) return { newEvents, newState: state, nextExpectedRevision: revision };
      const eventId = options.eventId ?? (() => randomUUID());
      const metadata = commandMetadata(options.metadata);
      try {
        const result = await store.appendToStream(
          stream,
          newEvents.map((e, i) => ({ id: eventId(e, i, revision), type: e.type, data: e.data, metadata })),
          { expectedRevision: revision ?? 'no_stream' },
        );
        return { newEvents, newState: newEvents.reduce(evolver.evolve, state), nextExpectedRevision: result.nextExpectedRevision };
      } catch (err) {
        if (!(err instanceof WrongExpectedVersion)) throw err;
        if (attempt >= maxAttempts) throw new CommandConflict(err, attempt);
      }
    }
  };
}
