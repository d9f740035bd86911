// GET /v1/debug/streams/:stream?until_revision= (API.md "Debugging"): a domain stream's events up to a revision and
// the state folded from them with the evolve functions the system itself uses (domain/streams.ts): "what did this job
// or cameo look like after event N". Registered by debug.ts, which keeps it to admins.
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { categoryOf, describeCategories, foldStream, STREAM_CATEGORIES, UnfoldableEvent } from '../../domain/streams';
import { InvalidStreamName, StreamNotFound } from '../../infra/eventstore/errors';
import type { EventStore, RecordedEvent } from '../../infra/eventstore/port';
import { problemResponse } from '../plugins/auth';
import { ProblemError } from '../plugins/errors';

const StreamParams = Type.Object({
  stream: Type.String({ minLength: 1, maxLength: 200, description: `The stream's name, \`<category>-<id>\`: ${describeCategories().join('; ')}` }),
});
type StreamParams = Static<typeof StreamParams>;

const StreamQuery = Type.Object({
  until_revision: Type.Optional(
    Type.String({
      pattern: '^[0-9]+$',
      maxLength: 30,
      description: 'A non-negative integer: the events up to and including this revision (from 0). Absent, or past the last revision: the whole stream.',
    }),
  ),
});
type StreamQuery = Static<typeof StreamQuery>;

const StreamEventObject = Type.Object(
  {
    id: Type.String({ description: 'The event id (a UUID)' }),
    revision: Type.Integer({ minimum: 0, description: "The event's revision in its stream, from 0" }),
    type: Type.String(),
    data: Type.Unknown(),
    metadata: Type.Record(Type.String(), Type.Unknown()),
    created: Type.String({ format: 'date-time', description: 'When the event store recorded it: ISO 8601, UTC, milliseconds' }),
  },
  { title: 'DebugStreamEvent' },
);

const DebugStream = Type.Object(
  {
    stream: Type.String(),
    category: Type.Unsafe<(typeof STREAM_CATEGORIES)[number]>({ type: 'string', enum: [...STREAM_CATEGORIES] }),
    revision: Type.Integer({ minimum: 0, description: 'The revision the state is as of: that of the last event answered' }),
    last_revision: Type.Integer({ minimum: 0, description: "The stream's last revision when it was read" }),
    whole_stream: Type.Boolean({ description: 'Whether the events answered are the whole stream (until_revision absent, or at or past last_revision)' }),
    events: Type.Array(StreamEventObject, { description: 'Oldest first, from revision 0 up to `revision`, as the event store recorded them' }),
    state: Type.Unknown({ description: "The events folded from the category's initial state with the system's own evolve (a VideoState, CameoState, ...)" }),
  },
  { title: 'DebugStream' },
);
type DebugStream = Static<typeof DebugStream>;

function badStream(message: string): ProblemError {
  return new ProblemError({
    status: 400,
    code: 'validation_failed',
    title: 'Invalid request',
    detail: `stream: ${message}`,
    errors: [{ field: 'stream', message }],
  });
}

function toEventObject(e: RecordedEvent): DebugStream['events'][number] {
  return { id: e.id, revision: Number(e.revision), type: e.type, data: e.data, metadata: e.metadata, created: e.created.toISOString() };
}

export const debugStreamsRoutes: FastifyPluginAsync<{ eventStore: EventStore }> = async (app, options) => {
  const { eventStore } = options;

  /** The stream's events up to `until` (all when undefined); 404 when it has none. */
  async function read(stream: string, until: bigint | undefined): Promise<RecordedEvent[]> {
    // Revisions run from 0 without gaps, so the events up to N are the first N + 1.
    const maxCount = until !== undefined && until < BigInt(Number.MAX_SAFE_INTEGER) ? Number(until) + 1 : undefined;
    try {
      const events = await eventStore.readStream(stream, maxCount === undefined ? {} : { maxCount });
      if (events.length > 0) return events;
    } catch (err) {
      if (err instanceof InvalidStreamName) throw badStream(err.reason);
      if (!(err instanceof StreamNotFound)) throw err;
    }
    throw new ProblemError({ status: 404, code: 'stream_not_found', detail: `no stream ${stream}` });
  }

  async function lastRevisionOf(stream: string): Promise<bigint | undefined> {
    try {
      return (await eventStore.readStream(stream, { direction: 'backwards', maxCount: 1 }))[0]?.revision;
    } catch (err) {
      if (err instanceof StreamNotFound) return undefined;
      throw err;
    }
  }

  app.get<{ Params: StreamParams; Querystring: StreamQuery }>(
    '/v1/debug/streams/:stream',
    {
      schema: {
        tags: ['debug'],
        summary: 'A domain stream as of a revision: its events and the state folded from them',
        description:
          'Admins only (anyone else gets the 404 of a missing route). The state is folded with the same evolve functions the workflows and read models use, ' +
          'so it is what the system saw after that event.',
        params: StreamParams,
        querystring: StreamQuery,
        response: {
          200: DebugStream,
          400: problemResponse('`stream` is not `<category>-<id>` of a known category, or `until_revision` is not a non-negative integer'),
          404: problemResponse('No such stream (`stream_not_found`)'),
          422: problemResponse("An event the category's evolve cannot fold (`stream_unfoldable`): ask for the revision before it"),
        },
      },
    },
    async (request) => {
      const { stream } = request.params;
      if (!categoryOf(stream)) throw badStream(`is not <category>-<id> of a known category (${STREAM_CATEGORIES.map((c) => `${c}-<id>`).join(', ')})`);
      const until = request.query.until_revision === undefined ? undefined : BigInt(request.query.until_revision);
      const events = (await read(stream, until)).filter((e) => until === undefined || e.revision <= until);
      const revision = events[events.length - 1]!.revision;
      // Fewer events than asked for: the stream ends there. Otherwise it may go on; its end is read apart.
      const last = until === undefined || revision < until ? revision : ((await lastRevisionOf(stream)) ?? revision);
      let folded;
      try {
        folded = foldStream(stream, events);
      } catch (err) {
        if (err instanceof UnfoldableEvent) throw new ProblemError({ status: 422, code: 'stream_unfoldable', detail: err.message });
        throw err;
      }
      const answer: DebugStream = {
        stream,
        category: folded.category,
        revision: Number(revision),
        last_revision: Number(last > revision ? last : revision),
        whole_stream: last <= revision,
        events: events.map(toEventObject),
        state: folded.state,
      };
      return answer;
    },
  );
};
