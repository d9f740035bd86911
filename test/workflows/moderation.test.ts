// moderationWorkflow on the dev server with the real classifiers: each case is recorded on its own stream.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { moderationWorkflow } from '../../workflows';
import { realActivities } from '../support/activities';
import { testEnv } from '../support/env';
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
});
