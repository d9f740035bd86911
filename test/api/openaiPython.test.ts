// The official openai Python SDK (openai-python, pinned in scripts/python-requirements.txt) against the real stack:
// test/python/test_openai_sdk.py runs under pytest in the bootstrap's venv with the base URL and a key in its
// environment; this test fails with pytest's own report when any of it fails.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT, readTools } from '../../infra/tools';
import { startApiStack } from '../support/apiStack';

const PYTEST_FILE = path.join(PROJECT_ROOT, 'test', 'python', 'test_openai_sdk.py');

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('the official openai Python SDK', () => {
  let stack: Awaited<ReturnType<typeof startApiStack>>;

  beforeAll(async () => {
    stack = await startApiStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('creates and polls, downloads every variant, remixes, extends and edits with a downloaded file, lists, deletes, and raises its own exception classes (pytest)', async () => {
    const python = readTools().python?.path;
    if (!python) throw new Error('no Python venv in .tools/tools.json: run `node scripts/bootstrap.js --test` (npm test runs it first)');
    const { apiKey } = await stack.user('python-sdk-user');
    const env = {
      ...process.env,
      REELFORGE_BASE_URL: `${stack.url}/v1`,
      REELFORGE_API_KEY: apiKey,
      // Nothing written into the checkout: no .pyc files, no .pytest_cache.
      PYTHONDONTWRITEBYTECODE: '1',
    };
    const result = await run(python, ['-m', 'pytest', PYTEST_FILE, '-q', '-p', 'no:cacheprovider', '-W', 'ignore::DeprecationWarning', '--color=no'], env);
    if (result.code !== 0) throw new Error(`pytest exited with ${result.code}:\n${result.output}`);
    expect(result.output).toMatch(/\b8 passed\b/);
  }, 300_000);
});
