// Jest runs TypeScript through SWC; one Temporal dev server and one embedded PostgreSQL are
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
  testTimeout: 120000,
  slowTestThreshold: 30,
};
