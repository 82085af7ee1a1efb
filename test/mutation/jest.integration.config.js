/**
 * Jest as Stryker runs it for the guards only a real database and Secrets Manager can exercise
 * (stryker.integration.config.mjs): the rotation steps against the local cloud and real
 * PostgreSQL and MariaDB servers, the engines' binding checks, and the red-team workflows.
 */
const base = require('../../jest.config.js');

// Functions run on the test's own thread: Stryker sees which tests reach which mutant (per-test
// coverage) and activates a mutant only where its tests run. On their own threads the handlers
// would report no coverage and ignore the active mutant.
process.env.CREDFLOW_HANDLERS = 'inline';

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  rootDir: '../..',
  testMatch: [
    '<rootDir>/test/integration/rotation.test.ts',
    '<rootDir>/test/integration/rotation.guards.test.ts',
    '<rootDir>/test/integration/engines.boundary.test.ts',
    '<rootDir>/test/fault/redteam.test.ts',
  ],
};
