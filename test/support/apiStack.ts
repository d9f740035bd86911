// The whole platform in one test process, over HTTP: the API server, the orchestration worker (workflow bundle and
// real activities), a GPU worker with the real engine on the CPU, the videos projector, the event store and the
// users, all on the jest run's Temporal dev server and embedded PostgreSQL, in schemas of their own.
// The stack itself is built by the shared harness, scripts/harness/stack.ts, which the pipeline benchmark shares.
import fs from 'node:fs';
import path from 'node:path';
import type { PromptPolicy } from '../../domain/moderation/promptPolicy';
import { UNLIMITED_DEFAULT_TIER, type Tier } from '../../infra/tiers';
import { startPlatformStack } from '../../scripts/harness/stack';
import { cameoPhrasesFile } from './clips';
import { testEnv } from './env';
import { testEngine } from './pipeline';

/**
 * `renders: false`: no GPU worker, so videos stay queued and nothing is rendered (the fuzz run). `projector: false`: the
 * read models are never written (what the API answers while they lag).
 */
export async function startApiStack(
  options: {
    renders?: boolean;
    projector?: boolean;
    retentionSeconds?: number;
    /** The default tier's concurrent-job limit and daily budget (MAX_ACTIVE_VIDEOS_PER_USER, DAILY_VIDEO_SECONDS_PER_USER). */
    maxActiveVideos?: number;
    dailyVideoSeconds?: number;
    /** More tiers (TIERS_FILE's); users join one with `user(name, role, tier)`. */
    tiers?: Tier[];
    webhooks?: { allowedHosts?: string[]; retry?: { firstSeconds: number; windowSeconds: number } };
    /** Another moderation policy than the shipped one (a test's review times). */
    policy?: PromptPolicy;
  } = {},
) {
  const dataDir = fs.mkdtempSync(path.join(testEnv.tmpDir, 'stack-'));
  const stack = await startPlatformStack({
    temporalAddress: testEnv.temporalAddress,
    databaseUrl: testEnv.embeddedPgUrl,
    workflowBundle: { codePath: testEnv.workflowBundlePath },
    engine: options.renders === false ? 'none' : await testEngine(),
    dataDir,
    ffmpegPath: testEnv.ffmpegPath,
    // Every challenge asks for the transcript of the real recording the test clips speak (test/support/clips.ts).
    cameoPhrasesFile: cameoPhrasesFile(),
    eventStorePollIntervalMs: 50,
    ...(options.projector === false ? { projector: false } : {}),
    ...(options.webhooks ? { webhooks: options.webhooks } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.retentionSeconds ? { retentionSeconds: options.retentionSeconds } : {}),
    ...(options.maxActiveVideos || options.dailyVideoSeconds || options.tiers
      ? {
          tiers: [
            { ...UNLIMITED_DEFAULT_TIER, maxActiveVideos: options.maxActiveVideos ?? 0, dailyVideoSeconds: options.dailyVideoSeconds ?? 0 },
            ...(options.tiers ?? []),
          ],
        }
      : {}),
  });
  return {
    url: stack.url,
    eventStore: stack.eventStore,
    blobs: stack.blobs,
    dataDir: stack.dataDir,
    taskQueue: stack.taskQueue,
    gpuTaskQueue: stack.gpuTaskQueue,
    user: stack.user,
    stop: stack.stop,
  };
}
