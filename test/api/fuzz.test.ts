// The OpenAPI document tells the truth: schemathesis (the pinned 4.x of .tools/tools.json) fuzzes every non-debug
// operation of /openapi.json over real HTTP with a real key, runs all its checks (no 5xx, every status and body as
// documented, schema-valid data accepted and invalid data refused, 405 with Allow for an undeclared method) and
// must find nothing. The stack has no GPU worker, so nothing renders; a video would then stay queued and its
// progress stream never end, so the test cancels each video a moment after it is made (its stream then ends with
// `done`), and stopping the stack terminates every workflow it started.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readTools } from '../../infra/tools';
import { Client, Connection } from '@temporalio/client';
import { startApiStack } from '../support/apiStack';
import { testEnv } from '../support/env';

/** Examples per operation and phase: the run. */
const MAX_EXAMPLES = 25;

interface Run {
  code: number | null;
  output: string;
}

function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', PYTHONUNBUFFERED: '1' } });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const output = Buffer.concat(chunks).toString('utf8');
      resolve({ code, output: signal ? `${output}\n(killed by ${signal} after ${timeoutMs} ms)` : output });
    });
  });
}

/** Cancels the stack's running generations every `everyMs` until stopped: what a user watching a stuck video does. */
function cancelGenerations(client: Client, taskQueue: string, everyMs: number): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      for await (const execution of client.workflow.list({
        query: `TaskQueue = "${taskQueue}" AND WorkflowType = "generationWorkflow" AND ExecutionStatus = "Running"`,
      })) {
        await client.workflow
          .getHandle(execution.workflowId)
          .cancel()
          .catch(() => undefined);
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

describe('the OpenAPI document under a fuzzer', () => {
  let stack: Awaited<ReturnType<typeof startApiStack>>;
  let apiKey: string;
  let connection: Connection;
  let stopCancelling: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    stack = await startApiStack({ renders: false });
    ({ apiKey } = await stack.user('fuzzer'));
    connection = await Connection.connect({ address: testEnv.temporalAddress });
    stopCancelling = cancelGenerations(new Client({ connection }), stack.taskQueue, 300);
  });
  afterAll(async () => {
    await stopCancelling?.();
    await connection?.close();
    await stack?.stop();
  });

  it('schemathesis finds no server error, undocumented status or schema mismatch on any non-debug operation', async () => {
    const python = readTools().python?.path;
    if (!python) throw new Error('.tools/tools.json names no Python: run `node scripts/bootstrap.js --test` (npm test does)');
    const reportDir = fs.mkdtempSync(path.join(stack.dataDir, 'schemathesis-'));
    const args = [
      '-m',
      'schemathesis.cli',
      '--config-file',
      path.join(__dirname, 'schemathesis.toml'),
      'run',
      `${stack.url}/openapi.json`,
      '--checks',
      'all',
      '--max-examples',
      String(MAX_EXAMPLES),
      // The same cases every run, so a failure here reproduces with the command it prints.
      '--generation-deterministic',
      // The schema-driven phases; the stateful one (chains of calls through inferred links) doubles the run's time.
      '--phases',
      'examples,coverage,fuzzing',
      '--exclude-path-regex',
      '^/v1/debug/',
      '--header',
      `Authorization: Bearer ${apiKey}`,
      // One worker: Python 3.11's ast module is not thread-safe, and hypothesis parses sources to describe filters
      // ("AST constructor recursion depth mismatch" when two workers do it at once).
      '--workers',
      '1',
      '--request-timeout',
      '20',
      '--no-color',
      '--report',
      'junit',
      '--report-dir',
      reportDir,
    ];
    // In the report folder: schemathesis keeps its crash cache (.schemathesis/) in its working directory.
    const result = await run(python, args, reportDir, 150_000);
    // schemathesis' own report (each failure with a curl line to reproduce it) is the message.
    if (result.code !== 0) throw new Error(`schemathesis exited with ${result.code}:\n${result.output}`);
    // It ran every non-debug operation of the document, and every case it made passed.
    const doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(doc.paths)
      .filter(([p]) => !p.startsWith('/v1/debug/'))
      .flatMap(([, item]) => Object.keys(item).filter((m) => ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'].includes(m)));
    expect(result.output).toMatch(new RegExp(`Tested: ${operations.length}\\b`));
    const [, generated, passed] = /(\d+) generated, (\d+) passed/.exec(result.output) ?? [];
    expect(Number(generated)).toBeGreaterThan(500);
    expect(passed).toBe(generated);
  }, 200_000);
});
