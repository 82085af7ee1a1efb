import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { type FleetProgress, fleetSnapshot, progressLine } from '../src/lifecycle/fleet-progress';
import type { FleetSummary } from '../src/lifecycle/fleet-tally';
import { finish, onInterrupt } from './commands';
import { connect, type GlobalOptions } from './context';
import { EXIT } from './errors';
import { bold, dim, green, ms, out, printJson, red, say, table } from './output';
import { type ExecutionResult, followExecution, startWorkflow } from './run';

export interface FleetRunInput {
  tag?: { key: string; value: string };
  maxConcurrency: number;
  writeBudget?: number;
  pageSize?: number;
  force: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Where progress goes: one line rewritten in place on a terminal, plain lines otherwise (each
 * when the counts change, at most every `plainEveryMs`), so a log file stays readable.
 */
export function progressWriter(
  tty: boolean,
  write: (s: string) => void,
  plainEveryMs = 5000,
): { update(p: FleetProgress, nowMs: number): void; end(): void } {
  let last = '';
  let lastAt = Number.NEGATIVE_INFINITY;
  let pending: string | undefined;
  return {
    update(p, nowMs) {
      const line = `  ${progressLine(p)}`;
      if (tty) {
        if (line !== last) write(`\r\u001b[2K${line}`);
        last = line;
        return;
      }
      const counts = line.replace(/, ETA .*$/, '');
      if (counts === last) return;
      if (nowMs - lastAt < plainEveryMs) {
        pending = line;
        return;
      }
      write(`${line}\n`);
      last = counts;
      lastAt = nowMs;
      pending = undefined;
    },
    end() {
      if (tty && last) write('\n');
      else if (!tty && pending) write(`${pending}\n`);
      pending = undefined;
    },
  };
}

/**
 * `rotate-fleet`: starts the run, shows rotated / failed / in flight / remaining and an ETA
 * while it runs (read from the run's executions every `pollMs`), then the summary.
 */
export async function rotateFleet(
  g: GlobalOptions,
  input: FleetRunInput,
  o: { wait: boolean; name?: string },
  pollMs = 1000,
): Promise<number> {
  const conn = connect(g);
  const arn = await startWorkflow(conn, 'rotate-fleet', input, o.name);
  if (!o.wait) {
    process.stdout.write(g.json ? `${JSON.stringify({ executionArn: arn })}\n` : `${arn}\n`);
    return EXIT.ok;
  }
  const off = onInterrupt(g, arn);
  say(bold(`rotate-fleet: ${dim(arn)}`));
  const show = g.json
    ? undefined
    : progressWriter(process.stderr.isTTY === true, (s) => process.stderr.write(s));
  for (;;) {
    // The first execution ends last (it waits for its continuations) and holds the summary.
    const d = await conn.clients.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    if (d.status !== 'RUNNING') break;
    if (show) show.update(await fleetSnapshot(conn.clients.sfn, arn), Date.now());
    await sleep(pollMs);
  }
  show?.end();
  off();
  return report(g, await followExecution(conn, arn), input.force);
}

/** `20 skipped (not due 20: rotate them anyway with --force)`. */
export function skippedLine(s: Pick<FleetSummary, 'skipped' | 'skippedByReason'>, force: boolean): string {
  if (!s.skipped) return '0 skipped';
  const reasons = Object.entries(s.skippedByReason ?? {}).map(([why, n]) => `${why} ${n}`);
  const hint = !force && s.skippedByReason?.['not due'] ? ': rotate them anyway with --force' : '';
  return `${s.skipped} skipped${reasons.length ? ` (${reasons.join(', ')}${hint})` : ''}`;
}

function report(g: GlobalOptions, r: ExecutionResult, force: boolean): number {
  if (g.json) {
    printJson(r);
  } else if (r.status === 'SUCCEEDED') {
    // The result is on stdout (progress stayed on stderr), so it can be piped or kept.
    const s = r.output as FleetSummary;
    const failures = s.failures.map((x) => [x.name, x.error]);
    if (failures.length) out(table(['secret', 'error'], failures));
    const byError = Object.entries(s.failuresByError).map(([e, n]) => `${e} ${n}`);
    out(
      `${green(`${s.succeeded} rotated`)}, ${s.failed ? red(`${s.failed} failed`) : '0 failed'}` +
        `${byError.length ? ` (${byError.join(', ')})` : ''}, ${s.recovered} of ${s.retried} retried recovered, ` +
        `${skippedLine(s, force)}, in ${ms(r.durationMs)}`,
    );
    out(
      dim(
        `  ${s.rotationsPerSecond}/s at a budget of ${s.pacing.writeBudget} writes/s ` +
          `(${s.pacing.budgetRate}/s); throttled requests ${s.throttling.throttledRequests}, ` +
          `slow-downs ${s.throttling.backoffs}; ${s.pages} pages in ${s.executions} execution(s)`,
      ),
    );
  } else {
    return finish({ ...g, json: false }, 'rotate-fleet', r);
  }
  return (r.output as { failed: number }).failed > 0 ? EXIT.failed : EXIT.ok;
}
