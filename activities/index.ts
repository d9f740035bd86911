// The activities of the orchestration task queue, built from their dependencies (tests pass real ones).
import type { Client } from '@temporalio/client';
import type { PromptPolicy } from '../domain/moderation/promptPolicy';
import type { BlobStore } from '../infra/blobs';
import type { EventStore } from '../infra/eventstore/port';
import type { Logger } from '../infra/logger';
import type { Ffmpeg } from '../infra/media/ffmpeg';
import type { ContentCredentials } from '../infra/provenance/c2pa';
import { createAppendEvents } from './appendEvents';
import { createCameoConsentActivities } from './cameo/consent';
import { createCameoVerificationActivities } from './cameo/verify';
import { createModerationActivities } from './moderation';
import { createMuxActivities } from './mux';
import { createReadStream } from './readStream';
import { createWebhookActivities, type WebhookDeps } from './webhooks';
import { createRetentionActivities } from './retention';

export interface ActivityDeps {
  eventStore: EventStore;
  blobs: BlobStore;
  ffmpeg: Ffmpeg;
  policy: PromptPolicy;
  logger: Logger;
  /** A Temporal client, for the activities that send Updates to other workflows (cameo consent). */
  temporal?: () => Client;
  /** The webhook endpoints and the URL rules, for the delivery activities (absent: those activities fail, naming it). */
  webhooks?: WebhookDeps;
  /** MODEL_PACK: its manifest gives the mux the SHA-256 of the pack's files for the content credentials. */
  modelPack: string;
  /** Signs each MP4's content credentials at mux time; absent, muxVideo fails naming C2PA_SIGNING_KEY. */
  contentCredentials?: ContentCredentials;
  /** CAMEO_FACE_MODEL: the BlazeFace model file; absent, the one the bootstrap fetched (.tools/tools.json). */
  cameoFaceModelPath?: string;
}

export function createActivities(deps: ActivityDeps) {
  return {
    appendEvents: createAppendEvents(deps),
    ...createModerationActivities(deps),
    ...createMuxActivities(deps),
    ...createReadStream(deps),
    ...createWebhookActivities(deps),
    ...createRetentionActivities(deps),
    ...createCameoVerificationActivities(deps),
    ...createCameoConsentActivities({
      eventStore: deps.eventStore,
      temporal:
        deps.temporal ??
        (() => {
          throw new Error('this worker was built without a Temporal client: cameo consent activities cannot run');
        }),
    }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
