import { readFileSync } from 'node:fs';
import path from 'node:path';

// Stryker's `mutate` names code by line range, which goes stale as soon as a line is added above
// it: the run then mutates something else and its score means nothing. Each range must lie within
// one function or method that the comment above the entry names.
const root = path.join(__dirname, '..', '..');

/** `[comment, file, first, last]` for each ranged entry of a Stryker configuration. */
function rangedEntries(config: string): [string, string, number, number][] {
  const lines = readFileSync(path.join(root, config), 'utf8').split('\n');
  const out: [string, string, number, number][] = [];
  let comment = '';
  let afterEntry = false;
  for (const line of lines) {
    const c = /^\s*\/\/ (.*)$/.exec(line);
    if (c) {
      // A comment after entries starts the next group's.
      comment = afterEntry ? (c[1] ?? '') : `${comment} ${c[1] ?? ''}`;
      afterEntry = false;
      continue;
    }
    const m = /^\s*'([^':]+):(\d+)-(\d+)',/.exec(line);
    afterEntry = /^\s*'/.test(line);
    if (m) out.push([comment.trim(), m[1] as string, Number(m[2]), Number(m[3])]);
    else if (!afterEntry && line.trim() !== '') comment = '';
  }
  return out;
}

/** A line that declares a function or method: its indentation and name. */
function declared(line: string): { indent: string; name: string } | undefined {
  const fn = /^(\s*)(?:export )?(?:async )?function\*? (\w+)/.exec(line);
  if (fn) return { indent: fn[1] as string, name: fn[2] as string };
  const arrow = /^(\s+)(\w+): (?:async )?\(/.exec(line);
  if (arrow) return { indent: arrow[1] as string, name: arrow[2] as string };
  // A method or an object's function property: a modifier, or a signature ending its line with `{`.
  const m = /^(\s+)((?:(?:private|public|protected|static|async) )*)(\w+)\s*\(.*$/.exec(line);
  if (!m || ['if', 'for', 'while', 'switch', 'catch', 'return'].includes(m[3] as string)) return undefined;
  if (!m[2] && !/\)(?::[^=]*)?\s*\{$/.test(line)) return undefined;
  return { indent: m[1] as string, name: m[3] as string };
}

/**
 * The functions and methods a range touches: the one its first line is in, and those declared
 * within it; each with its name and last line (1-based).
 */
function touched(
  file: string,
  first: number,
  last: number,
): { name: string; last: number; inside: boolean }[] {
  const lines = readFileSync(path.join(root, file), 'utf8').split('\n');
  const endOf = (i: number, indent: string) =>
    // A one-line arrow property ends where it starts.
    /,$/.test(lines[i] ?? '') ? i + 1 : lines.findIndex((l, j) => j > i && l.startsWith(`${indent}}`)) + 1;
  const out: { name: string; last: number; inside: boolean }[] = [];
  for (let i = first - 2; i >= 0; i--) {
    const d = declared(lines[i] ?? '');
    if (!d) continue;
    const end = endOf(i, d.indent);
    if (end >= first) out.push({ name: d.name, last: end, inside: false });
    break;
  }
  for (let i = first - 1; i < last; i++) {
    const d = declared(lines[i] ?? '');
    if (d) out.push({ name: d.name, last: endOf(i, d.indent), inside: true });
  }
  return out;
}

describe('the mutation testing scope', () => {
  const entries = ['stryker.integration.config.mjs', 'stryker.unit.config.mjs'].flatMap(rangedEntries);

  it('has ranged entries to check', () => {
    expect(entries.length).toBeGreaterThan(5);
  });

  it.each(entries)('%s -> %s:%i-%i is code the comment names', (comment, file, first, last) => {
    const fns = touched(file, first, last);
    const names = fns.map((f) => f.name);
    // Every function the range touches is named, and the range ends where the last one does or within it.
    expect({ names, unnamed: names.filter((n) => !comment.includes(n)) }).toEqual({ names, unnamed: [] });
    expect(names.length).toBeGreaterThan(0);
    // Blank lines after the last function do not count.
    const lines = readFileSync(path.join(root, file), 'utf8').split('\n');
    let end = last;
    while (end > first && (lines[end - 1] ?? '').trim() === '') end--;
    expect(end).toBeLessThanOrEqual(Math.max(...fns.map((f) => f.last)));
    // A function that starts in the range ends in it: a range cut short misses its last lines.
    expect(fns.filter((f) => f.inside && f.last > end).map((f) => f.name)).toEqual([]);
  });
});
