// moderationWorkflow on the dev server with the real classifiers (the prompt policy, the flash analysis, the safety
// classifier's scores against the policy's threshold): each case is recorded on its own stream.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ScoredFrame } from '../../domain/moderation/outputSafety';
import { createGpuActivities, type SegmentSafetyResult } from '../../gpu-workers/activities';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { createLogger } from '../../infra/logger';
import { DEFAULT_WATERMARK } from '../../infra/config';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { moderationWorkflow } from '../../workflows';
import { realActivities } from '../support/activities';
import { testEnv } from '../support/env';
import { testEngine, testSafetyClassifier } from '../support/pipeline';
import { safetyProbeFrame } from '../support/safetyProbe';
import { freshEventStore } from '../support/schemas';
import { sharedDevServer } from '../support/temporal';

describe('moderationWorkflow', () => {
  let dropStore: () => Promise<void>;
  let env: TestWorkflowEnvironment;
  let store: PgEventStore;

  beforeAll(async () => {
    env = await sharedDevServer();
    ({ store, drop: dropStore } = await freshEventStore('wf'));
  });
  afterAll(async () => {
    await env?.teardown();
    await dropStore?.();
  });

  async function run(subject: Parameters<typeof moderationWorkflow>[0]['subject'], activities = realActivities(store)) {
    const taskQueue = `moderation-${randomUUID()}`;
    const caseId = `case_${randomUUID().replace(/-/g, '')}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: testEnv.workflowBundlePath },
      activities: activities.activities,
    });
    const result = await worker.runUntil(
      env.client.workflow.execute(moderationWorkflow, {
        taskQueue,
        workflowId: `moderation-${caseId}`,
        args: [{ caseId, subjectId: 'video_test', subject, actor: 'user_test', correlationId: 'video_test' }],
      }),
    );
    return { result, events: await store.readStream(`moderation-${caseId}`) };
  }

  it('blocks a prompt the policy names, recording the case, the verdict and its reasons', async () => {
    const { result, events } = await run({ stage: 'prompt', prompt: 'a g0ry bloodbath' });
    expect(result).toMatchObject({ verdict: 'block', categories: ['graphic_violence'], reasons: ['graphic violence or gore'] });
    expect(events.map((e) => e.type)).toEqual(['CaseOpened', 'AutomatedVerdict', 'CaseClosed']);
    expect(events[0]!.data).toMatchObject({ subject_id: 'video_test', stage: 'prompt' });
  });

  it('lets an ordinary prompt through', async () => {
    const { result } = await run({ stage: 'prompt', prompt: 'three red balls bouncing at sunset' });
    expect(result).toMatchObject({ verdict: 'allow', categories: [] });
  });

  it.each([
    [5, 'block'],
    [1, 'allow'],
  ])('judges an encoded output strobing at %d Hz on its decoded frames: %s', async (hz, verdict) => {
    const activities = realActivities(store);
    const width = 64;
    const height = 48;
    const fps = 24;
    // Two 1 s segments, as two chunks of a video are, with the strobe running across the seam.
    const frameBytes = width * height * 3;
    const measurementKeys: string[] = [];
    for (const second of [0, 1]) {
      const frames = new Uint8Array(fps * frameBytes);
      for (let f = 0; f < fps; f++) frames.fill(Math.floor((2 * hz * (second * fps + f)) / fps) % 2 === 0 ? 235 : 16, f * frameBytes, (f + 1) * frameBytes);
      const file = path.join(testEnv.tmpDir, `strobe-${randomUUID()}.ts`);
      await createFfmpeg({ ffmpegPath: testEnv.ffmpegPath }).encodeRgbSegment({ frames, width, height, fps, outFile: file });
      const segmentKey = `videos/video_test/strobe-${hz}-${second}.ts`;
      await activities.blobs.put(segmentKey, fs.readFileSync(file));
      const measured = await activities.activities.measureSegmentFlashes({ segmentKey, width, height });
      expect(measured.frames).toBe(fps);
      measurementKeys.push(measured.measurementKey);
    }

    const { result, events } = await run({ stage: 'output', contentKey: 'videos/video_test/content.mp4', measurementKeys, fps }, activities);
    expect(result.verdict).toBe(verdict);
    const details = events.find((e) => e.type === 'AutomatedVerdict')!.data as { details: { generalFlashesPerSecond: number } };
    expect(details.details.generalFlashesPerSecond).toBe(hz);
  });

  it('blocks an output whose sampled frames the safety classifier scores over the shipped threshold, recording frames and scores', async () => {
    const activities = realActivities(store);
    const side = 256;
    const fps = 24;
    // A picture open_nsfw takes for nudity (test/support/safetyProbe.ts), steady for one chunk: no flashes.
    const still = safetyProbeFrame(side);
    const frames = new Uint8Array(fps * still.length);
    for (let f = 0; f < fps; f++) frames.set(still, f * still.length);
    const file = path.join(testEnv.tmpDir, `probe-${randomUUID()}.ts`);
    await createFfmpeg({ ffmpegPath: testEnv.ffmpegPath }).encodeRgbSegment({ frames, width: side, height: side, fps, outFile: file });
    const segmentKey = 'videos/video_test/chunks/000.ts';
    await activities.blobs.put(segmentKey, fs.readFileSync(file));
    const measured = await activities.activities.measureSegmentFlashes({ segmentKey, width: side, height: side });
    // Scored as the GPU worker scores it, by its activity with the real model.
    const gpu = createGpuActivities({
      engine: await testEngine(),
      safety: await testSafetyClassifier(),
      blobs: activities.blobs,
      ffmpeg: createFfmpeg({ ffmpegPath: testEnv.ffmpegPath }),
      logger: createLogger({ level: 'silent', name: 'test-gpu' }),
      watermark: DEFAULT_WATERMARK,
    });
    const scored = (await new MockActivityEnvironment().run(gpu.scoreSegmentSafety, { segmentKey, numFrames: fps })) as SegmentSafetyResult;

    const { result, events } = await run(
      { stage: 'output', contentKey: 'videos/video_test/content.mp4', measurementKeys: [measured.measurementKey], fps, safety: scored.frames },
      activities,
    );
    expect(result).toMatchObject({ verdict: 'block', categories: ['sexual'] });
    expect(result.reasons).toEqual([expect.stringMatching(/^sexual or nude content in the rendered frames: 3 of 3 sampled frames scored 0\.8 or more/)]);
    const verdict = events.find((e) => e.type === 'AutomatedVerdict')!.data as {
      details: { generalFlashesPerSecond: number; safety: { frames: ScoredFrame[]; over_threshold: string[]; threshold: number } };
    };
    expect(verdict.details.generalFlashesPerSecond).toBe(0);
    expect(verdict.details.safety.threshold).toBe(0.8);
    expect(verdict.details.safety.frames).toEqual(scored.frames);
    expect(verdict.details.safety.over_threshold).toEqual(scored.frames.map((f) => f.blob_key));
  });
});
