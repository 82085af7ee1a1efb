import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cfnLintErrors } from '../../deploy/cfn-lint';

// Stand-ins for cfn-lint's possible behaviours: the helper must tell findings from a failure.
const dir = mkdtempSync(path.join(os.tmpdir(), 'credflow-cfnlint-'));
function fakeLint(name: string, script: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
  return file;
}
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the cfn-lint helper', () => {
  it('fails when cfn-lint crashes with no output', async () => {
    await expect(cfnLintErrors('t.json', fakeLint('crash', 'exit 1'))).rejects.toThrow(
      /did not lint t\.json \(exit 1\): no output/,
    );
  });

  it('fails when cfn-lint exits 0 but prints no JSON list', async () => {
    await expect(cfnLintErrors('t.json', fakeLint('silent', 'exit 0'))).rejects.toThrow(/did not lint/);
  });

  it('fails on a Python traceback even with an error-findings exit code', async () => {
    const lint = fakeLint('trace', 'echo "Traceback (most recent call last)" >&2; exit 2');
    await expect(cfnLintErrors('t.json', lint)).rejects.toThrow(/Traceback/);
  });

  it('reads error findings and ignores warnings', async () => {
    const out = JSON.stringify([
      { Level: 'Error', Rule: { Id: 'E3001' }, Message: 'bad' },
      { Level: 'Warning', Rule: { Id: 'W1001' }, Message: 'meh' },
    ]);
    const lint = fakeLint('findings', `echo '${out}'; exit 6`);
    await expect(cfnLintErrors('t.json', lint)).resolves.toEqual(['E3001: bad']);
  });

  it('reads a clean run as no errors', async () => {
    await expect(cfnLintErrors('t.json', fakeLint('clean', "echo '[]'"))).resolves.toEqual([]);
  });
});
