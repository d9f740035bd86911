// `npm run fixtures:record [-- name ...]`: records the workflow histories the test suite replays
// (test/workflows/replay.test.ts). Starts a platform of its own (a throw-away Temporal dev server and embedded
// PostgreSQL in a temporary folder, the stack of scripts/harness/stack.ts on them, workflows bundled from this checkout),
// runs each scenario through it, fetches the histories and writes them to test/fixtures/histories/<name>.json (the
// JSON Temporal's tools read) with index.json listing what each one is. Names given on the command line re-record only
// those. Entries marked `before_patch` (or `before_change`) were recorded with the code before a patch (or a change
// that needed none) and are kept as they are: they are the old histories the current code must still replay.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { VideoEvent, VideoRequestedData } from '../domain/video';
import { deliveryFor } from '../domain/webhooks/deliveries';
import { createEngine } from '../gpu-workers/engine/engine';
import { loadConfig } from '../infra/config';
import { createLogger } from '../infra/logger';
import { startEmbeddedPostgres } from '../infra/postgres/embedded';
import { connectTemporalWorker } from '../infra/temporal/connection';
import { startTemporalDevServer } from '../infra/temporal/devServer';
import { fetchHistoryJson } from '../infra/temporal/replay';
import { PROJECT_ROOT, readTools } from '../infra/tools';
import { queueWebhookDelivery, webhookEndpointWorkflowId } from '../infra/webhooks/queue';
import {
  caseReviewWorkflow,
  cameoWorkflow,
  generationWorkflow,
  publishWorkflow,
  recordEventsWorkflow,
  retentionWorkflow,
  takedownWorkflow,
} from '../workflows';
import {
  caseStateQuery,
  cameoStateQuery,
  changePermissionUpdate,
  decideCaseUpdate,
  deleteCameoUpdate,
  grantAccessUpdate,
  revokeAccessUpdate,
} from '../workflows/definitions';
import { Cleanup } from './bench/cleanup';
import { cameoClip, liveCameoClip } from './harness/cameoClips';
import { useClipFolder } from './harness/clips';
import { startRole, type RoleProcess } from './harness/processes';
import { startPlatformStack, type PlatformStack } from './harness/stack';
import { cameoRegistration, videoRequest } from './harness/videos';

const HISTORIES_DIR = path.join(PROJECT_ROOT, 'test', 'fixtures', 'histories');
const INDEX = path.join(HISTORIES_DIR, 'index.json');

/** One line of index.json. */
interface FixtureEntry {
  file: string;
  workflow_type: string;
  workflow_id: string;
  /** What happened in the run, in words. */
  path: string;
  recorded_at: string;
  commit: string;
  /** Set on a history recorded with the code before the named patch; fixtures:record never overwrites it. */
  before_patch?: string;
  /** Set on a history recorded before the named change that needed no patch; kept like a `before_patch` one. */
  before_change?: string;
}

/** A history recorded before a patch or change: never re-recorded, never dropped. */
const isKept = (e: FixtureEntry): boolean => Boolean(e.before_patch || e.before_change);

const OWNER = 'user_owner';
const FRIEND = 'user_friend';
const POLL_MS = 50;
const hex = () => randomUUID().replace(/-/g, '');
const log = (msg: string) => process.stderr.write(`[fixtures] ${msg}\n`);

/** What a scenario records: the workflow id whose history becomes <name>.json, and what happened in it. */
interface Recorded {
  name: string;
  workflowId: string;
  path: string;
}

interface Ctx {
  stack: PlatformStack;
  client: Client;
  temporalAddress: string;
  /** Videos and cameos the later scenarios build on. */
  shared: { completed?: VideoRequestedData; cameoId?: string; cameo?: WorkflowHandle<typeof cameoWorkflow> };
}

async function until<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

const eventsOf = async (ctx: Ctx, videoId: string) =>
  (await ctx.stack.eventStore.readStream(`video-${videoId}`).catch(() => [])).map((e) => ({ type: e.type, data: e.data }) as VideoEvent);

function startVideo(ctx: Ctx, req: VideoRequestedData, gpuTaskQueue = ctx.stack.gpuTaskQueue) {
  return ctx.client.workflow.start(generationWorkflow, {
    taskQueue: ctx.stack.taskQueue,
    workflowId: `video-${req.video_id}`,
    args: [{ request: req, actor: req.owner_id, gpuTaskQueue }],
  });
}

/** Runs a video to its end and checks it ended as the scenario says. */
async function runVideo(ctx: Ctx, req: VideoRequestedData, expected: { status: string; stage?: string }): Promise<void> {
  const result = await (await startVideo(ctx, req)).result();
  if (result.status !== expected.status || (expected.stage && result.stage !== expected.stage)) {
    throw new Error(`video ${req.video_id} ended ${result.status}/${result.stage}, expected ${expected.status}${expected.stage ? `/${expected.stage}` : ''}`);
  }
}

const firstChunkRendered = (ctx: Ctx, videoId: string) =>
  until(async () => ((await eventsOf(ctx, videoId)).some((e) => e.type === 'VideoChunkRendered') ? true : undefined), `a first chunk of ${videoId}`);

/** The id of the case a video waits in review for, once its case's workflow runs. */
async function caseInReview(ctx: Ctx, videoId: string): Promise<string> {
  return await until(async () => {
    const moderated = (await eventsOf(ctx, videoId)).find((e) => e.type === 'PromptModerated');
    const data = moderated?.data as { case_id: string; verdict: string } | undefined;
    if (!data) return undefined;
    if (data.verdict !== 'review') throw new Error(`video ${videoId}'s prompt was ${data.verdict}, not in review`);
    const state = await ctx.client.workflow
      .getHandle(`moderation-${data.case_id}`)
      .query(caseStateQuery)
      .catch(() => undefined);
    return state?.caseId ? data.case_id : undefined;
  }, `video ${videoId} in review`);
}

/** The child workflow ids a history started, by workflow type. */
async function childrenOf(ctx: Ctx, workflowId: string): Promise<Record<string, string[]>> {
  const history = await ctx.client.workflow.getHandle(workflowId).fetchHistory();
  const children: Record<string, string[]> = {};
  for (const e of history.events ?? []) {
    const started = e.startChildWorkflowExecutionInitiatedEventAttributes;
    if (started?.workflowType?.name && started.workflowId) (children[started.workflowType.name] ??= []).push(started.workflowId);
  }
  return children;
}

async function registerCameo(ctx: Ctx): Promise<{ cameoId: string; handle: WorkflowHandle<typeof cameoWorkflow> }> {
  const cameoId = `cameo_${hex()}`;
  const recordingKey = `cameos/${cameoId}/recording`;
  await ctx.stack.blobs.put(recordingKey, fs.readFileSync(await liveCameoClip()));
  const handle = await ctx.client.workflow.start(
    cameoWorkflow,
    cameoRegistration({ cameoId, ownerId: OWNER, recordingKey, taskQueue: ctx.stack.taskQueue, at: Math.floor(Date.now() / 1000) }),
  );
  const status = await until(async () => {
    const state = await handle.query(cameoStateQuery);
    return state.status === 'pending' ? undefined : state.status;
  }, 'the cameo recording judged');
  if (status !== 'verified') throw new Error(`cameo ${cameoId} was ${status}, not verified`);
  return { cameoId, handle };
}

/**
 * The scenarios, in the order they run (later ones use what earlier ones made). Each returns the histories it
 * records; the names are the fixture files'. Videos are short and small so that histories stay short.
 */
const SCENARIOS: { names: string[]; run: (ctx: Ctx) => Promise<Recorded[]> }[] = [
  {
    names: ['generation-completed-published', 'publish'],
    run: async (ctx) => {
      const req = videoRequest('three red balls bouncing', { seconds: 1, publish: true });
      await runVideo(ctx, req, { status: 'completed' });
      if (!(await eventsOf(ctx, req.video_id)).some((e) => e.type === 'VideoPublished'))
        throw new Error(`video ${req.video_id} completed but was not published`);
      ctx.shared.completed = req;
      const workflowId = `video-${req.video_id}`;
      const children = await childrenOf(ctx, workflowId);
      // The prompt and the output are judged in the generation workflow itself (moderation-inline): no case child.
      const [publish] = children.publishWorkflow ?? [];
      if (!publish || children.moderationWorkflow) throw new Error(`video ${req.video_id} did not start just the publish child: ${JSON.stringify(children)}`);
      return [
        {
          name: 'generation-completed-published',
          workflowId,
          path: 'a 1 s video completed, then published (publish: true, no cameo): its prompt judged inline (moderation-inline), its chunk rendered whole and checked for the live preview (live-preview)',
        },
        { name: 'publish', workflowId: publish, path: 'publication of a completed video without cameos, as a child of its generation' },
      ];
    },
  },
  {
    names: ['generation-cancelled'],
    run: async (ctx) => {
      const req = videoRequest('two blue balls rolling', { seconds: 4 });
      const handle = await startVideo(ctx, req);
      await firstChunkRendered(ctx, req.video_id);
      await handle.cancel();
      await handle.result().then(
        () => Promise.reject(new Error(`video ${req.video_id} completed although it was cancelled`)),
        () => undefined,
      );
      const last = (await eventsOf(ctx, req.video_id)).at(-1);
      if (last?.type !== 'VideoCancelled') throw new Error(`video ${req.video_id} ends with ${last?.type}, not VideoCancelled`);
      return [{ name: 'generation-cancelled', workflowId: handle.workflowId, path: 'a 4 s video cancelled after its first chunk was rendered' }];
    },
  },
  {
    names: ['generation-blocked-prompt'],
    run: async (ctx) => {
      const req = videoRequest('a gory bloodbath', { seconds: 1 });
      await runVideo(ctx, req, { status: 'failed', stage: 'blocked' });
      return [{ name: 'generation-blocked-prompt', workflowId: `video-${req.video_id}`, path: 'a video blocked by prompt moderation before any GPU work' }];
    },
  },
  {
    names: ['generation-review-allowed', 'case-review'],
    run: async (ctx) => {
      const req = videoRequest('a red ball rolls past a corpse', { seconds: 1 });
      const handle = await startVideo(ctx, req);
      const caseId = await caseInReview(ctx, req.video_id);
      await ctx.client.workflow
        .getHandle(`moderation-${caseId}`)
        .executeUpdate(decideCaseUpdate, { args: [{ moderator_id: 'user_moderator', decision: 'allow', reason: 'a toy scene' }] });
      const result = await handle.result();
      if (result.status !== 'completed') throw new Error(`video ${req.video_id} ended ${result.status}/${result.stage} after its review was allowed`);
      return [
        {
          name: 'generation-review-allowed',
          workflowId: `video-${req.video_id}`,
          path: 'a 1 s video whose prompt scored in the review band: it waited in review for its case (a child caseReviewWorkflow), was allowed and completed',
        },
        {
          name: 'case-review',
          workflowId: `moderation-${caseId}`,
          path: 'a prompt case in review, decided (allow) by a moderator through the decideCase Update',
        },
      ];
    },
  },
  {
    names: ['case-appeal', 'generation-resumed'],
    run: async (ctx) => {
      const req = videoRequest('a purple ball beside some explosives', { seconds: 1 });
      const handle = await startVideo(ctx, req);
      const caseId = await caseInReview(ctx, req.video_id);
      const decide = (moderator: string, decision: 'allow' | 'block') =>
        ctx.client.workflow
          .getHandle(`moderation-${caseId}`)
          .executeUpdate(decideCaseUpdate, { args: [{ moderator_id: moderator, decision, reason: 'looked at it' }] });
      await decide('user_moderator', 'block');
      const blocked = await handle.result();
      if (blocked.stage !== 'blocked') throw new Error(`video ${req.video_id} ended ${blocked.status}/${blocked.stage}, not blocked`);
      const appeal = await ctx.client.workflow.start(caseReviewWorkflow, {
        taskQueue: ctx.stack.taskQueue,
        workflowId: `moderation-${caseId}`,
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        args: [
          {
            caseId,
            mode: 'appeal',
            appeal: { by: req.owner_id, statement: 'cartoon fireworks' },
            actor: req.owner_id,
            correlationId: req.video_id,
            generation: { gpuTaskQueue: ctx.stack.gpuTaskQueue },
          },
        ],
      });
      await until(async () => ((await appeal.query(caseStateQuery)).appealed ? true : undefined), `the appeal of ${caseId} recorded`);
      await decide('user_moderator2', 'allow');
      await appeal.result();
      await until(
        async () => ((await eventsOf(ctx, req.video_id)).some((e) => e.type === 'VideoCompleted') ? true : undefined),
        `video ${req.video_id} completed after its appeal`,
      );
      const resumed = await ctx.client.workflow.getHandle(`video-${req.video_id}`).result();
      if (resumed.status !== 'completed') throw new Error(`the resumed run of ${req.video_id} ended ${resumed.status}`);
      return [
        {
          name: 'case-appeal',
          workflowId: `moderation-${caseId}`,
          path: "a blocked prompt's appeal, upheld by another moderator: the generation started again (resume)",
        },
        {
          name: 'generation-resumed',
          workflowId: `video-${req.video_id}`,
          path: 'the generation run started again after an upheld appeal of its prompt: read the stream, rendered and completed',
        },
      ];
    },
  },
  {
    names: ['generation-remix', 'record-remix'],
    run: async (ctx) => {
      const parent = ctx.shared.completed!;
      const req = videoRequest('make them blue', { seconds: 1, remixed_from_video_id: parent.video_id, owner_id: FRIEND });
      await runVideo(ctx, req, { status: 'completed' });
      const [remixed] = (await childrenOf(ctx, `video-${req.video_id}`)).recordRemixWorkflow ?? [];
      if (!remixed) throw new Error(`remix ${req.video_id} did not start recordRemixWorkflow`);
      return [
        { name: 'generation-remix', workflowId: `video-${req.video_id}`, path: 'a 1 s remix of a completed video, completed' },
        { name: 'record-remix', workflowId: remixed, path: 'VideoRemixed recorded on the parent of a remix' },
      ];
    },
  },
  {
    names: ['generation-extension'],
    run: async (ctx) => {
      const source = ctx.shared.completed!;
      const req = videoRequest('and they keep bouncing', { seconds: 2, extended_from_video_id: source.video_id });
      await runVideo(ctx, req, { status: 'completed' });
      return [{ name: 'generation-extension', workflowId: `video-${req.video_id}`, path: 'a 1 s video extended by 1 s, completed' }];
    },
  },
  {
    names: ['generation-completed-retention', 'retention'],
    run: async (ctx) => {
      // VIDEO_RETENTION_SECONDS=2: the completion carries expires_at (the retention patch) and starts the child
      // retentionWorkflow, whose timer fires two seconds later and deletes the content.
      const req = videoRequest('three red balls bouncing', { seconds: 1 });
      const handle = await ctx.client.workflow.start(generationWorkflow, {
        taskQueue: ctx.stack.taskQueue,
        workflowId: `video-${req.video_id}`,
        args: [{ request: req, actor: req.owner_id, gpuTaskQueue: ctx.stack.gpuTaskQueue, retentionSeconds: 2 }],
      });
      await handle.result();
      const retentionId = `retention-${req.video_id}`;
      const result = await ctx.client.workflow.getHandle<typeof retentionWorkflow>(retentionId).result();
      if (!result.expired) throw new Error(`video ${req.video_id}: retention did not expire its content`);
      return [
        {
          name: 'generation-completed-retention',
          workflowId: `video-${req.video_id}`,
          path: 'a 1 s video completed with a 2 s retention (the retention patch)',
        },
        { name: 'retention', workflowId: retentionId, path: 'the retention of a completed draft: timer, VideoContentExpired, content deleted' },
      ];
    },
  },
  {
    names: ['generation-deadline'],
    run: async (ctx) => {
      // Cancel-After: a 12 s 720x1280 video given two seconds: the deadline timer (the deadline patch) cancels the
      // work while it renders, and the video ends cancelled with deadline_exceeded.
      const req = videoRequest('three red balls bouncing', { seconds: 12, size: '720x1280' });
      const handle = await ctx.client.workflow.start(generationWorkflow, {
        taskQueue: ctx.stack.taskQueue,
        workflowId: `video-${req.video_id}`,
        args: [{ request: req, actor: req.owner_id, gpuTaskQueue: ctx.stack.gpuTaskQueue, deadlineAt: Math.floor(Date.now() / 1000) + 2 }],
      });
      const result = await handle.result();
      if (result.status !== 'cancelled') throw new Error(`video ${req.video_id}: expected cancelled by its deadline, got ${result.status}`);
      return [
        {
          name: 'generation-deadline',
          workflowId: `video-${req.video_id}`,
          path: 'a 12 s video cancelled by its Cancel-After deadline while rendering (the deadline patch)',
        },
      ];
    },
  },
  {
    names: ['takedown'],
    run: async (ctx) => {
      const videoId = ctx.shared.completed!.video_id;
      const workflowId = `takedown-${videoId}`;
      await ctx.client.workflow.execute(takedownWorkflow, {
        taskQueue: ctx.stack.taskQueue,
        workflowId,
        args: [{ videoId, by: OWNER, reason: 'recorded for the replay tests' }],
      });
      return [{ name: 'takedown', workflowId, path: 'a published video taken down' }];
    },
  },
  {
    names: ['publish-with-cameo'],
    run: async (ctx) => {
      const { cameoId, handle } = await registerCameo(ctx);
      await handle.executeUpdate(grantAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
      ctx.shared.cameoId = cameoId;
      ctx.shared.cameo = handle;
      const req = videoRequest('a red ball bouncing', { seconds: 1, owner_id: FRIEND, cameo_ids: [cameoId] });
      await runVideo(ctx, req, { status: 'completed' });
      const workflowId = `publish-${req.video_id}`;
      await ctx.client.workflow.execute(publishWorkflow, { taskQueue: ctx.stack.taskQueue, workflowId, args: [{ videoId: req.video_id, actor: FRIEND }] });
      const published = (await eventsOf(ctx, req.video_id)).find((e) => e.type === 'VideoPublished');
      if ((published?.data as { cameo_uses?: unknown[] } | undefined)?.cameo_uses?.length !== 1)
        throw new Error(`video ${req.video_id} was not published with its cameo use`);
      return [{ name: 'publish-with-cameo', workflowId, path: 'a completed video with one granted cameo published: the cameo use confirmed' }];
    },
  },
  {
    names: ['generation-blocked-cameo-revoked', 'cameo'],
    run: async (ctx) => {
      if (!ctx.shared.cameo) {
        const { cameoId, handle } = await registerCameo(ctx);
        await handle.executeUpdate(grantAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
        ctx.shared.cameoId = cameoId;
        ctx.shared.cameo = handle;
      }
      const cameo = ctx.shared.cameo;
      const req = videoRequest('a red ball bouncing', { seconds: 4, owner_id: FRIEND, cameo_ids: [ctx.shared.cameoId!] });
      const video = await startVideo(ctx, req);
      await firstChunkRendered(ctx, req.video_id);
      await cameo.executeUpdate(revokeAccessUpdate, { args: [{ by: OWNER, user_id: FRIEND }] });
      const result = await video.result();
      const last = (await eventsOf(ctx, req.video_id)).at(-1);
      if (result.stage !== 'blocked' || (last?.data as { code?: string })?.code !== 'consent_revoked')
        throw new Error(`video ${req.video_id} ended ${result.status}/${result.stage} (${last?.type}), not blocked by the revocation`);
      // Deleted (without taking its videos down), the cameo's workflow ends: its history is whole.
      await cameo.executeUpdate(deleteCameoUpdate, { args: [{ by: OWNER, take_down: false }] });
      await cameo.result();
      return [
        {
          name: 'generation-blocked-cameo-revoked',
          workflowId: video.workflowId,
          path: 'a 4 s video with a cameo blocked (consent_revoked) when the grant was revoked during rendering',
        },
        {
          name: 'cameo',
          workflowId: cameo.workflowId,
          path: 'a cameo registered and verified, access granted, uses reserved and published, access revoked while a video rendered, the cameo deleted',
        },
      ];
    },
  },
  {
    names: ['cameo-rejected'],
    run: async (ctx) => {
      // The face photograph panned and zoomed over the phrase spoken: refused no_live_face, every detector's verdict
      // recorded (CameoVerificationChecked); then deleted, so the workflow's history is whole.
      const cameoId = `cameo_${hex()}`;
      const recordingKey = `cameos/${cameoId}/recording`;
      await ctx.stack.blobs.put(recordingKey, fs.readFileSync(await cameoClip('photo', 'phrase')));
      const handle = await ctx.client.workflow.start(
        cameoWorkflow,
        cameoRegistration({ cameoId, ownerId: OWNER, recordingKey, taskQueue: ctx.stack.taskQueue, at: Math.floor(Date.now() / 1000) }),
      );
      const state = await until(async () => {
        const s = await handle.query(cameoStateQuery);
        return s.status === 'pending' ? undefined : s;
      }, 'the cameo recording judged');
      if (state.status !== 'rejected' || state.rejectCode !== 'no_live_face')
        throw new Error(`cameo ${cameoId} was ${state.status} (${state.rejectCode}), not rejected no_live_face`);
      await handle.executeUpdate(deleteCameoUpdate, { args: [{ by: OWNER, take_down: false }] });
      await handle.result();
      return [
        {
          name: 'cameo-rejected',
          workflowId: handle.workflowId,
          path: 'a cameo whose recording (a photograph panned and zoomed) was rejected no_live_face, then deleted',
        },
      ];
    },
  },
  {
    names: ['cameo-character-reverified'],
    run: async (ctx) => {
      // A character (no phrase) made from a faceless clip (moving noise over a tune), verified; its recording then replaced by a person's
      // face (what an earlier verifier let through), and its permission widened: verified again under the
      // character-reverify patch, refused human_likeness_requires_cameo; then deleted, so the history is whole.
      const cameoId = `cameo_${hex()}`;
      const recordingKey = `cameos/${cameoId}/recording`;
      await ctx.stack.blobs.put(recordingKey, fs.readFileSync(await cameoClip('noise', 'music')));
      const handle = await ctx.client.workflow.start(
        cameoWorkflow,
        cameoRegistration({
          cameoId,
          ownerId: OWNER,
          recordingKey,
          taskQueue: ctx.stack.taskQueue,
          permission: 'only_me',
          phrase: null,
          at: Math.floor(Date.now() / 1000),
        }),
      );
      const verified = await until(async () => {
        const s = await handle.query(cameoStateQuery);
        return s.status === 'pending' ? undefined : s;
      }, 'the character judged');
      if (verified.status !== 'verified') throw new Error(`character ${cameoId} was ${verified.status} (${verified.rejectCode}), not verified`);
      await ctx.stack.blobs.put(recordingKey, fs.readFileSync(await liveCameoClip()));
      const widened = await handle.executeUpdate(changePermissionUpdate, { args: [{ by: OWNER, permission: 'everyone' }] });
      if (widened.status !== 'rejected' || widened.rejectCode !== 'human_likeness_requires_cameo')
        throw new Error(`character ${cameoId} was ${widened.status} (${widened.rejectCode}) after its permission was widened`);
      await handle.executeUpdate(deleteCameoUpdate, { args: [{ by: OWNER, take_down: false }] });
      await handle.result();
      return [
        {
          name: 'cameo-character-reverified',
          workflowId: handle.workflowId,
          path: 'a character verified, its recording replaced by a face, its permission widened: verified again and refused human_likeness_requires_cameo, then deleted',
        },
      ];
    },
  },
  {
    names: ['generation-gpu-worker-killed'],
    run: async (ctx) => {
      // A GPU worker process of its own, on a task queue of its own, so that killing it leaves the stack's alone.
      const gpuTaskQueue = `fixtures-gpu-${hex()}`;
      const env = {
        TEMPORAL_ADDRESS: ctx.temporalAddress,
        GPU_TASK_QUEUE: gpuTaskQueue,
        DATA_DIR: ctx.stack.dataDir,
        INFERENCE_EP: 'cpu',
        INFERENCE_THREADS: '1',
        LOG_LEVEL: 'warn',
      };
      const roles: RoleProcess[] = [startRole('gpu-workers/worker.ts', env)];
      try {
        const req = videoRequest('five bouncy balls in a storm', { seconds: 2, size: '1280x720' });
        const handle = await startVideo(ctx, req, gpuTaskQueue);
        // Chunk 0 recorded and chunk 1 reporting progress from inside its render: the worker dies mid-chunk.
        await until(async () => {
          if (!(await eventsOf(ctx, req.video_id)).some((e) => e.type === 'VideoChunkRendered')) return undefined;
          const pending = (await handle.describe()).raw.pendingActivities ?? [];
          return pending.some((a) => a.activityType?.name === 'renderChunk' && a.heartbeatDetails?.payloads?.length) ? true : undefined;
        }, 'chunk 1 in progress');
        await roles[0]!.kill('SIGKILL');
        roles.push(startRole('gpu-workers/worker.ts', env));
        const result = await Promise.race([
          handle.result(),
          roles[1]!.exited.then((how) => Promise.reject(new Error(`the second GPU worker stopped (${how})${roles[1]!.output()}`))),
        ]);
        if (result.status !== 'completed') throw new Error(`video ${req.video_id} ended ${result.status} after the GPU worker was killed`);
        const history = await handle.fetchHistory();
        if (!(history.events ?? []).some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1))
          throw new Error(`the history of ${handle.workflowId} shows no retried activity attempt`);
        return [
          {
            name: 'generation-gpu-worker-killed',
            workflowId: handle.workflowId,
            path: 'a 2 s video whose GPU worker was killed (SIGKILL) mid-chunk: the chunk retried (attempt 2) on a new worker, completed',
          },
        ];
      } finally {
        await Promise.all(roles.map((r) => r.kill('SIGKILL')));
      }
    },
  },
  {
    names: ['webhook-endpoint'],
    run: async (ctx) => {
      // An endpoint whose receiver (on 127.0.0.1, which the stack allows) answers 500 once, then 200: the delivery's
      // first attempt fails, Temporal retries it a second later, and it is delivered. The workflow then waits idle and
      // is terminated, so the history ends there.
      let served = 0;
      const receiver = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(served++ === 0 ? 500 : 200);
          res.end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      try {
        const { apiKey } = await ctx.stack.user('fixture-webhooks');
        const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
        const res = await fetch(`${ctx.stack.url}/v1/webhook_endpoints`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'fixture', url, event_types: ['video.completed'] }),
        });
        const endpoint = (await res.json()) as { id: string };
        if (res.status !== 200) throw new Error(`POST /v1/webhook_endpoints answered ${res.status}: ${JSON.stringify(endpoint)}`);
        const delivery = deliveryFor({ endpointId: endpoint.id, eventId: randomUUID(), eventType: 'video.completed', subjectId: `video_${hex()}`, at: 1 });
        await queueWebhookDelivery(ctx.client, {
          taskQueue: ctx.stack.taskQueue,
          endpointId: endpoint.id,
          retry: { firstSeconds: 1, windowSeconds: 60 },
          delivery: { deliveryId: delivery.deliveryId, webhookId: delivery.webhookId, eventType: 'video.completed', body: delivery.body },
        });
        const workflowId = webhookEndpointWorkflowId(endpoint.id);
        await until(async () => (served >= 2 ? true : undefined), 'the delivery to be retried and delivered');
        const handle = ctx.client.workflow.getHandle(workflowId);
        // Its end recorded (the activity after the delivery), then idle.
        await until(async () => {
          const { events } = await handle.fetchHistory();
          const done = (events ?? []).filter((e) => e.activityTaskCompletedEventAttributes).length >= 3;
          return done ? true : undefined;
        }, 'the delivery to be recorded as delivered');
        await handle.terminate('recorded for the replay tests');
        return [{ name: 'webhook-endpoint', workflowId, path: 'one delivery: queued, a 500, retried, a 200, ended delivered; then idle (terminated)' }];
      } finally {
        await new Promise<void>((resolve) => receiver.close(() => resolve()));
      }
    },
  },
  {
    names: ['record-events'],
    run: async (ctx) => {
      const workflowId = `record-events-${hex()}`;
      await ctx.client.workflow.execute(recordEventsWorkflow, {
        taskQueue: ctx.stack.taskQueue,
        workflowId,
        args: [
          {
            stream: `fixture-${hex()}`,
            actor: OWNER,
            batches: [
              [{ type: 'Noted', data: { n: 1 } }],
              [
                { type: 'Noted', data: { n: 2 } },
                { type: 'Noted', data: { n: 3 } },
              ],
            ],
          },
        ],
      });
      return [{ name: 'record-events', workflowId, path: 'three events appended to a new stream in two batches' }];
    },
  },
];

function readIndex(): FixtureEntry[] {
  if (!fs.existsSync(INDEX)) return [];
  return JSON.parse(fs.readFileSync(INDEX, 'utf8')) as FixtureEntry[];
}

async function main(): Promise<void> {
  const only = process.argv.slice(2).filter((a) => a !== '--');
  const known = SCENARIOS.flatMap((s) => s.names);
  const unknown = only.filter((n) => !known.includes(n));
  if (unknown.length > 0) throw new Error(`no scenario records ${unknown.join(', ')}; the names are: ${known.join(', ')}`);
  const previous = readIndex();
  const kept = previous.filter(isKept);
  const keptFiles = new Set(kept.map((e) => e.file));
  const clash = known.find((n) => keptFiles.has(`${n}.json`));
  if (clash) throw new Error(`${clash}.json is a history recorded before a patch or change; a scenario must not overwrite it`);
  // The scenarios a wanted one builds on run too (they are cheap), but only the wanted histories are written.
  const wanted = new Set(only.length > 0 ? only : known);
  const lastNeeded = Math.max(...SCENARIOS.map((s, i) => (s.names.some((n) => wanted.has(n)) ? i : -1)));
  const scenarios = SCENARIOS.filter((s, i) => i <= lastNeeded && (s.names.some((n) => wanted.has(n)) || i === 0));

  const config = loadConfig();
  const logger = createLogger({ level: 'warn', name: 'fixtures-record' });
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
  const cleanup = new Cleanup();
  cleanup.stopOnCrash();
  const onSignal = () => void cleanup.run().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = Date.now();
  try {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-fixtures-'));
    // As root the embedded server runs as the postgres user, who must be able to enter this folder.
    fs.chmodSync(tmp, 0o755);
    cleanup.push('remove temp folder', async () => fs.rmSync(tmp, { recursive: true, force: true }));
    // The cameo recording is written under this run's temporary folder.
    useClipFolder(() => tmp);
    log('starting a Temporal dev server and embedded PostgreSQL, bundling the workflows');
    const [temporal, postgres, bundle, engine] = await Promise.all([
      startTemporalDevServer({ cli: readTools().temporalCli, dataDir: tmp, port: 0, uiPort: 0, namespace: 'default', logger }).then(
        (s) => (cleanup.push('stop Temporal dev server', () => s.stop()), s),
      ),
      startEmbeddedPostgres({ dataDir: path.join(tmp, 'data'), port: 0, logger }).then((s) => (cleanup.push('stop embedded PostgreSQL', () => s.stop()), s)),
      bundleWorkflowCode({
        workflowsPath: require.resolve('../workflows'),
        logger: {
          log: () => undefined,
          trace: () => undefined,
          debug: () => undefined,
          info: () => undefined,
          warn: () => undefined,
          error: (m: string) => log(m),
        },
      }),
      createEngine({ config: { inferenceEp: 'cpu', inferenceThreads: 1, modelPack: config.modelPack }, logger }).then(
        (e) => (cleanup.push('close engine', () => e.close()), e),
      ),
    ]);
    const connection = await connectTemporalWorker({ ...config, temporalAddress: temporal.address, temporalNamespace: 'default' }, logger);
    cleanup.push('close Temporal worker connection', () => connection.close());
    const dataDir = fs.mkdtempSync(path.join(tmp, 'stack-'));
    const stack = await startPlatformStack({
      temporalAddress: temporal.address,
      connection,
      databaseUrl: postgres.connectionString,
      workflowBundle: { code: bundle.code },
      engine,
      dataDir,
      name: 'fixtures',
      logger,
    });
    cleanup.push('stop stack', () => stack.stop());
    const clientConnection = await Connection.connect({ address: temporal.address });
    cleanup.push('close Temporal client', () => clientConnection.close());
    const ctx: Ctx = { stack, client: new Client({ connection: clientConnection, namespace: 'default' }), temporalAddress: temporal.address, shared: {} };

    const recorded: FixtureEntry[] = [];
    fs.mkdirSync(HISTORIES_DIR, { recursive: true });
    for (const scenario of scenarios) {
      const t0 = Date.now();
      log(`${scenario.names.join(', ')}: running`);
      for (const r of await scenario.run(ctx)) {
        if (!wanted.has(r.name)) continue;
        const history = (await fetchHistoryJson(ctx.client, r.workflowId)) as {
          events: { workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }[];
        };
        const file = `${r.name}.json`;
        fs.writeFileSync(path.join(HISTORIES_DIR, file), `${JSON.stringify(history, null, 2)}\n`);
        const workflowType = history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown';
        recorded.push({ file, workflow_type: workflowType, workflow_id: r.workflowId, path: r.path, recorded_at: new Date().toISOString(), commit });
        log(`  ${file}: ${workflowType}, ${history.events.length} events, ${(fs.statSync(path.join(HISTORIES_DIR, file)).size / 1024).toFixed(1)} KiB`);
      }
      log(`${scenario.names.join(', ')}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }

    // Re-recorded entries replace theirs; a full run drops the files of scenarios that no longer exist.
    const recordedFiles = new Set(recorded.map((e) => e.file));
    const others = previous.filter((e) => !isKept(e) && !recordedFiles.has(e.file));
    if (only.length === 0) for (const stale of others) fs.rmSync(path.join(HISTORIES_DIR, stale.file), { force: true });
    const index = [...kept, ...(only.length === 0 ? [] : others), ...recorded].sort((a, b) => a.file.localeCompare(b.file));
    fs.writeFileSync(INDEX, `${JSON.stringify(index, null, 2)}\n`);
    const total = index.reduce((sum, e) => sum + fs.statSync(path.join(HISTORIES_DIR, e.file)).size, 0);
    log(
      `wrote ${recorded.length} ${recorded.length === 1 ? 'history' : 'histories'} in ${((Date.now() - started) / 1000).toFixed(0)} s; ${index.length} in the index, ${(total / 1024).toFixed(0)} KiB in all`,
    );
  } finally {
    await cleanup.run();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[fixtures] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
