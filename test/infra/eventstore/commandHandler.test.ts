// The command handler (read, fold, decide, append at the revision read, retry on a conflict) against the embedded
// PostgreSQL event store. The concurrent writer is real: it appends between the handler's read and its append.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { CommandConflict, commandHandler, type Decision } from '../../../infra/eventstore/commandHandler';
import { PgEventStore } from '../../../infra/eventstore/postgres';
import type { EventStore } from '../../../infra/eventstore/port';
import { testEnv } from '../../support/env';

// A small aggregate: a counter that refuses to go over its limit.
type CounterEvent = { type: 'Added'; data: { by: number } };
interface Counter {
  total: number;
}
class OverLimit extends Error {
  constructor(readonly total: number) {
    super(`the counter would reach ${total}, over its limit of 10`);
  }
}
const evolver = { initialState: (): Counter => ({ total: 0 }), evolve: (s: Counter, e: CounterEvent): Counter => ({ total: s.total + e.data.by }) };
function add(by: number) {
  return ({ state }: Decision<Counter>): CounterEvent[] => {
    if (state.total + by > 10) throw new OverLimit(state.total + by);
    return by === 0 ? [] : [{ type: 'Added', data: { by } }];
  };
}

const schema = `cmd_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
let store: EventStore;
const stream = () => `counter-${randomUUID().slice(0, 8)}`;
const metadata = { actor: 'user_1', correlationId: 'counter', causationId: 'Add', requestId: 'req-1' };

/** Another writer's append, straight to the store. */
async function otherWriterAdds(name: string, by: number): Promise<void> {
  await store.appendToStream(name, [{ id: randomUUID(), type: 'Added', data: { by }, metadata: { actor: 'other' } }]);
}
async function streamOf(name: string) {
  return (await store.readStream(name).catch(() => [])).map((e) => ({ revision: e.revision, type: e.type, data: e.data, actor: e.metadata.actor }));
}

beforeAll(async () => {
  store = await PgEventStore.open({ connectionString: testEnv.embeddedPgUrl, schema, maxEventBytes: 64 * 1024, poolSize: 8 });
});
afterAll(async () => {
  await store?.close();
  const client = new pg.Client({ connectionString: testEnv.embeddedPgUrl });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

describe('command handler over the PostgreSQL event store', () => {
  test('given a stream at revision 1, when a command is decided, then its events are appended at revision 2 with the command metadata and the new state is returned', async () => {
    const name = stream();
    await otherWriterAdds(name, 2);
    await otherWriterAdds(name, 3);
    const handle = commandHandler(store, evolver);
    const before = Date.now();

    const result = await handle(name, add(4), { metadata });

    expect(result).toEqual({ newEvents: [{ type: 'Added', data: { by: 4 } }], newState: { total: 9 }, nextExpectedRevision: 2n });
    const recorded = await store.readStream(name);
    expect(recorded.map((e) => e.revision)).toEqual([0n, 1n, 2n]);
    const { at, ...rest } = recorded[2]!.metadata as { at: string };
    expect(rest).toEqual(metadata);
    expect(Date.parse(at)).toBeGreaterThanOrEqual(before - 1000);
    expect(new Date(at).toISOString()).toBe(at);
  });

  test('given no stream, when a command is decided, then the stream is created (an append expecting no stream)', async () => {
    const name = stream();
    const result = await commandHandler(store, evolver)(name, add(1), { metadata: { actor: 'user_1' } });
    expect(result.nextExpectedRevision).toBe(0n);
    expect(await streamOf(name)).toEqual([{ revision: 0n, type: 'Added', data: { by: 1 }, actor: 'user_1' }]);
  });

  test('given an id function, when events are appended, then they carry the ids it gives', async () => {
    const name = stream();
    const id = randomUUID();
    await commandHandler(store, evolver)(name, add(1), { metadata: { actor: 'user_1' }, eventId: () => id });
    expect((await store.readStream(name))[0]!.id).toBe(id);
  });

  test('given another writer appends between the read and the append, when the append conflicts, then the handler reads again and decides on the newer state', async () => {
    const name = stream();
    await otherWriterAdds(name, 1);
    const seen: Array<{ attempt: number; revision: bigint | undefined; total: number }> = [];

    const result = await commandHandler(store, evolver)(
      name,
      async (decision) => {
        seen.push({ attempt: decision.attempt, revision: decision.revision, total: decision.state.total });
        if (decision.attempt === 1) await otherWriterAdds(name, 5);
        return add(3)(decision);
      },
      { metadata },
    );

    expect(seen).toEqual([
      { attempt: 1, revision: 0n, total: 1 },
      { attempt: 2, revision: 1n, total: 6 },
    ]);
    expect(result.newState).toEqual({ total: 9 });
    expect(await streamOf(name)).toEqual([
      { revision: 0n, type: 'Added', data: { by: 1 }, actor: 'other' },
      { revision: 1n, type: 'Added', data: { by: 5 }, actor: 'other' },
      { revision: 2n, type: 'Added', data: { by: 3 }, actor: 'user_1' },
    ]);
  });

  test('given the newer state refuses, when the retry decides again, then the refusal comes back and nothing of the command is appended', async () => {
    const name = stream();
    await otherWriterAdds(name, 1);
    const handling = commandHandler(store, evolver)(
      name,
      async (decision) => {
        if (decision.attempt === 1) await otherWriterAdds(name, 8);
        return add(3)(decision);
      },
      { metadata },
    );
    await expect(handling).rejects.toEqual(new OverLimit(12));
    expect((await streamOf(name)).map((e) => e.actor)).toEqual(['other', 'other']);
  });

  test('given concurrent handlers on one stream, when they all append, then each lands once, at its own revision', async () => {
    const name = stream();
    await otherWriterAdds(name, 0);
    const handle = commandHandler(store, evolver);
    const results = await Promise.all([1, 1, 1, 1, 1].map((by) => handle(name, add(by), { metadata, maxAttempts: 10 })));
    expect(results.map((r) => r.nextExpectedRevision).sort()).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect((await streamOf(name)).length).toBe(6);
    expect(results.map((r) => r.newState.total).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  test('given another writer appends before every append, when the handler has tried maxAttempts times, then it gives up with a CommandConflict and appends nothing', async () => {
    const name = stream();
    await otherWriterAdds(name, 0);
    let calls = 0;
    const handling = commandHandler(store, evolver)(
      name,
      async (decision) => {
        calls++;
        await otherWriterAdds(name, 0);
        return add(1)(decision);
      },
      { metadata, maxAttempts: 3 },
    );

    const err = await handling.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandConflict);
    expect(err).toMatchObject({ attempts: 3, streamName: name, expected: '2', actual: 3n });
    expect((err as Error).message).toBe(`stream ${name} kept moving: gave up after 3 attempts (stream ${name}: expected revision 2, but it is at 3)`);
    expect(calls).toBe(3);
    expect((await streamOf(name)).every((e) => e.actor === 'other')).toBe(true);
  });

  test('given the decider refuses, when the command is handled, then its typed refusal comes back and nothing is appended', async () => {
    const name = stream();
    await otherWriterAdds(name, 9);
    await expect(commandHandler(store, evolver)(name, add(2), { metadata })).rejects.toBeInstanceOf(OverLimit);
    expect(await streamOf(name)).toHaveLength(1);
  });

  test('given the decision is that nothing changes, when the command is handled, then nothing is appended and the state read comes back', async () => {
    const name = stream();
    await otherWriterAdds(name, 4);
    const result = await commandHandler(store, evolver)(name, add(0), { metadata });
    expect(result).toEqual({ newEvents: [], newState: { total: 4 }, nextExpectedRevision: 0n });
    expect(await streamOf(name)).toHaveLength(1);
  });
});
