// The activities of the orchestration task queue, built from their dependencies (tests pass real ones).
import type { PromptPolicy } from '../domain/moderation/promptPolicy';
import type { BlobStore } from '../infra/blobs';
import type { EventStore } from '../infra/eventstore/port';
import type { Logger } from '../infra/logger';
import type { Ffmpeg } from '../infra/media/ffmpeg';
import { createAppendEvents } from './appendEvents';
import { createModerationActivities } from './moderation';
import { createMuxActivities } from './mux';
import { createReadStream } from './readStream';

export interface ActivityDeps {
  eventStore: EventStore;
  blobs: BlobStore;
  ffmpeg: Ffmpeg;
  policy: PromptPolicy;
  logger: Logger;
}

export function createActivities(deps: ActivityDeps) {
  return {
    appendEvents: createAppendEvents(deps),
    ...createModerationActivities(deps),
    ...createMuxActivities(deps),
    ...createReadStream(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
