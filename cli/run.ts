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
  /**
   * entered/succeeded: a state began or ended well. retrying: a Task failed and its Retry runs
   * it again. caught: a state failed and its Catch moved on (the execution goes on). failed:
   * the execution failed (detail is empty when the error was shown already).
   */
  kind: 'entered' | 'succeeded' | 'failed' | 'retrying' | 'caught';
  state: string;
  /** Milliseconds the state took (on exit). */
  ms?: number;
  detail?: string;
  /** The state's output as JSON text (on exit). */
  output?: string;
}

const TASK_FAILED = new Set([
  'TaskFailed',
  'TaskTimedOut',
  'LambdaFunctionFailed',
  'LambdaFunctionTimedOut',
  'ActivityFailed',
  'ActivityTimedOut',
]);
const TASK_SCHEDULED = new Set(['TaskScheduled', 'LambdaFunctionScheduled', 'ActivityScheduled']);

/**
 * A failure's cause as people read it: a Lambda error's cause on AWS is the JSON
 * `{errorType, errorMessage, trace}`; the message alone, never the stack.
 */
export function causeText(cause: string | undefined): string {
  if (!cause) return '';
  if (cause.startsWith('{')) {
    try {
      const c = JSON.parse(cause) as { errorMessage?: unknown };
      if (typeof c.errorMessage === 'string') return c.errorMessage;
    } catch {
      // not JSON after all
    }
  }
  // A stack that came along in plain text: its first line is the message.
  return cause.split(/\n\s+at /)[0] ?? cause;
}

function failureDetail(e: HistoryEvent): { error: string; cause: string } {
  const d =
    e.taskFailedEventDetails ??
    e.taskTimedOutEventDetails ??
    e.lambdaFunctionFailedEventDetails ??
    e.lambdaFunctionTimedOutEventDetails ??
    e.activityFailedEventDetails ??
    e.activityTimedOutEventDetails ??
    e.executionFailedEventDetails;
  return { error: d?.error ?? 'error', cause: causeText(d?.cause).slice(0, 300) };
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

/** A failure not yet told: what follows it decides retried, caught or failed. */
interface Failure {
  state: string;
  error: string;
  cause: string;
}

/** Where one line of the history stands after an event: its state, since when, a failure. */
interface ThreadAt {
  state: string;
  enteredAt?: number;
  pending?: Failure;
}

/**
 * Turns new history events into progress lines; tracks entry times to report durations. A
 * Task's failure is told only once what follows it is known: scheduled again (retried), the
 * state left or another entered (caught), or the execution failed; each error text is printed
 * once. Events are followed along their thread (`previousEventId`): the iterations of a Map run
 * at once and interleave in the history, and one iteration's failure followed by another's
 * TaskScheduled is no retry. An event without ids follows the one before it.
 */
export class HistoryFollower {
  private seen = 0;
  /** Each event's thread as it stood after that event, by event id. */
  private readonly threads = new Map<number, ThreadAt>();
  /** Entry times by state name, for states whose exit follows another thread (Map, Parallel). */
  private readonly entered = new Map<string, number>();
  private shown = new Set<string>();

  constructor(private readonly progress: Progress) {}

  /** Whether an error's text was streamed already (the caller need not print it again). */
  showed(error: string | undefined, cause: string | undefined): boolean {
    return this.shown.has(`${error ?? ''}: ${causeText(cause).slice(0, 300)}`);
  }

  private detail(error: string, cause: string): string {
    const text = `${error}: ${cause}`;
    if (this.shown.has(text)) return error;
    this.shown.add(text);
    return text;
  }

  feed(events: HistoryEvent[]): void {
    for (let i = this.seen; i < events.length; i++) {
      const e = events[i] as HistoryEvent;
      const id = e.id ?? i + 1;
      const before = this.threads.get(e.previousEventId ?? id - 1) ?? { state: '?' };
      this.threads.set(id, this.step(e, before));
    }
    this.seen = Math.max(this.seen, events.length);
  }

  /** Tells what one event means given its thread; returns the thread after it. */
  private step(e: HistoryEvent, before: ThreadAt): ThreadAt {
    const t = e.type ?? '';
    const at = e.timestamp ? new Date(e.timestamp).getTime() : Date.now();
    const p = before.pending;
    if (t.endsWith('StateEntered')) {
      const name = e.stateEnteredEventDetails?.name ?? '?';
      // A failure followed by another state (no exit recorded): a Catch moved on.
      if (p) this.progress({ kind: 'caught', state: p.state, detail: this.detail(p.error, p.cause) });
      this.entered.set(name, at);
      this.progress({ kind: 'entered', state: name });
      return { state: name, enteredAt: at };
    }
    if (t.endsWith('StateExited')) {
      const name = e.stateExitedEventDetails?.name ?? '?';
      const start = before.state === name ? before.enteredAt : this.entered.get(name);
      const output = e.stateExitedEventDetails?.output;
      this.progress({
        kind: p ? 'caught' : 'succeeded',
        state: name,
        ...(start !== undefined ? { ms: at - start } : {}),
        ...(p ? { detail: this.detail(p.error, p.cause) } : {}),
        ...(output !== undefined ? { output } : {}),
      });
      return { state: name };
    }
    if (TASK_FAILED.has(t)) return { ...before, pending: { state: before.state, ...failureDetail(e) } };
    if (p && (TASK_SCHEDULED.has(t) || t === 'MapStateStarted' || t === 'ParallelStateStarted')) {
      this.progress({ kind: 'retrying', state: p.state, detail: this.detail(p.error, p.cause) });
      const { pending: _told, ...rest } = before;
      return rest;
    }
    if (t === 'ExecutionFailed' || t === 'ExecutionTimedOut' || t === 'ExecutionAborted') {
      if (p) this.progress({ kind: 'failed', state: p.state, detail: this.detail(p.error, p.cause) });
      if (t === 'ExecutionFailed') {
        const { error, cause } = failureDetail(e);
        this.progress({ kind: 'failed', state: 'execution', detail: this.detail(error, cause) });
      } else {
        this.progress({ kind: 'failed', state: 'execution', detail: t.replace('Execution', '') });
      }
      return { state: 'execution' };
    }
    return before;
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
  progress?: Progress | HistoryFollower,
  pollMs = 50,
): Promise<ExecutionResult> {
  const follower =
    progress instanceof HistoryFollower ? progress : progress ? new HistoryFollower(progress) : undefined;
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
