import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';

/** The package's version, from the package.json above this file (source or dist/). */
export function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'credflow' && pkg.version) return pkg.version;
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

/** One example per command, shown at the end of its --help (a test holds every command to it). */
export const EXAMPLES: Record<string, string[]> = {
  credflow: [
    'credflow --local rotate-now credflow/shop-db/app',
    'credflow --region eu-west-1 secrets --json',
  ],
  up: ['credflow up --detach --port 4566 --state-dir .credflow'],
  down: ['credflow down --state-dir .credflow'],
  status: ['credflow status --json', 'credflow --region eu-west-1 status --check-logins'],
  deploy: ['credflow deploy --local'],
  console: ['credflow --local console --open'],
  provision: ['credflow --local provision shop-db --engine postgres --deletion-protection'],
  'create-user': [
    'credflow --local create-user shop-db app --privileges SELECT,INSERT --strategy alternating-users',
  ],
  'rotate-now': [
    'credflow --local rotate-now credflow/shop-db/app --name nightly-2026-01-01-app-rotation-01',
  ],
  'rotate-master': ['credflow --local rotate-master shop-db'],
  verify: ['credflow --local verify credflow/shop-db/app'],
  preflight: ['credflow --stage prod --region eu-west-1 preflight shop-db'],
  adopt: [
    'credflow adopt --prefix apps/shop/ --dry-run',
    'credflow adopt apps/shop/orders',
    'credflow adopt --tag team=payments --strategy admin-single-user',
    'credflow adopt apps/shop/orders --undo',
  ],
  decommission: [
    'credflow --local decommission shop-db --dry-run',
    'credflow --local decommission shop-db --yes --final-snapshot shop-db-final',
  ],
  'rotate-fleet': [
    'credflow --local rotate-fleet --tag credflow:managed=true --write-budget 25 --max-concurrency 10 --force',
  ],
  executions: [
    'credflow --local executions --workflow rotate-secret --limit 5',
    'credflow --local executions --secret credflow/shop-db/app',
  ],
  history: ['credflow --local history "$(credflow --local rotate-now credflow/shop-db/app --no-wait)"'],
  watch: ['credflow --local watch my-rotation-1'],
  secrets: ['credflow --local secrets --json | jq -r \'.[] | select(.status != "ok") | .name\''],
  alerts: ['credflow --local alerts'],
  reconcile: ['credflow --local reconcile --older-than-minutes 0'],
  demo: ['credflow demo --keep'],
  iam: ['credflow iam create-principal app-reader --policy reader-policy.json'],
  'create-principal': [
    'credflow iam create-principal secrets-admin --policy admin.json --managed ProtectCredflowBindingTagsPolicy',
  ],
};

/** Appends each command's example to its --help (test/unit/cli.test.ts finds any without one). */
export function addExamples(program: Command): void {
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) {
    const lines = EXAMPLES[c.name()];
    if (!lines) continue;
    c.addHelpText(
      'after',
      `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}`,
    );
  }
}
