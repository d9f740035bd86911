// The order jest runs the test files in. With timings from an earlier run (jest's cache), jest's own order: files that
// failed last time first, then the longest. Without any (a fresh clone, CI), jest would order by file size, which
// puts the files that spend longest waiting last, and the run ends with one worker busy and the other idle; so then
// the files below, measured as the longest, go first, and the rest follow by size.
const path = require('node:path');

/** Jest's default sequencer, found as jest finds it (jest -> @jest/core -> jest-config), since it is not our dependency. */
function jestDefaultSequencer() {
  const dirOf = (pkg, from) => path.dirname(require.resolve(`${pkg}/package.json`, { paths: [from] }));
  const jestConfig = dirOf('jest-config', dirOf('@jest/core', dirOf('jest', __dirname)));
  return require(require.resolve('@jest/test-sequencer', { paths: [jestConfig] })).default;
}

const Sequencer = jestDefaultSequencer();

/** Longest first (serial seconds on the 2-core machine, December 2026). */
const LONGEST = [
  'test/scripts/cluster.test.ts', // ~110 s: three hosts, two 20 s heartbeat timeouts and a 10 s S3 outage, by design
  'test/workflows/faults.test.ts', // 84 s: a 20 s heartbeat timeout and a 30 s activity timeout, by design
  'test/api/openai.test.ts', // 40-67 s
  'test/api/openaiPython.test.ts', // 56 s: the Python SDK's pytest run
  'test/api/fuzz.test.ts', // schemathesis over every route
  'test/scripts/startRoles.test.ts', // 27 s: two supervisors, one video
  'test/projections/rebuild.test.ts', // 21 s
  'test/projections/feed.test.ts', // 21 s
  'test/scripts/start.test.ts', // 17 s
  'test/workflows/cameo.test.ts', // 16 s
  'test/workflows/remix.test.ts', // 15 s
];

class LongestFirst extends Sequencer {
  sort(tests) {
    const sorted = super.sort(tests);
    if (sorted.some((test) => test.duration != null)) return sorted;
    const rank = (test) => {
      const i = LONGEST.indexOf(path.relative(test.context.config.rootDir, test.path).split(path.sep).join('/'));
      return i < 0 ? LONGEST.length : i;
    };
    // Array.prototype.sort is stable: the rest keep jest's order by size.
    return [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = LongestFirst;
