// The Temporal harness end to end: a workflow records events through a real activity against the real event store;
// the activity is made to fail after its append committed, Temporal retries it, and each event lands exactly once.
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { AppendEventsInput } from '../../activities/appendEvents';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { recordEventsWorkflow } from '../../workflows';
import { realActivities } from '../support/activities';
import { freshEventStore } from '../support/schemas';
import { testEnv } from '../support/env';

describe('recordEventsWorkflow on the Temporal dev server', () => {
  let dropStore: () => Promise<void>;
  let env: TestWorkflowEnvironment;
  let store: PgEventStore;

  beforeAll(async () => {
    env = await TestWorkflowEnvironment.createFromExistingServer({ address: testEnv.temporalAddress });
    ({ store, drop: dropStore } = await freshEventStore('wf'));
  });
  afterAll(async () => {
    await env?.teardown();
    await dropStore?.();
  });

  it('records each event exactly once when the append activity fails after committing and is retried', async () => {
    const real = realActivities(store).activities;
    const attempts: number[] = [];
    const taskQueue = `harness-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: testEnv.workflowBundlePath },
      activities: {
        ...real,
        // The real append runs and commits; then the attempt "crashes", twice per batch, as a worker dying between
        // the database commit and its reply to Temporal would.
        appendEvents: async (input: AppendEventsInput) => {
          const result = await real.appendEvents(input);
          attempts.push(input.firstSeq);
          if (attempts.filter((s) => s === input.firstSeq).length <= 2) throw new Error('worker lost after the append committed');
          return result;
        },
      },
    });
    const stream = `video-video_${randomUUID().replace(/-/g, '')}`;
    const batches = [
      [{ type: 'VideoRequested', data: { prompt: 'three red balls' } }],
      [
        { type: 'ChunksPlanned', data: { total: 2 } },
        { type: 'VideoChunkRendered', data: { chunk: 0 } },
      ],
      [{ type: 'VideoCompleted', data: {} }],
    ];
    const result = await worker.runUntil(
      env.client.workflow.execute(recordEventsWorkflow, { taskQueue, workflowId: stream, args: [{ stream, batches, actor: 'user_test' }] }),
    );

    expect(result).toEqual({ revision: '3', eventsRecorded: 4 });
    expect(attempts).toHaveLength(9);
    const events = await store.readStream(stream);
    expect(events.map((e) => e.type)).toEqual(['VideoRequested', 'ChunksPlanned', 'VideoChunkRendered', 'VideoCompleted']);
    expect(new Set(events.map((e) => e.id)).size).toBe(4);
    expect(events[0]!.metadata).toMatchObject({ workflowId: stream, actor: 'user_test', seq: 0 });
  });
});
