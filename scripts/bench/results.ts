// Where benchmarks keep their JSON: bench-results/<name>-<start time>.json, git-ignored.
import fs from 'node:fs';
import path from 'node:path';

export function writeResults(name: string, startedAt: Date, results: unknown): string {
  const dir = path.resolve(__dirname, '..', '..', 'bench-results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return path.relative(process.cwd(), file);
}
