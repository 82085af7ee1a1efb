// Mutation testing of credflow's trust guards that need no server: the privilege boundary, the
// version and label checks, the strategy registry and the engines' name,
// password, account and database checks. See docs/mutation-testing.md.
//
// Line ranges name whole functions; when a function moves, move its range with it.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'jest',
  jest: { configFile: 'test/mutation/jest.unit.config.js', enableFindRelatedTests: false },
  coverageAnalysis: 'perTest',
  // A module-level mutant (an entry of SYSTEM_ACCOUNT_NAMES, SYSTEM_DATABASES, PRIVILEGES) reruns
  // every test, several seconds each on a loaded machine: run them with --ignoreStatic false.
  ignoreStatic: true,
  // No TypeScript checker here: type-checking each mutant costs more than running these tests.
  mutate: [
    'src/rotation/boundary.ts',
    'src/rotation/strategies/index.ts',
    // checkToken
    'src/rotation/versions.ts:56-77',
    // cloneOf, ownedUsers, pendingUsername of each strategy
    'src/rotation/strategies/alternating-users.ts:9-23',
    'src/rotation/strategies/single-user.ts:13-17',
    'src/rotation/strategies/admin-single-user.ts:10-15',
    // names, passwords, system accounts and databases, connection limits, privileges:
    // hasControlCharacter, checkNameCommon, checkPassword, isSystemAccount,
    // assertNotSystemAccount, checkApplicationDatabase, notBoundError, checkConnectionLimit,
    // checkPrivileges
    'src/engines/common.ts:96-252',
    // validateClone, validateManaged
    'src/engines/base.ts:173-191',
    // validateUsername, validateDatabase
    'src/engines/postgres/engine.ts:97-120',
    'src/engines/mysql/engine.ts:109-131',
    // the binding comment: bindingComment, bindingOf
    'src/engines/postgres/catalog.ts:44-50',
  ],
  concurrency: 2,
  timeoutMS: 30_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/unit.html' },
  jsonReporter: { fileName: 'reports/mutation/unit.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  // Reruns only the mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: 'reports/mutation/unit-incremental.json',
};
