// The event store contract: one set of cases that every adapter of infra/eventstore/port.ts must pass.
import { randomUUID } from 'node:crypto';
import { DuplicateEventId, EventTooLarge, InvalidEvent, InvalidStreamName, StreamNotFound, WrongExpectedVersion } from '../../../infra/eventstore/errors';
import { comparePositions, type EventData, type EventStore, type Position, type RecordedEvent } from '../../../infra/eventstore/port';

export interface ContractTarget {
  store: EventStore;
  /** The limit the store was opened with. */
  maxEventBytes: number;
  cleanup(): Promise<void>;
}

export type OpenTarget = () => Promise<ContractTarget>;

const MAX_EVENT_BYTES = 64 * 1024;

function event(type = 'Thing', data: unknown = { n: 1 }): EventData {
  return { id: randomUUID(), type, data, metadata: { correlationId: 'test' } };
}

function uniqueStream(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Collects events of streams whose name starts with `prefix` until `count` arrived. */
async function collect(sub: AsyncIterable<RecordedEvent>, prefix: string, count: number, timeoutMs = 60000): Promise<RecordedEvent[]> {
  const seen: RecordedEvent[] = [];
  const timer = setTimeout(() => {
    throw new Error(`subscription saw ${seen.length} of ${count} events within ${timeoutMs} ms`);
  }, timeoutMs);
  try {
    for await (const e of sub) {
      if (e.streamName.startsWith(prefix)) seen.push(e);
      if (seen.length >= count) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return seen;
}

async function headPosition(store: EventStore): Promise<Position | undefined> {
  const all = await store.readAll();
  return all.length ? all[all.length - 1]!.position : undefined;
}

export function eventStoreContract(name: string, open: OpenTarget): void {
  describe(`event store contract: ${name}`, () => {
    let target: ContractTarget;
    let store: EventStore;

    beforeAll(async () => {
      target = await open();
      store = target.store;
      expect(target.maxEventBytes).toBe(MAX_EVENT_BYTES);
    });
    afterAll(async () => {
      await target?.cleanup();
    });

    describe('appending and reading a stream', () => {
      it('numbers the events of a new stream from revision 0 and reads them forwards and backwards', async () => {
        const stream = uniqueStream('video-video_read');
        const events = Array.from({ length: 5 }, (_, i) => event('VideoChunkRendered', { chunk: i }));
        const result = await store.appendToStream(stream, events, { expectedRevision: 'no_stream' });
        expect(result.nextExpectedRevision).toBe(4n);

        const forwards = await store.readStream(stream);
        expect(forwards.map((e) => e.revision)).toEqual([0n, 1n, 2n, 3n, 4n]);
        expect(forwards.map((e) => e.id)).toEqual(events.map((e) => e.id));
        expect(forwards[2]).toMatchObject({ streamName: stream, type: 'VideoChunkRendered', data: { chunk: 2 }, metadata: { correlationId: 'test' } });
        expect(comparePositions(forwards[4]!.position, result.position)).toBe(0);
        for (let i = 1; i < forwards.length; i++) expect(comparePositions(forwards[i - 1]!.position, forwards[i]!.position)).toBe(-1);

        const fromTwo = await store.readStream(stream, { fromRevision: 2n, maxCount: 2 });
        expect(fromTwo.map((e) => e.revision)).toEqual([2n, 3n]);
        const backwards = await store.readStream(stream, { direction: 'backwards' });
        expect(backwards.map((e) => e.revision)).toEqual([4n, 3n, 2n, 1n, 0n]);
        const backFromOne = await store.readStream(stream, { direction: 'backwards', fromRevision: 1n });
        expect(backFromOne.map((e) => e.revision)).toEqual([1n, 0n]);
        const last = await store.readStream(stream, { direction: 'backwards', maxCount: 1 });
        expect(last.map((e) => e.revision)).toEqual([4n]);
      });

      it('reports a stream that does not exist as StreamNotFound', async () => {
        await expect(store.readStream(uniqueStream('video-video_none'))).rejects.toBeInstanceOf(StreamNotFound);
      });

      it('reads $all from an exclusive position', async () => {
        const stream = uniqueStream('video-video_all');
        await store.appendToStream(stream, [event('A'), event('B'), event('C')]);
        const mine = (await store.readAll()).filter((e) => e.streamName === stream);
        expect(mine.map((e) => e.type)).toEqual(['A', 'B', 'C']);
        const after = (await store.readAll({ fromPosition: mine[0]!.position })).filter((e) => e.streamName === stream);
        expect(after.map((e) => e.type)).toEqual(['B', 'C']);
        const one = await store.readAll({ fromPosition: mine[0]!.position, maxCount: 1 });
        expect(one).toHaveLength(1);
      });
    });

    describe('optimistic concurrency', () => {
      it('refuses an append whose expected revision is not the stream revision, and writes nothing', async () => {
        const stream = uniqueStream('cameo-cameo_occ');
        await store.appendToStream(stream, [event(), event()], { expectedRevision: 'no_stream' });

        const stale = store.appendToStream(stream, [event()], { expectedRevision: 0n });
        await expect(stale).rejects.toBeInstanceOf(WrongExpectedVersion);
        await expect(store.appendToStream(stream, [event()], { expectedRevision: 0n })).rejects.toMatchObject({ actual: 1n });
        await expect(store.appendToStream(stream, [event()], { expectedRevision: 'no_stream' })).rejects.toBeInstanceOf(WrongExpectedVersion);
        await expect(store.appendToStream(uniqueStream('cameo-cameo_missing'), [event()], { expectedRevision: 'stream_exists' })).rejects.toMatchObject({
          actual: 'no_stream',
        });
        expect(await store.readStream(stream)).toHaveLength(2);

        const ok = await store.appendToStream(stream, [event()], { expectedRevision: 1n });
        expect(ok.nextExpectedRevision).toBe(2n);
        const exists = await store.appendToStream(stream, [event()], { expectedRevision: 'stream_exists' });
        expect(exists.nextExpectedRevision).toBe(3n);
      });

      it('lets exactly one of several concurrent writers at the same expected revision win', async () => {
        const stream = uniqueStream('cameo-cameo_race');
        await store.appendToStream(stream, [event()], { expectedRevision: 'no_stream' });
        const attempts = await Promise.allSettled(Array.from({ length: 10 }, () => store.appendToStream(stream, [event()], { expectedRevision: 0n })));
        expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
        for (const a of attempts.filter((x): x is PromiseRejectedResult => x.status === 'rejected')) {
          expect(a.reason).toBeInstanceOf(WrongExpectedVersion);
        }
        expect(await store.readStream(stream)).toHaveLength(2);
      });
    });

    describe('idempotent retries', () => {
      it('returns the first result for the same events appended again and writes nothing', async () => {
        const stream = uniqueStream('video-video_idem');
        const batch = [event('A', { a: 1, b: [1, 2] }), event('B')];
        const first = await store.appendToStream(stream, batch, { expectedRevision: 'no_stream' });
        const again = await store.appendToStream(stream, batch, { expectedRevision: 'no_stream' });
        expect(again.nextExpectedRevision).toBe(first.nextExpectedRevision);
        expect(comparePositions(again.position, first.position)).toBe(0);
        const anyAgain = await store.appendToStream(stream, batch, { expectedRevision: 'any' });
        expect(anyAgain.nextExpectedRevision).toBe(1n);
        await store.appendToStream(stream, [event('C')], { expectedRevision: 1n });
        // A retry that arrives after later appends still recognises its own events.
        const late = await store.appendToStream(stream, batch, { expectedRevision: 'no_stream' });
        expect(late.nextExpectedRevision).toBe(1n);
        expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['A', 'B', 'C']);
      });

      it('refuses an event id reused with other content, and writes nothing', async () => {
        const stream = uniqueStream('video-video_reuse');
        const original = event('A', { value: 1 });
        await store.appendToStream(stream, [original]);
        await expect(store.appendToStream(stream, [{ ...original, data: { value: 2 } }])).rejects.toBeInstanceOf(DuplicateEventId);
        await expect(store.appendToStream(stream, [{ ...original, type: 'Other' }])).rejects.toBeInstanceOf(DuplicateEventId);
        await expect(store.appendToStream(uniqueStream('video-video_elsewhere'), [original])).rejects.toBeInstanceOf(DuplicateEventId);
        const read = await store.readStream(stream);
        expect(read).toHaveLength(1);
        expect(read[0]!.data).toEqual({ value: 1 });
      });
    });

    describe('bad input', () => {
      it('rejects an oversized event with EventTooLarge and writes nothing of its batch', async () => {
        const stream = uniqueStream('video-video_big');
        const big = event('Big', { blob: 'x'.repeat(MAX_EVENT_BYTES) });
        const err = await store.appendToStream(stream, [event('Small'), big]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(EventTooLarge);
        expect((err as EventTooLarge).limitBytes).toBe(MAX_EVENT_BYTES);
        await expect(store.readStream(stream)).rejects.toBeInstanceOf(StreamNotFound);
      });

      it.each([
        ['an empty name', ''],
        ['a system name', '$all'],
        ['whitespace', 'video video'],
        ['a control character', 'video\u0000x'],
        ['an over-long name', 'v'.repeat(201)],
      ])('rejects a stream name with %s as InvalidStreamName', async (_what, name) => {
        await expect(store.appendToStream(name, [event()])).rejects.toBeInstanceOf(InvalidStreamName);
      });

      it.each([
        ['an id that is not a UUID', { id: 'not-a-uuid', type: 'A', data: {} }],
        ['an empty type', { id: randomUUID(), type: '', data: {} }],
        ['data that is not JSON', { id: randomUUID(), type: 'A', data: { n: 10n } }],
        ['missing data', { id: randomUUID(), type: 'A', data: undefined }],
        ['metadata that is not an object', { id: randomUUID(), type: 'A', data: {}, metadata: 'x' }],
      ])('rejects %s as InvalidEvent and writes nothing', async (_what, bad) => {
        const stream = uniqueStream('video-video_bad');
        await expect(store.appendToStream(stream, [event(), bad as EventData])).rejects.toBeInstanceOf(InvalidEvent);
        await expect(store.readStream(stream)).rejects.toBeInstanceOf(StreamNotFound);
      });

      it('rejects an empty batch and the same id twice in one batch', async () => {
        const e = event();
        await expect(store.appendToStream(uniqueStream('video-video_empty'), [])).rejects.toBeInstanceOf(InvalidEvent);
        await expect(store.appendToStream(uniqueStream('video-video_twice'), [e, e])).rejects.toBeInstanceOf(InvalidEvent);
      });
    });

    describe('subscriptions to $all', () => {
      it('delivers every event of 50 concurrent writers x 200 events exactly once, in one consistent order, to a live subscriber', async () => {
        const prefix = `load-${randomUUID().slice(0, 8)}-`;
        const writers = 50;
        const perWriter = 200;
        const sub = store.subscribeToAll({ fromPosition: await headPosition(store) });
        const seenPromise = collect(sub, prefix, writers * perWriter, 120000);

        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            const stream = `${prefix}${w}`;
            // Batches of 1 to 4 events, so transactions of different sizes interleave.
            for (let written = 0; written < perWriter; ) {
              const n = Math.min(1 + ((w + written) % 4), perWriter - written);
              const batch = Array.from({ length: n }, (_, i) => event('Loaded', { w, i: written + i }));
              await store.appendToStream(stream, batch, { expectedRevision: written === 0 ? 'no_stream' : BigInt(written - 1) });
              written += n;
            }
          }),
        );
        const seen = await seenPromise;
        await sub.close();

        expect(seen).toHaveLength(writers * perWriter);
        expect(new Set(seen.map((e) => e.id)).size).toBe(writers * perWriter);
        for (let i = 1; i < seen.length; i++) expect(comparePositions(seen[i - 1]!.position, seen[i]!.position)).toBe(-1);
        for (let w = 0; w < writers; w++) {
          const revisions = seen.filter((e) => e.streamName === `${prefix}${w}`).map((e) => e.revision);
          expect(revisions).toEqual(Array.from({ length: perWriter }, (_, i) => BigInt(i)));
        }
        // A later reader of $all sees the very same order.
        const replay = (await store.readAll()).filter((e) => e.streamName.startsWith(prefix));
        expect(replay.map((e) => e.id)).toEqual(seen.map((e) => e.id));
      }, 180000);

      it('resumes from a checkpoint after the subscriber is closed mid-way, missing and repeating nothing', async () => {
        const prefix = `resume-${randomUUID().slice(0, 8)}-`;
        const start = await headPosition(store);
        for (let i = 0; i < 10; i++) {
          await store.appendToStream(
            `${prefix}${i % 3}`,
            Array.from({ length: 10 }, (_, j) => event('Step', { i, j })),
          );
        }
        const first = store.subscribeToAll({ fromPosition: start });
        const firstHalf = await collect(first, prefix, 45);
        await first.close();
        const checkpoint = firstHalf[firstHalf.length - 1]!.position;

        const second = store.subscribeToAll({ fromPosition: checkpoint });
        const restPromise = collect(second, prefix, 60);
        // Events appended after the resume arrive live on the same subscription.
        await store.appendToStream(
          `${prefix}live`,
          Array.from({ length: 5 }, () => event('Live')),
        );
        const rest = await restPromise;
        await second.close();

        const all = [...firstHalf, ...rest];
        expect(new Set(all.map((e) => e.id)).size).toBe(105);
        const expected = (await store.readAll({ fromPosition: start })).filter((e) => e.streamName.startsWith(prefix));
        expect(all.map((e) => e.id)).toEqual(expected.map((e) => e.id));
        expect(rest.slice(-5).map((e) => e.type)).toEqual(['Live', 'Live', 'Live', 'Live', 'Live']);
      });

      it('ends a pending iteration when the subscription is closed', async () => {
        const sub = store.subscribeToAll({ fromPosition: await headPosition(store) });
        const iteration = (async () => {
          let n = 0;
          for await (const _e of sub) n++;
          return n;
        })();
        await new Promise((r) => setImmediate(r));
        await sub.close();
        await expect(iteration).resolves.toBeGreaterThanOrEqual(0);
      });
    });
  });
}

export const CONTRACT_MAX_EVENT_BYTES = MAX_EVENT_BYTES;
