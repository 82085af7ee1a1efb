import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { executionHistory as historyOf } from '../src/aws/history';
import { type Connection, type Workflow, workflowArn } from './context';

export interface ExecutionResult {
  executionArn: string;
  status: string;
  output: unknown;
  error?: string | undefined;
  cause?: string | undefined;
  durationMs: number;
}

/** Called for each state entered or left, and for failures, as they happen. */
export type Progress = (line: ProgressLine) => void;

export interface ProgressLine {
  kind: 'entered' | 'succeeded' | 'failed' | 'retrying';
  state: string;
  /** Milliseconds the state took (on exit). */
  ms?: number;
  detail?: string;
  /** The state's output as JSON text (on exit). */
  output?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a workflow; the name (optional) makes the start idempotent. */
export async function startWorkflow(
  conn: Connection,
  workflow: Workflow,
  input: unknown,
  name?: string,
): Promise<string> {
  const arn = await workflowArn(conn, workflow);
  const out = await conn.clients.sfn.send(
    new StartExecutionCommand({
      stateMachineArn: arn,
      input: JSON.stringify(input),
      ...(name ? { name } : {}),
    }),
  );
  return out.executionArn ?? '';
}

/** The history, all pages. */
export function executionHistory(conn: Connection, executionArn: string): Promise<HistoryEvent[]> {
  return historyOf(conn.clients.sfn, executionArn);
}

/** Turns new history events into progress lines; tracks entry times to report durations. */
export class HistoryFollower {
  private seen = 0;
  private readonly entered = new Map<string, number>();

  constructor(private readonly progress: Progress) {}

  feed(events: HistoryEvent[]): void {
    for (const e of events.slice(this.seen)) {
      const t = e.type ?? '';
      const at = e.timestamp ? new Date(e.timestamp).getTime() : Date.now();
      if (t.endsWith('StateEntered')) {
        const name = e.stateEnteredEventDetails?.name ?? '?';
        this.entered.set(name, at);
        this.progress({ kind: 'entered', state: name });
      } else if (t.endsWith('StateExited')) {
        const name = e.stateExitedEventDetails?.name ?? '?';
        const start = this.entered.get(name);
        const output = e.stateExitedEventDetails?.output;
        this.progress({
          kind: 'succeeded',
          state: name,
          ...(start !== undefined ? { ms: at - start } : {}),
          ...(output !== undefined ? { output } : {}),
        });
      } else if (t === 'TaskFailed' || t === 'LambdaFunctionFailed' || t === 'ExecutionFailed') {
        const d =
          e.taskFailedEventDetails ?? e.lambdaFunctionFailedEventDetails ?? e.executionFailedEventDetails;
        this.progress({
          kind: t === 'ExecutionFailed' ? 'failed' : 'retrying',
          state: t === 'ExecutionFailed' ? 'execution' : 'task',
          detail: `${d?.error ?? 'error'}: ${d?.cause ?? ''}`.slice(0, 300),
        });
      }
    }
    this.seen = Math.max(this.seen, events.length);
  }
}

function parseOutput(d: DescribeExecutionCommandOutput): unknown {
  if (!d.output) return null;
  try {
    return JSON.parse(d.output);
  } catch {
    return d.output;
  }
}

/** Polls until the execution stops, streaming progress; returns its outcome. */
export async function followExecution(
  conn: Connection,
  executionArn: string,
  progress?: Progress,
  pollMs = 50,
): Promise<ExecutionResult> {
  const follower = progress ? new HistoryFollower(progress) : undefined;
  const started = Date.now();
  for (;;) {
    const d = await conn.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (follower) follower.feed(await executionHistory(conn, executionArn));
    if (d.status && d.status !== 'RUNNING' && d.status !== 'PENDING_REDRIVE') {
      const ms =
        d.stopDate && d.startDate
          ? new Date(d.stopDate).getTime() - new Date(d.startDate).getTime()
          : Date.now() - started;
      return {
        executionArn,
        status: d.status,
        output: parseOutput(d),
        error: d.error,
        cause: d.cause,
        durationMs: ms,
      };
    }
    await sleep(pollMs);
  }
}

/** Start and follow in one. */
export async function runWorkflow(
  conn: Connection,
  workflow: Workflow,
  input: unknown,
  opts: { name?: string; progress?: Progress } = {},
): Promise<ExecutionResult> {
  const arn = await startWorkflow(conn, workflow, input, opts.name);
  return followExecution(conn, arn, opts.progress);
}
