import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadCatalog } from '../../local/catalog';

// The README and docs/ are read by users of credflow: they must be short where promised, every
// link must lead somewhere, nothing may speak of how the project was made, and every count they
// state about the stack must be the stack's.
const root = path.join(__dirname, '..', '..');
const docsDir = path.join(root, 'docs');
const pages = [
  'README.md',
  ...readdirSync(docsDir)
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join('docs', f)),
];
const text = (page: string) => readFileSync(path.join(root, page), 'utf8');

describe('the README and docs/', () => {
  it('keep the README to what a newcomer reads in ten minutes (at most 250 lines)', () => {
    expect(text('README.md').split('\n').length).toBeLessThanOrEqual(250);
  });

  it('link only to files that exist', () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const [, target] of text(page).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (!target || /^[a-z]+:/i.test(target)) continue;
        if (!existsSync(path.join(root, path.dirname(page), target))) broken.push(`${page} -> ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('lead from the README to every page of docs/', () => {
    const reached = new Set<string>();
    const queue = ['README.md'];
    while (queue.length > 0) {
      const page = queue.shift() as string;
      if (reached.has(page) || !existsSync(path.join(root, page))) continue;
      reached.add(page);
      for (const [, target] of text(page).matchAll(/\]\(([^)#\s]+\.md)(?:#[^)]*)?\)/g)) {
        if (target && !/^[a-z]+:/i.test(target))
          queue.push(path.normalize(path.join(path.dirname(page), target)));
      }
    }
    expect(pages.filter((p) => !reached.has(p))).toEqual([]);
  });

  it('speak to users: no issue numbers, rounds or source documents', () => {
    const words =
      /\bissues? #?\d+|\b(this|last|next|previous|earlier) round\b|\bseed 00\d\b|source documents?\b/i;
    const found = pages.flatMap((page) =>
      text(page)
        .split('\n')
        .map((line, i) => ({ line, at: `${page}:${i + 1}` }))
        .filter(({ line }) => words.test(line))
        .map(({ at, line }) => `${at}: ${line.trim()}`),
    );
    expect(found).toEqual([]);
  });

  it('state the stack counts serverless.yml declares', () => {
    const catalog = loadCatalog(root);
    const actual: Record<string, number> = {
      functions: catalog.functions.length,
      'state machines': catalog.stateMachines.length,
      // Event patterns and schedules are both EventBridge rules once deployed.
      rules: catalog.stateMachines.reduce((n, sm) => n + sm.rules.length, 0),
    };
    const claims = pages.flatMap((page) =>
      [...text(page).matchAll(/\b(\d+) (functions|state machines|(?:EventBridge )?rules)\b/g)].map((m) => ({
        page,
        noun: (m[2] ?? '').replace('EventBridge ', ''),
        count: Number(m[1]),
      })),
    );
    for (const claim of claims) expect({ ...claim, count: actual[claim.noun] }).toEqual(claim);
  });
});
