// Starts what the whole jest run shares: one Temporal dev server (TestWorkflowEnvironment.createLocal with the
// provisioned CLI), an embedded PostgreSQL per jest worker in a temporary folder (test/support/workerPostgres.ts),
// and the workflow bundle, built once.
// Test files find them through the REELFORGE_TEST_* environment variables set here.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { DEV_SERVER_DYNAMIC_CONFIG, dynamicConfigArgs } from '../infra/temporal/devServer';
import { describeFailure, readTools } from '../infra/tools';
import { startWorkerPostgres } from './support/workerPostgres';

export default async function globalSetup(globalConfig: { maxWorkers: number }): Promise<void> {
  const started = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-test-'));
  // The embedded PostgreSQL runs as the postgres user when we are root; it must be able to enter this folder.
  fs.chmodSync(tmp, 0o755);
  const tools = readTools();
  const cli = tools.temporalCli;

  const [pgs, env, bundle] = await Promise.all([
    startWorkerPostgres(tmp, globalConfig.maxWorkers),
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: cli.path ? { type: 'existing-path', path: cli.path } : { type: 'cached-download' },
        ui: false,
        log: { format: 'pretty', level: 'error' },
        // Lets tests reach the continue-as-new path of long-lived workflows without thousands of events.
        extraArgs: dynamicConfigArgs([...DEV_SERVER_DYNAMIC_CONFIG, 'limit.historyCount.suggestContinueAsNew=200']),
      },
    }).catch((err: unknown) => {
      throw new Error(describeFailure(cli, 'a Temporal dev server', err));
    }),
    bundleWorkflowCode({ workflowsPath: require.resolve('../workflows/index'), logger: quietLogger }),
  ]);
  const bundlePath = path.join(tmp, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);

  process.env.REELFORGE_TEST_TMP = tmp;
  process.env.REELFORGE_TEST_TEMPORAL_ADDRESS = env.address;
  process.env.REELFORGE_TEST_WORKFLOW_BUNDLE = bundlePath;
  (globalThis as Record<string, unknown>).__reelforge = { pgs, env, tmp };
  process.stderr.write(`\n[test setup] Temporal ${env.address}, embedded PostgreSQL :${pgs.map((pg) => pg.port).join(', :')}, bundle ready in ${Date.now() - started} ms\n`);
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => process.stderr.write(`[bundle] ${message}\n`),
  error: (message: string) => process.stderr.write(`[bundle] ${message}\n`),
};
