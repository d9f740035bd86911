// Real orchestration activities for workflow tests: the given event store, a blob store in a fresh temporary
// folder, the resolved ffmpeg and the shipped moderation policy (or one the test gives).
import fs from 'node:fs';
import type { Client } from '@temporalio/client';
import path from 'node:path';
import { createActivities } from '../../activities';
import { DEFAULT_POLICY_PATH, loadPolicy } from '../../activities/moderation';
import type { PromptPolicy } from '../../domain/moderation/promptPolicy';
import { FsBlobStore } from '../../infra/blobs';
import type { EventStore } from '../../infra/eventstore/port';
import { createLogger } from '../../infra/logger';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { createContentCredentials } from '../../infra/provenance/c2pa';
import { loadConfig } from '../../infra/config';
import { testEnv } from './env';

export function realActivities(
  eventStore: EventStore,
  dataDir = fs.mkdtempSync(path.join(testEnv.tmpDir, 'activities-')),
  temporal?: Client,
  /** Another moderation policy than the shipped one (a test's threshold). */
  policy: PromptPolicy = loadPolicy(DEFAULT_POLICY_PATH),
) {
  const blobs = new FsBlobStore(path.join(dataDir, 'blobs'));
  return {
    blobs,
    activities: createActivities({
      eventStore,
      blobs,
      ffmpeg: createFfmpeg({ ffmpegPath: testEnv.ffmpegPath }),
      contentCredentials: createContentCredentials(loadConfig()),
      modelPack: loadConfig().modelPack,
      policy,
      logger: createLogger({ level: 'silent', name: 'test' }),
      ...(temporal ? { temporal: () => temporal } : {}),
    }),
  };
}
