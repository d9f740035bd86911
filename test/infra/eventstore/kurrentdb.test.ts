// The event store contract against KurrentDB/EventStoreDB, wherever KURRENTDB_URL points at one.
import { createKurrentDbEventStore } from '../../../infra/eventstore/kurrentdb';
import { testEnv } from '../../support/env';
import { CONTRACT_MAX_EVENT_BYTES, eventStoreContract } from './contract';

const url = testEnv.kurrentDbUrl;
if (url) {
  eventStoreContract(`KurrentDB at ${url}`, async () => {
    const store = createKurrentDbEventStore({ url, maxEventBytes: CONTRACT_MAX_EVENT_BYTES });
    await store.ping();
    return { store, maxEventBytes: CONTRACT_MAX_EVENT_BYTES, cleanup: () => store.close() };
  });
} else {
  process.stderr.write('[contract] KURRENTDB_URL is not set: the contract suite was not run against KurrentDB\n');
  // Jest refuses a test file without tests; this one states what was checked instead.
  test('the KurrentDB adapter loads and refuses a URL that is not KurrentDB', () => {
    expect(() => createKurrentDbEventStore({ url: 'postgres://127.0.0.1/x', maxEventBytes: CONTRACT_MAX_EVENT_BYTES })).toThrow();
  });
}
