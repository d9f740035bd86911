// The harness's time-skipping environment: a workflow that waits 30 days completes in seconds, with real activities.
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import pg from 'pg';
import { PgEventStore } from '../../infra/eventstore/postgres';
import { reminderWorkflow } from '../fixtures/workflows/timers';
import { realActivities } from '../support/activities';
import { testEnv } from '../support/env';
import { timeSkippingServer } from '../support/temporal';

describe('time-skipping test environment', () => {
  const schema = `ts_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let env: TestWorkflowEnvironment;
  let store: PgEventStore;

  beforeAll(async () => {
    [env, store] = await Promise.all([
      timeSkippingServer(),
      PgEventStore.open({ connectionString: testEnv.embeddedPgUrl, schema, maxEventBytes: 1024 * 1024 }),
    ]);
  });
  afterAll(async () => {
    await store?.close();
    await env?.teardown();
    const client = new pg.Client({ connectionString: testEnv.embeddedPgUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
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
    const revision = await worker.runUntil(env.client.workflow.execute(reminderWorkflow, { taskQueue: 'timers', workflowId: stream, args: [{ stream, days: 30 }] }));
    expect(revision).toBe('0');
    // The server's clock moved past the 30 days the workflow waited; the test did not.
    expect((await env.currentTimeMs()) - serverStart).toBeGreaterThanOrEqual(30 * 24 * 3600 * 1000);
    const events = await store.readStream(stream);
    expect(events.map((e) => e.type)).toEqual(['Reminded']);
  });
});
