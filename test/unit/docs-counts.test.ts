import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');

describe('counts stated in docs/', () => {
  it("iam-minimal.md's table has the rows and roles its sentence states", () => {
    const page = readFileSync(path.join(root, 'docs', 'iam-minimal.md'), 'utf8');
    const stated = /(\d+) rows over (\d+) roles/.exec(page);
    expect(stated).not.toBeNull();
    const rows = page.split('\n').filter((l) => /^\| [A-Z][A-Za-z]*Role \|/.test(l));
    const roles = new Set(rows.map((l) => l.split('|')[1]?.trim()));
    expect([rows.length, roles.size]).toEqual([Number(stated?.[1]), Number(stated?.[2])]);
  });
});
