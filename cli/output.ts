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

/**
 * A progress printer for one execution: a line per state, indented under a label. Retried,
 * caught and failed are told apart: `↻ State retried after Error: cause`, `✗ State caught
 * Error: cause` (the workflow goes on down its failure branch), `✗ execution failed: ...`.
 */
export function progressPrinter(label: string): (p: ProgressLine) => void {
  const pre = label ? `  ${label} ` : '  ';
  // A polling loop (provision's wait for `available`) enters the same states again and again:
  // after the first round, a line only when the status it reads changes.
  const visits = new Map<string, number>();
  let lastStatus: string | undefined;
  return (p) => {
    const n = visits.get(p.state) ?? 0;
    if (p.kind === 'entered') {
      visits.set(p.state, n + 1);
      if (n === 0) say(dim(`${pre}▸ ${p.state}`));
    } else if (p.kind === 'succeeded') {
      const status = statusIn(p.output);
      const changed = status !== undefined && status !== lastStatus;
      if (status !== undefined) lastStatus = status;
      if (n <= 1) say(`${pre}${green('✓')} ${p.state} ${dim(ms(p.ms))}`.trimEnd());
      else if (changed) say(`${pre}${dim('⋯')} ${p.state}: ${status}`);
    } else if (p.kind === 'retrying') say(`${pre}${yellow('↻')} ${p.state} retried after ${p.detail ?? ''}`);
    else if (p.kind === 'caught')
      say(
        `${pre}${yellow('✗')} ${p.state} ${p.ms !== undefined ? `${dim(ms(p.ms))} ` : ''}caught ${p.detail ?? ''}`,
      );
    else
      say(
        `${pre}${red('✗')} ${p.state === 'execution' ? 'execution failed' : `${p.state} failed`}: ${p.detail ?? ''}`,
      );
  };
}

/** The status a polling state read (`status` or `db.status` of its output), if any. */
function statusIn(output: string | undefined): string | undefined {
  if (!output) return undefined;
  try {
    const o = JSON.parse(output) as { status?: unknown; db?: { status?: unknown } };
    const s = o.db?.status ?? o.status;
    return typeof s === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
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
