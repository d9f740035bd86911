// A pytest file run under the bootstrap's Python venv against an API: the base URL and a key in its environment,
// nothing written into the checkout (no .pyc, no .pytest_cache). Resolves with pytest's output; rejects with pytest's
// own report when it did not pass.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT, readTools } from '../../infra/tools';

export async function runPytest(file: string, api: { baseUrl: string; apiKey: string }): Promise<string> {
  const python = readTools().python?.path;
  if (!python) throw new Error('no Python venv in .tools/tools.json: run `node scripts/bootstrap.js --test` (npm test runs it first)');
  const env = { ...process.env, REELFORGE_BASE_URL: api.baseUrl, REELFORGE_API_KEY: api.apiKey, PYTHONDONTWRITEBYTECODE: '1' };
  const args = ['-m', 'pytest', path.join(PROJECT_ROOT, file), '-q', '-p', 'no:cacheprovider', '-W', 'ignore::DeprecationWarning', '--color=no'];
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(python, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, output: out }));
  });
  if (code !== 0) throw new Error(`pytest exited with ${code}:\n${output}`);
  return output;
}
