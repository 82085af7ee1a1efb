// Mutation testing of credflow's trust guards that only real servers exercise: the boundary
// checks inside the rotation steps, the strategies' password changes and the engines' binding
// checks. Each covering test starts real database servers, so a run takes tens of minutes. See
// docs/mutation-testing.md.
//
// Line ranges name whole functions or guard statements; when one moves, move its range with it.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'jest',
  jest: { configFile: 'test/mutation/jest.integration.config.js', enableFindRelatedTests: false },
  coverageAnalysis: 'perTest',
  // Module-level mutants would rerun every integration test each; the module-level guard data
  // (system accounts, databases) is mutated by the unit configuration.
  ignoreStatic: true,
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: [
    // load: the binding and the boundary on AWSCURRENT
    'src/rotation/steps.ts:60-61',
    // pendingOf: the boundary on AWSPENDING
    'src/rotation/steps.ts:87-87',
    // checkMaster: the master is another user, on the user's endpoint and engine family
    'src/rotation/steps.ts:123-137',
    // setSecret: AWSPENDING on AWSCURRENT's engine, host, port and database
    'src/rotation/steps.ts:210-210',
    // testSecret: the boundary on the version it logs in with
    'src/rotation/steps.ts:293-293',
    // finishSecret: the boundary on the version it promotes, on AWSCURRENT's target
    'src/rotation/steps.ts:326-338',
    // single-user's setPassword: the fallback to AWSPREVIOUS
    'src/rotation/strategies/single-user.ts:18-34',
    // the binding checks the master makes in the session that changes a user: assertBound, boundRole
    'src/engines/postgres/engine.ts:464-475',
    'src/engines/mysql/engine.ts:461-469',
  ],
  concurrency: 1,
  timeoutMS: 120_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/integration.html' },
  jsonReporter: { fileName: 'reports/mutation/integration.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  // Reruns only the mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: 'reports/mutation/integration-incremental.json',
};
