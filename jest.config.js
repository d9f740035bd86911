// Jest runs TypeScript through SWC; one Temporal dev server and one embedded PostgreSQL per worker are
// started for the whole run by test/globalSetup.ts and shared through environment variables.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  globalSetup: '<rootDir>/test/globalSetup.ts',
  globalTeardown: '<rootDir>/test/globalTeardown.ts',
  setupFiles: ['<rootDir>/test/setupRealm.ts', '<rootDir>/test/setupTemporalLogging.ts'],
  // Test files run two at a time, each in its own worker process; every file works in task queues, schemas and blob
  // folders of its own on the shared servers. Two workers on two cores: much of a file's time is spent waiting
  // (heartbeat and activity timeouts, polls), which the other worker's file fills.
  maxWorkers: 2,
  testSequencer: '<rootDir>/test/sequencer.js',
  testTimeout: 120000,
  slowTestThreshold: 30,
};
