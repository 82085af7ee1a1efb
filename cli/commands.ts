import { ListSecretsCommand, type SecretListEntry } from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  type ExecutionListItem,
  ListExecutionsCommand,
  ListStateMachinesCommand,
} from '@aws-sdk/client-sfn';
import { nextRotationOf } from '../src/lifecycle/fleet';
import { byUrgency, executionSubject, sameSecret, secretStatusOf } from '../src/lifecycle/status';
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
import {
  causeText,
  type ExecutionResult,
  executionHistory,
  followExecution,
  HistoryFollower,
  startWorkflow,
} from './run';

export interface RunOptions {
  wait: boolean;
  name?: string;
}

/** A workflow's result as short lines for people (stdout); the full JSON is for `--json`. */
export type Summary = (output: unknown) => string[];

/** The default summary: an output's top-level values that print on one line each. */
export function summarize(output: unknown): string[] {
  if (output === null || output === undefined) return [];
  if (typeof output !== 'object') return [String(output)];
  const lines: string[] = [];
  for (const [k, v] of Object.entries(output as Record<string, unknown>)) {
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) {
      if (v.every((x) => typeof x !== 'object' || x === null))
        lines.push(`${k}: ${v.length ? v.join(', ') : 'none'}`);
      else lines.push(`${k}: ${v.length}`);
    } else if (typeof v !== 'object') lines.push(`${k}: ${String(v)}`);
  }
  return lines.slice(0, 12);
}

/** The short result of each workflow command (default: `summarize`). */
export const SUMMARIES: Partial<Record<Workflow, Summary>> = {
  'rotate-secret': (o) => {
    // The output is the execution's state: the secret is where its input put it.
    const id = executionSubject(JSON.stringify(o ?? {}));
    return id ? [`rotated ${id}`] : summarize(o);
  },
  'create-database-user': (o) => {
    const r = (o ?? {}) as Record<string, string | undefined>;
    return [
      `created ${r['username']} on ${r['dbIdentifier']} (${r['strategy']})`,
      `secret: ${r['secretName']} (${r['secretArn']})`,
    ];
  },
};

/** A command line that repeats the connection flags in use (for "follow it with ..."). */
export function commandLine(g: GlobalOptions, rest: string): string {
  const flags = [
    g.local ? '--local' : '',
    g.local && g.stateDir !== '.credflow' ? `--state-dir ${g.stateDir}` : '',
    g.stage ? `--stage ${g.stage}` : '',
    g.region ? `--region ${g.region}` : '',
    g.profile ? `--profile ${g.profile}` : '',
  ].filter(Boolean);
  return ['credflow', ...flags, rest].join(' ');
}

/**
 * While an execution is followed, Ctrl-C stops following, not the execution: say so, say how to
 * follow it again, and exit 130 as a shell expects. Returns the function that removes the hook.
 */
export function onInterrupt(g: GlobalOptions, executionArn: string): () => void {
  const name = executionArn.split(':').pop() ?? executionArn;
  const handler = () => {
    say(
      `\ncredflow: stopped following; execution ${name} goes on. Follow it with \`${commandLine(g, `watch ${name}`)}\`` +
        ` (its states: \`${commandLine(g, `history ${name}`)}\`)`,
    );
    process.exit(130);
  };
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

/**
 * Exit code of a finished execution. Success: a short result on stdout (the full JSON with
 * --json); failure: one line naming the error code, with its text unless the stream showed it.
 */
export function finish(
  g: GlobalOptions,
  label: string,
  r: ExecutionResult,
  o: { summary?: Summary; shown?: boolean } = {},
): number {
  if (g.json) printJson(r);
  if (r.status === 'SUCCEEDED') {
    if (!g.json) {
      say(green(`${label}: SUCCEEDED in ${ms(r.durationMs)}`));
      for (const l of (o.summary ?? summarize)(r.output)) out(l);
    }
    return EXIT.ok;
  }
  const code = r.error ?? r.status;
  const cause = o.shown || !r.cause ? '' : `: ${causeText(r.cause)}`;
  say(red(`credflow: ${label} ${r.status}${cause} (${code})`));
  if (code === 'RotationInProgressError') return EXIT.busy;
  if (code === 'ValidationError') return EXIT.usage;
  if (code === 'NotFoundError') return EXIT.notFound;
  return EXIT.failed;
}

/**
 * Follows an execution to its end with the step stream on stderr (none with --json). The
 * Ctrl-C hook is in place before the `label: arn` header is printed: whoever reacts to the
 * header (a person, a script sending SIGINT) finds the hook there.
 */
export async function follow(
  g: GlobalOptions,
  conn: Connection,
  executionArn: string,
  label: string,
  summary?: Summary,
): Promise<number> {
  const follower = g.json ? undefined : new HistoryFollower(progressPrinter(''));
  const off = onInterrupt(g, executionArn);
  say(bold(`${label}: ${dim(executionArn)}`));
  try {
    const r = await followExecution(conn, executionArn, follower);
    const shown = follower?.showed(r.error, r.cause) ?? false;
    return finish(g, label, r, { ...(summary ? { summary } : {}), shown });
  } finally {
    off();
  }
}

/** Starts a workflow and, unless --no-wait, streams its states until it stops. */
export async function runCommand(
  g: GlobalOptions,
  workflow: Workflow,
  input: unknown,
  o: RunOptions,
  label: string = workflow,
  summary: Summary | undefined = SUMMARIES[workflow],
): Promise<number> {
  const conn = connect(g);
  const arn = await startWorkflow(conn, workflow, input, o.name);
  if (!o.wait) {
    if (g.json) printJson({ executionArn: arn });
    else process.stdout.write(`${arn}\n`);
    return EXIT.ok;
  }
  return follow(g, conn, arn, label, summary);
}

/**
 * An execution by ARN or by name: a name is looked up in each of credflow's state machines of
 * the stage (an execution's ARN is its machine's with `execution` and the name).
 */
export async function resolveExecution(conn: Connection, ref: string): Promise<string> {
  if (ref.startsWith('arn:')) return ref;
  const machines: string[] = [];
  let token: string | undefined;
  do {
    const page = await conn.clients.sfn.send(
      new ListStateMachinesCommand({ maxResults: 1000, ...(token ? { nextToken: token } : {}) }),
    );
    for (const m of page.stateMachines ?? [])
      if (m.stateMachineArn && m.name?.startsWith(`credflow-${conn.stage}-`))
        machines.push(m.stateMachineArn);
    token = page.nextToken;
  } while (token);
  for (const m of machines) {
    const arn = `${m.replace(':stateMachine:', ':execution:')}:${ref}`;
    try {
      await conn.clients.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      return arn;
    } catch (err) {
      if ((err as Error).name !== 'ExecutionDoesNotExist') throw err;
    }
  }
  throw new CliError(
    `no execution named ${ref} in credflow's state machines (stage ${conn.stage}); \`credflow executions\` lists them`,
    'ExecutionDoesNotExist',
    EXIT.notFound,
  );
}

/** `watch <execution>`: follows a running (or finished) execution as the command that started it would. */
export async function watch(g: GlobalOptions, ref: string): Promise<number> {
  const conn = connect(g);
  const arn = await resolveExecution(conn, ref);
  const d = await conn.clients.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
  const workflow = workflowOf(d.stateMachineArn, conn.stage);
  return follow(g, conn, arn, workflow, SUMMARIES[workflow as Workflow]);
}

function workflowOf(stateMachineArn: string | undefined, stage: string): string {
  const name = stateMachineArn?.split(':').pop() ?? '';
  const prefix = `credflow-${stage}-`;
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/** Workflows whose input names a secret: the ones `executions --secret` looks through. */
const SECRET_WORKFLOWS: Workflow[] = ['rotate-secret', 'verify-credentials', 'on-rotation-failure'];

/** How many executions `executions --secret` describes at most looking for matches. */
const SECRET_SCAN_LIMIT = 1000;

/**
 * `executions`: the latest executions of every credflow workflow (or one), each with what it
 * was for (the secret or database its input names); `--secret` keeps that secret's only.
 */
export async function listExecutions(
  g: GlobalOptions,
  o: { workflow?: string; limit: number; secret?: string },
): Promise<number> {
  const conn = connect(g);
  if (o.workflow && !(WORKFLOWS as readonly string[]).includes(o.workflow)) {
    throw new CliError(
      `unknown workflow ${o.workflow}; one of ${WORKFLOWS.join(', ')}`,
      'ValidationError',
      EXIT.usage,
    );
  }
  const flows = o.workflow ? [o.workflow as Workflow] : o.secret ? SECRET_WORKFLOWS : [...WORKFLOWS];
  const perMachine = o.secret ? SECRET_SCAN_LIMIT : o.limit;
  const all: ExecutionListItem[] = [];
  for (const w of flows) {
    let arn: string;
    try {
      arn = await workflowArn(conn, w);
    } catch (err) {
      if (err instanceof CliError && !o.workflow) continue;
      throw err;
    }
    let token: string | undefined;
    let n = 0;
    do {
      const page = await conn.clients.sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: arn,
          maxResults: Math.min(1000, perMachine - n),
          ...(token ? { nextToken: token } : {}),
        }),
      );
      all.push(...(page.executions ?? []));
      n += page.executions?.length ?? 0;
      token = page.nextToken;
    } while (token && n < perMachine);
  }
  all.sort((a, b) => new Date(b.startDate ?? 0).getTime() - new Date(a.startDate ?? 0).getTime());
  // What each was for is in its input, which only DescribeExecution returns.
  const rows: (ExecutionListItem & { for?: string })[] = [];
  for (const e of all) {
    if (rows.length >= o.limit) break;
    const d = await conn.clients.sfn
      .send(new DescribeExecutionCommand({ executionArn: e.executionArn }))
      .catch(() => undefined);
    const subject = executionSubject(d?.input);
    if (o.secret && !(subject && sameSecret(subject, o.secret))) continue;
    rows.push({ ...e, ...(subject ? { for: subject } : {}) });
  }
  if (g.json) {
    printJson(rows);
    return EXIT.ok;
  }
  if (rows.length === 0) {
    out(o.secret ? `no executions for ${o.secret}` : 'no executions');
    return EXIT.ok;
  }
  process.stdout.write(
    `${table(
      ['workflow', 'for', 'status', 'started', 'duration', 'execution'],
      rows.map((e) => [
        workflowOf(e.stateMachineArn, conn.stage),
        e.for,
        e.status,
        e.startDate ? new Date(e.startDate).toISOString() : '',
        e.stopDate && e.startDate ? ms(new Date(e.stopDate).getTime() - new Date(e.startDate).getTime()) : '',
        e.name,
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
        last.error = `${d?.error ?? 'error'}: ${causeText(d?.cause).slice(0, 200)}`;
        if (t === 'ExecutionFailed') last.status = 'failed';
      }
    }
  }
  return runs;
}

/** `history <execution>`: by name or ARN. */
export async function history(g: GlobalOptions, ref: string): Promise<number> {
  const conn = connect(g);
  const runs = await stateTree(conn, await resolveExecution(conn, ref));
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
  const now = Date.now();
  const rows = all
    .filter((s) => tag(s, 'credflow:managed') === 'true' || s.OwningService === 'rds')
    .map((s) => ({
      name: s.Name ?? '',
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
      nextRotation:
        s.OwningService === 'rds' && !s.NextRotationDate ? undefined : nextRotationOf(s)?.toISOString(),
      status: secretStatusOf(s, now),
    }))
    .sort(byUrgency);
  const color = process.stdout.isTTY === true && !process.env['NO_COLOR'];
  const paint = (st: string) =>
    !color
      ? st
      : st === 'broken'
        ? `\u001b[31m${st}\u001b[0m`
        : st === 'rolled-back' || st === 'due'
          ? `\u001b[33m${st}\u001b[0m`
          : st;
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
          paint(r.status),
        ]),
      )}\n`,
    );
  return EXIT.ok;
}
