import type { ProgressLine } from './run';

const tty = process.stderr.isTTY === true && !process.env['NO_COLOR'];
const paint = (code: string) => (s: string) => (tty ? `\u001b[${code}m${s}\u001b[0m` : s);
export const green = paint('32');
export const red = paint('31');
export const yellow = paint('33');
export const dim = paint('2');
export const bold = paint('1');

/** Progress goes to stderr, so stdout stays clean for results and `--json`. */
export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** A line of a command's result: stdout, so it can be piped. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function ms(n: number | undefined): string {
  if (n === undefined) return '';
  return n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`;
}

/** A progress printer for one execution: a line per state, indented under a label. */
export function progressPrinter(label: string): (p: ProgressLine) => void {
  return (p) => {
    if (p.kind === 'entered') say(dim(`  ${label} ▸ ${p.state}`));
    else if (p.kind === 'succeeded') say(`  ${label} ${green('✓')} ${p.state} ${dim(ms(p.ms))}`);
    else if (p.kind === 'retrying') say(`  ${label} ${yellow('↻')} ${p.detail ?? ''}`);
    else say(`  ${label} ${red('✗')} ${p.detail ?? ''}`);
  };
}

/** A plain text table; columns sized to their content. */
export function table(headers: string[], rows: (string | number | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** A progress bar for fleets: `[#####.....] 5/10`. */
export function bar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
