// Typed errors of the event store port; every adapter throws these and nothing else for bad input.

export class EventStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class WrongExpectedVersion extends EventStoreError {
  constructor(
    readonly streamName: string,
    readonly expected: string,
    readonly actual: bigint | 'no_stream',
  ) {
    super(`stream ${streamName}: expected revision ${expected}, but it is at ${String(actual)}`);
  }
}

export class StreamNotFound extends EventStoreError {
  constructor(readonly streamName: string) {
    super(`stream ${streamName} not found`);
  }
}

export class EventTooLarge extends EventStoreError {
  constructor(
    readonly eventId: string,
    readonly sizeBytes: number,
    readonly limitBytes: number,
  ) {
    super(`event ${eventId} is ${sizeBytes} bytes, over the limit of ${limitBytes} bytes`);
  }
}

export class InvalidStreamName extends EventStoreError {
  constructor(
    readonly streamName: unknown,
    readonly reason: string,
  ) {
    super(`invalid stream name ${JSON.stringify(streamName)}: ${reason}`);
  }
}

/** An event that is not well formed (id not a UUID, empty type, data not JSON). */
export class InvalidEvent extends EventStoreError {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`invalid event: ${field} ${reason}`);
  }
}

/** An event id already used for an event with other content, or in another stream. */
export class DuplicateEventId extends EventStoreError {
  constructor(
    readonly eventId: string,
    readonly reason: string,
  ) {
    super(`event id ${eventId} was already used ${reason}`);
  }
}
