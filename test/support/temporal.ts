// Temporal environments for tests: the shared dev server of the run, or a Java time-skipping test server for
// tests that wait on long timers (the bootstrapped temporal-test-server binary).
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { describeFailure, readTools } from '../../infra/tools';
import { testEnv } from './env';

export function sharedDevServer(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createFromExistingServer({ address: testEnv.temporalAddress });
}

export async function timeSkippingServer(): Promise<TestWorkflowEnvironment> {
  const tool = readTools().testServer;
  try {
    return await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: tool.path ? { type: 'existing-path', path: tool.path } : { type: 'cached-download' } },
    });
  } catch (err) {
    throw new Error(describeFailure(tool, 'the Temporal time-skipping test server', err));
  }
}
