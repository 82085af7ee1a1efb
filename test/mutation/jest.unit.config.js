/**
 * Jest as Stryker runs it for the pure guards (stryker.unit.config.mjs): the unit tests of the
 * rotation core and the engines' input checks. No server starts, so each mutant takes well under
 * a second.
 */
const base = require('../../jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  rootDir: '../..',
  roots: ['<rootDir>/test/unit/src'],
  testMatch: [
    '<rootDir>/test/unit/src/rotation/**/*.test.ts',
    '<rootDir>/test/unit/src/engines/**/*.test.ts',
  ],
};
