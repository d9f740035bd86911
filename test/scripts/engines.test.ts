// package.json's `engines` tells the truth: every installed package supports every Node.js line it names, so
// `npm ci` prints no EBADENGINE warning on any of them (a dependency bump that drops a supported line fails here).
import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { PROJECT_ROOT } from '../../infra/tools';

interface LockPackage {
  version?: string;
  engines?: { node?: string } | string[];
}

const manifest = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };
const engines = manifest.engines.node;

/** The oldest release of each line `engines` admits ("^20.19.0 || ^22.12.0 || >=24.0.0" → 20.19.0, 22.12.0, 24.0.0). */
const oldestOfEachLine = engines.split('||').map((part) => semver.minVersion(part)!.version);

function unsupported(nodeVersion: string): string[] {
  return Object.entries(lock.packages)
    .filter(([where]) => where !== '')
    .flatMap(([where, pkg]) => {
      const range = pkg.engines && !Array.isArray(pkg.engines) ? pkg.engines.node : undefined;
      return range && !semver.satisfies(nodeVersion, range) ? [`${where}@${pkg.version} wants node ${range}`] : [];
    });
}

describe('engines', () => {
  it('admits the Node.js running the tests and the LTS lines 20, 22 and 24, and no end-of-life odd line', () => {
    expect(semver.satisfies(process.version, engines)).toBe(true);
    for (const v of ['20.20.2', '22.22.0', '24.22.3']) expect({ v, ok: semver.satisfies(v, engines) }).toEqual({ v, ok: true });
    for (const v of ['18.20.8', '21.7.3', '23.11.1']) expect({ v, ok: semver.satisfies(v, engines) }).toEqual({ v, ok: false });
  });

  it.each([...oldestOfEachLine, process.version])('every installed package supports Node %s', (nodeVersion) => {
    expect(unsupported(nodeVersion)).toEqual([]);
  });

  it('the lock file records the same engines as package.json', () => {
    expect((lock.packages[''] as LockPackage).engines).toEqual({ node: engines });
  });
});
