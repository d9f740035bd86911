// The harness's time-skipping environment: a workflow that waits 30 days completes in seconds, with real activities.
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { reminderWorkflow } from '../fixtures/workflows/timers';
import { realActivities } from '../support/activities';
import { freshEventStore } from '../support/schemas';
import { timeSkippingServer } from '../support/temporal';

describe('time-skipping test environment', () => {
  let dropStore: () => Promise<void>;
  let env: TestWorkflowEnvironment;
  let store: PgEventStore;

  beforeAll(async () => {
    [env, store] = await Promise.all([timeSkippingServer(), freshEventStore('wf').then((f) => ((dropStore = f.drop), f.store))]);
  });
  afterAll(async () => {
    await env?.teardown();
    await dropStore?.();
  });

  it('fires a 30-day timer without waiting 30 days', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'timers',
      workflowsPath: require.resolve('../fixtures/workflows/timers'),
      activities: realActivities(store).activities,
    });
    const stream = `moderation-case_${randomUUID().replace(/-/g, '')}`;
    const serverStart = await env.currentTimeMs();
    const revision = await worker.runUntil(
      env.client.workflow.execute(reminderWorkflow, { taskQueue: 'timers', workflowId: stream, args: [{ stream, days: 30 }] }),
    );
    expect(revision).toBe('0');
    // The server's clock moved past the 30 days the workflow waited; the test did not.
    expect((await env.currentTimeMs()) - serverStart).toBeGreaterThanOrEqual(30 * 24 * 3600 * 1000);
    const events = await store.readStream(stream);
    expect(events.map((e) => e.type)).toEqual(['Reminded']);
  });
});
