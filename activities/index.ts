// The activities of the orchestration task queue, built from their dependencies (tests pass real ones).
import type { EventStore } from '../infra/eventstore/port';
import type { Logger } from '../infra/logger';
import { createAppendEvents } from './appendEvents';

export interface ActivityDeps {
  eventStore: EventStore;
  logger: Logger;
}

export function createActivities(deps: ActivityDeps) {
  return {
    appendEvents: createAppendEvents(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
