import { ListSecretsCommand, type SecretListEntry } from '@aws-sdk/client-secrets-manager';
import { type ExecutionListItem, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { STATUS_TAG } from '../src/lifecycle/users';
import { LAST_ROTATED_TAG, STRATEGY_TAG } from '../src/rotation/types';
import {
  type Connection,
  connect,
  type GlobalOptions,
  WORKFLOWS,
  type Workflow,
  workflowArn,
} from './context';
import { CliError, EXIT } from './errors';
import { bold, dim, green, ms, out, printJson, progressPrinter, red, say, table } from './output';
import { type ExecutionResult, executionHistory, followExecution, startWorkflow } from './run';

export interface RunOptions {
  wait: boolean;
  name?: string;
}

/** Exit code of a finished execution; the failure line names the error code. */
export function finish(g: GlobalOptions, label: string, r: ExecutionResult): number {
  if (g.json) printJson(r);
  if (r.status === 'SUCCEEDED') {
    if (!g.json) {
      say(green(`${label}: SUCCEEDED in ${ms(r.durationMs)}`));
      process.stdout.write(`${JSON.stringify(r.output, null, 2)}\n`);
    }
    return EXIT.ok;
  }
  const code = r.error ?? r.status;
  say(red(`credflow: ${label} ${r.status}: ${r.cause ?? ''} (${code})`));
  if (code === 'RotationInProgressError') return EXIT.busy;
  if (code === 'ValidationError') return EXIT.usage;
  if (code === 'NotFoundError') return EXIT.notFound;
  return EXIT.failed;
}

/** Starts a workflow and, unless --no-wait, streams its states until it stops. */
export async function runCommand(
  g: GlobalOptions,
  workflow: Workflow,
  input: unknown,
  o: RunOptions,
  label: string = workflow,
): Promise<number> {
  const conn = connect(g);
  const arn = await startWorkflow(conn, workflow, input, o.name);
  if (!o.wait) {
    if (g.json) printJson({ executionArn: arn });
    else process.stdout.write(`${arn}\n`);
    return EXIT.ok;
  }
  say(bold(`${label}: ${dim(arn)}`));
  const r = await followExecution(conn, arn, g.json ? undefined : progressPrinter(''));
  return finish(g, label, r);
}

function workflowOf(stateMachineArn: string | undefined, stage: string): string {
  const name = stateMachineArn?.split(':').pop() ?? '';
  const prefix = `credflow-${stage}-`;
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/** `executions`: the latest executions of every credflow workflow (or one). */
export async function listExecutions(
  g: GlobalOptions,
  o: { workflow?: string; limit: number },
): Promise<number> {
  const conn = connect(g);
  const flows = o.workflow ? [o.workflow as Workflow] : [...WORKFLOWS];
  if (o.workflow && !(WORKFLOWS as readonly string[]).includes(o.workflow)) {
    throw new CliError(
      `unknown workflow ${o.workflow}; one of ${WORKFLOWS.join(', ')}`,
      'ValidationError',
      EXIT.usage,
    );
  }
  const all: ExecutionListItem[] = [];
  for (const w of flows) {
    let arn: string;
    try {
      arn = await workflowArn(conn, w);
    } catch (err) {
      if (err instanceof CliError && !o.workflow) continue;
      throw err;
    }
    const out = await conn.clients.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: arn, maxResults: o.limit }),
    );
    all.push(...(out.executions ?? []));
  }
  all.sort((a, b) => new Date(b.startDate ?? 0).getTime() - new Date(a.startDate ?? 0).getTime());
  const rows = all.slice(0, o.limit);
  if (g.json) {
    printJson(rows);
    return EXIT.ok;
  }
  process.stdout.write(
    `${table(
      ['workflow', 'status', 'started', 'duration', 'execution'],
      rows.map((e) => [
        workflowOf(e.stateMachineArn, conn.stage),
        e.status,
        e.startDate ? new Date(e.startDate).toISOString() : '',
        e.stopDate && e.startDate ? ms(new Date(e.stopDate).getTime() - new Date(e.startDate).getTime()) : '',
        e.executionArn,
      ]),
    )}\n`,
  );
  return EXIT.ok;
}

export interface StateRun {
  state: string;
  depth: number;
  ms?: number;
  status: 'running' | 'succeeded' | 'failed';
  error?: string;
}

/** The history as a tree of states: nested Map iterations indented, durations, errors. */
export async function stateTree(conn: Connection, executionArn: string): Promise<StateRun[]> {
  const events = await executionHistory(conn, executionArn);
  const runs: StateRun[] = [];
  const open = new Map<string, { run: StateRun; at: number }[]>();
  let depth = 0;
  for (const e of events) {
    const at = e.timestamp ? new Date(e.timestamp).getTime() : 0;
    const t = e.type ?? '';
    if (t === 'MapIterationStarted') depth++;
    else if (t === 'MapIterationSucceeded' || t === 'MapIterationFailed' || t === 'MapIterationAborted')
      depth = Math.max(0, depth - 1);
    else if (t.endsWith('StateEntered')) {
      const name = e.stateEnteredEventDetails?.name ?? '?';
      const run: StateRun = { state: name, depth, status: 'running' };
      runs.push(run);
      open.set(name, [...(open.get(name) ?? []), { run, at }]);
    } else if (t.endsWith('StateExited')) {
      const name = e.stateExitedEventDetails?.name ?? '?';
      const o = open.get(name)?.shift();
      if (o) {
        o.run.status = o.run.status === 'failed' ? 'failed' : 'succeeded';
        o.run.ms = at - o.at;
      }
    } else if (t === 'TaskFailed' || t === 'LambdaFunctionFailed' || t === 'ExecutionFailed') {
      const d =
        e.taskFailedEventDetails ?? e.lambdaFunctionFailedEventDetails ?? e.executionFailedEventDetails;
      const last = [...runs].reverse().find((r) => r.status === 'running') ?? runs[runs.length - 1];
      if (last) {
        last.error = `${d?.error ?? 'error'}: ${(d?.cause ?? '').slice(0, 200)}`;
        if (t === 'ExecutionFailed') last.status = 'failed';
      }
    }
  }
  return runs;
}

/** `history <execution>`. */
export async function history(g: GlobalOptions, executionArn: string): Promise<number> {
  const conn = connect(g);
  const runs = await stateTree(conn, executionArn);
  if (g.json) {
    printJson(runs);
    return EXIT.ok;
  }
  // The states are the result: stdout, so `credflow history <arn> | grep ...` works.
  const color = process.stdout.isTTY === true;
  const c = (paint: (s: string) => string) => (text: string) => (color ? paint(text) : text);
  for (const r of runs) {
    const mark = r.status === 'failed' ? c(red)('✗') : r.status === 'running' ? '…' : c(green)('✓');
    const error = r.error ? ` ${c(red)(r.error)}` : '';
    out(`${'  '.repeat(r.depth)}${mark} ${r.state} ${c(dim)(ms(r.ms))}${error}`.trimEnd());
  }
  return EXIT.ok;
}

/** `secrets`: credflow's secrets and RDS's master secrets, with strategy and rotation dates. */
export async function listSecrets(g: GlobalOptions): Promise<number> {
  const conn = connect(g);
  const all: SecretListEntry[] = [];
  let token: string | undefined;
  do {
    const page = await conn.clients.secrets.send(
      new ListSecretsCommand({ MaxResults: 100, ...(token ? { NextToken: token } : {}) }),
    );
    all.push(...(page.SecretList ?? []));
    token = page.NextToken;
  } while (token);
  const tag = (s: SecretListEntry, k: string) => s.Tags?.find((t) => t.Key === k)?.Value;
  const rows = all
    .filter((s) => tag(s, 'credflow:managed') === 'true' || s.OwningService === 'rds')
    .map((s) => ({
      name: s.Name,
      arn: s.ARN,
      strategy: s.OwningService === 'rds' ? 'rds-managed' : tag(s, STRATEGY_TAG),
      rotationEnabled: s.RotationEnabled ?? false,
      lastRotated: [
        s.LastRotatedDate ? new Date(s.LastRotatedDate).toISOString() : undefined,
        tag(s, LAST_ROTATED_TAG),
      ]
        .filter((d): d is string => !!d)
        .sort()
        .at(-1),
      nextRotation: s.NextRotationDate ? new Date(s.NextRotationDate).toISOString() : undefined,
      status: s.DeletedDate ? 'scheduled-for-deletion' : (tag(s, STATUS_TAG) ?? 'ok'),
    }));
  if (g.json) printJson(rows);
  else
    process.stdout.write(
      `${table(
        ['name', 'strategy', 'rotation', 'last rotated', 'next rotation', 'status'],
        rows.map((r) => [
          r.name,
          r.strategy,
          r.rotationEnabled ? 'on' : 'off',
          r.lastRotated,
          r.nextRotation,
          r.status,
        ]),
      )}\n`,
    );
  return EXIT.ok;
}
