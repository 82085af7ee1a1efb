/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 120000,
  // Real servers take a moment; one worker keeps two small cores from thrashing.
  maxWorkers: 1,
  setupFiles: ['<rootDir>/test/support/jest-env.js'],
};
