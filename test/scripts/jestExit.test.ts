// A failing run is a failing run: jest, with this project's global set-up and teardown (servers, watchdog) and two
// workers, exits non-zero when a test fails. An await in the set-up or teardown that held no handle once let Node end
// jest's process with code 0 after it had printed the failures, which would have made a red suite look green to CI.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../infra/tools';

function runJest(dir: string): Promise<{ code: number | null; output: string }> {
  const jest = require.resolve('jest/bin/jest', { paths: [PROJECT_ROOT] });
  const child = spawn(process.execPath, [jest, '--rootDir', PROJECT_ROOT, '--roots', dir, '--maxWorkers', '2', '--ci', dir], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, JEST_WORKER_ID: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

describe('jest with the project set-up', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reelforge-jest-exit-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('exits non-zero when a test fails in one of two workers', async () => {
    // The passing file checks that its worker sees the Temporal server the set-up started; the other fails on purpose.
    fs.writeFileSync(
      path.join(dir, 'passes.test.ts'),
      "it('sees the set-up\\'s Temporal server', () => expect(process.env.REELFORGE_TEST_TEMPORAL_ADDRESS).toMatch(/^[\\w.]+:\\d+$/));\n",
    );
    fs.writeFileSync(path.join(dir, 'fails.test.ts'), "it('fails on purpose', () => expect(1).toBe(2));\n");
    const { code, output } = await runJest(dir);
    expect(output).toMatch(/Tests:\s+1 failed, 1 passed, 2 total/);
    expect(code).toBe(1);
  }, 120_000);
});
