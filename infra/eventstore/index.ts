// Picks the event store adapter from a URL: postgres:// → the SQL adapter, kurrentdb:// or esdb:// → KurrentDB.
import type { Logger } from '../logger';
import { createKurrentDbEventStore } from './kurrentdb';
import type { EventStore } from './port';
import { PgEventStore } from './postgres';

export * from './errors';
export * from './port';

export async function openEventStore(options: { url: string; maxEventBytes: number; schema?: string; logger?: Logger }): Promise<EventStore> {
  const scheme = new URL(options.url).protocol;
  if (scheme === 'postgres:' || scheme === 'postgresql:') {
    return PgEventStore.open({ connectionString: options.url, maxEventBytes: options.maxEventBytes, schema: options.schema, logger: options.logger });
  }
  if (scheme.startsWith('kurrentdb') || scheme.startsWith('esdb')) {
    const store = createKurrentDbEventStore({ url: options.url, maxEventBytes: options.maxEventBytes, logger: options.logger });
    return store;
  }
  throw new Error(`unsupported event store URL scheme ${scheme} (expected postgres://, kurrentdb:// or esdb://)`);
}
