// Every read model the projector runs, in one list: the projector, the test stack and the benchmark all take it from here.
import { createAppearancesReadModel } from './appearances';
import { createFeedReadModel } from './feed';
import { createFollowsReadModel } from './follows';
import { createLikesReadModel } from './likes';
import { createLineageReadModel } from './lineage';
import { createModerationCasesReadModel } from './moderationCases';
import type { ReadModel } from './projection';
import { createVideosReadModel } from './videos';

export function createReadModels(): ReadModel[] {
  return [
    createVideosReadModel(),
    createFeedReadModel(),
    createLineageReadModel(),
    createLikesReadModel(),
    createAppearancesReadModel(),
    createFollowsReadModel(),
    createModerationCasesReadModel(),
  ];
}
