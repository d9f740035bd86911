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

/** Longest first (serial seconds on the 2-core machine, full run of 2026-12-06). */
const LONGEST = [
  'test/scripts/cluster.test.ts', // 163 s: three hosts, two 20 s heartbeat timeouts and a 10 s S3 outage, by design
  'test/workflows/faults.test.ts', // 97 s: a 20 s heartbeat timeout and a 30 s activity timeout, by design
  'test/api/videosCompleted.test.ts', // 80 s
  'test/workflows/cameo.test.ts', // 80 s
  'test/activities/cameoVerification.test.ts', // 70 s
  'test/api/fuzz.test.ts', // 65 s: schemathesis over every route
  'test/api/videosPriority.test.ts', // 57 s
  'test/api/openai.test.ts', // 49 s
  'test/api/cameos.test.ts', // 44 s
  'test/api/openaiPython.test.ts', // 36 s: the Python SDK's pytest run
  'test/projections/rebuild.test.ts', // 35 s
  'test/scripts/start.test.ts', // 29 s
  'test/api/preview.test.ts', // 29 s
  'test/workflows/cameoProperty.test.ts', // 27 s
  'test/workflows/remix.test.ts', // 27 s
  'test/scripts/startRoles.test.ts', // 26 s: two supervisors, one video
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
