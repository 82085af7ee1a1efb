/**
 * Executions: run by the runner (runner/runner.ts), every Task dispatched by the TaskDispatcher,
 * the history recorded as AWS shows it, the status-change event published with the stopped row.
 */
import { randomUUID } from 'node:crypto';
import type { EventLog } from '../events/log';
import { AwsError } from '../http/errors';
import { assertJsonDepth } from '../http/json-depth';
import type { LocalLogger } from '../log';
import { ExecutionHistory, type HistoryEvent } from './history';
import { type Compiled, type CompiledMachines, NAME, paginate } from './machines';
import type { ExecutionQuotas } from './quotas';
import { StatesError } from './runner/errors';
import { Runner, type RunnerLimits } from './runner/runner';
import type { ExecutionRow, ExecutionStatus, StateMachineRow, StepFunctionsStore } from './store';
import { type ChildDescription, type ChildExecutions, type TaskDispatcher, TaskError } from './tasks';

interface Running {
  arn: string;
  history: ExecutionHistory;
  abort: () => void;
  done: Promise<void>;
  stopRequested?: { error?: string | undefined; cause?: string | undefined };
  /** `.sync` children: stopping the parent stops them, as on AWS. */
  children: Set<string>;
}

/** The execution's side of the `Step Functions Execution Status Change` event. */
export interface StatusChange {
  arn: string;
  name: string;
  status: ExecutionStatus;
  input: string;
  startMs: number;
  stopMs?: number | undefined;
  output?: string | null | undefined;
  error?: string | null | undefined;
  cause?: string | null | undefined;
}

/** Publishes an execution's status change as Step Functions sends it to EventBridge. */
export function publishStatus(events: EventLog, sm: StateMachineRow, c: StatusChange): void {
  events.publish({
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    resources: [c.arn],
    detail: {
      executionArn: c.arn,
      stateMachineArn: sm.arn,
      name: c.name,
      status: c.status,
      startDate: c.startMs,
      stopDate: c.stopMs ?? null,
      input: c.input,
      inputDetails: { included: true },
      output: c.output ?? null,
      outputDetails: c.output ? { included: true } : null,
      ...(c.error ? { error: c.error } : {}),
      ...(c.cause ? { cause: c.cause } : {}),
    },
  });
}

export interface ExecutionsOptions {
  db: StepFunctionsStore;
  machines: CompiledMachines;
  events: EventLog;
  logger: LocalLogger;
  region: string;
  accountId: string;
  /** Step Functions' payload and history quotas (checked at the service boundary). */
  quotas: ExecutionQuotas;
}

export class Executions implements ChildExecutions {
  private readonly running = new Map<string, Running>();
  private tasks: TaskDispatcher | undefined;
  private stopped = false;
  /** Set when stop() gave up waiting: abandoned executions stay RUNNING in the store. */
  private abandoned = false;
  /** History events not yet in the store (see persist). */
  private pendingEvents: { arn: string; id: number; event: string }[] = [];

  constructor(private readonly o: ExecutionsOptions) {}

  /** The dispatcher Task states go to (it starts child executions here, hence set afterwards). */
  dispatchTo(tasks: TaskDispatcher): void {
    this.tasks = tasks;
  }

  executionArn(smName: string, name: string): string {
    return `arn:aws:states:${this.o.region}:${this.o.accountId}:execution:${smName}:${name}`;
  }

  private machine(arn: string): StateMachineRow {
    const row = this.o.db.machine(arn);
    if (!row) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return row;
  }

  private exec(arn: string): ExecutionRow {
    const row = this.o.db.execution(arn);
    if (!row) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return row;
  }

  /**
   * Starts an execution. The name is an idempotency key, as on AWS for STANDARD machines: the
   * same name and input while that execution still runs returns it again; a finished one, or
   * other input, is `ExecutionAlreadyExists`.
   */
  startExecution(input: { stateMachineArn: string; name?: string; input?: string }) {
    if (this.stopped) throw new AwsError('ServiceUnavailable', 'the local cloud is stopping', 503);
    const sm = this.machine(input.stateMachineArn);
    const name = input.name ?? randomUUID();
    if (!NAME.test(name)) throw new AwsError('InvalidName', `Invalid Name: '${name}'`);
    const text = input.input ?? '{}';
    this.o.quotas.checkStartInput(text);
    assertJsonDepth(text, 'input');
    let parsedInput: unknown;
    try {
      parsedInput = JSON.parse(text);
    } catch (err) {
      // AWS, recorded: an empty input is "Invalid execution input."; other text names the JSON
      // parser's complaint (Jackson's words on AWS, JavaScript's here).
      const why = text.trim() === '' ? 'Invalid execution input.' : (err as Error).message;
      throw new AwsError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${why}'`);
    }
    const arn = this.executionArn(sm.name, name);
    const existing = this.o.db.execution(arn);
    if (existing) {
      if (existing.input === text && existing.status === 'RUNNING') {
        return { executionArn: arn, startDate: new Date(existing.start_ms) };
      }
      throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    }
    const compiled = this.o.machines.compile(sm);
    const start = Date.now();
    const history = new ExecutionHistory();
    history.started(text, sm.role_arn, start);
    // The first event is stored with the row: an execution a crash interrupts keeps it.
    this.o.db.insertExecution(arn, sm.arn, name, text, start, JSON.stringify(history));
    this.launch(
      sm,
      compiled,
      history,
      { arn, name, status: 'RUNNING', input: text, startMs: start },
      parsedInput,
    );
    return { executionArn: arn, startDate: new Date(start) };
  }

  private launch(
    sm: StateMachineRow,
    compiled: Compiled,
    history: ExecutionHistory,
    started: StatusChange,
    input: unknown,
  ): void {
    const { arn, name } = started;
    publishStatus(this.o.events, sm, started);
    const running: Running = { arn, history, abort: () => {}, done: Promise.resolve(), children: new Set() };
    const runner = new Runner({
      definition: compiled.definition,
      history,
      region: this.o.region,
      limits: quotaLimits(this.o.quotas),
      execution: {
        id: arn,
        name,
        input,
        roleArn: sm.role_arn,
        startTime: new Date(started.startMs).toISOString(),
        stateMachineId: sm.arn,
        stateMachineName: sm.name,
      },
      tasks: {
        invoke: (resource, taskInput, submitted) => {
          if (!this.tasks) throw new TaskError('States.Runtime', 'no Task dispatcher');
          return this.tasks.invoke(resource, taskInput, running, submitted);
        },
      },
    });
    running.abort = () => runner.stop('ABORTED');
    // The history quota: the event that leaves room for just the closing ExecutionFailed ends the
    // execution (thrown out of the runner's record, a terminal error no Catch sees).
    let closing = false;
    history.onEvent = (event) => {
      const full = closing ? undefined : this.o.quotas.history(history.events.length);
      if (full) {
        closing = true;
        throw new StatesError(full.error, full.cause, { terminal: true, placed: true });
      }
      if (!closing) this.persist(arn, event);
    };

    running.done = (async () => {
      const finish = await runner.run(input);
      closing = true;
      if (this.abandoned) {
        this.running.delete(arn);
        return;
      }
      let status: ExecutionStatus = finish.status;
      let output: string | null = null;
      let error: string | null = null;
      let cause: string | null = null;
      let prev: number | undefined;
      const outputTooLarge =
        finish.status === 'SUCCEEDED'
          ? this.o.quotas.result('execution output', JSON.stringify(finish.output ?? null))
          : undefined;
      if (outputTooLarge) {
        status = 'FAILED';
        error = outputTooLarge.error;
        cause = outputTooLarge.cause;
        prev = finish.status === 'SUCCEEDED' ? finish.prev : undefined;
      } else if (finish.status === 'SUCCEEDED') {
        output = JSON.stringify(finish.output ?? null);
        prev = finish.prev;
      } else if (finish.status === 'FAILED') {
        error = finish.error ?? null;
        cause = finish.cause ?? null;
        prev = finish.prev;
      } else if (finish.status === 'ABORTED' || running.stopRequested) {
        status = 'ABORTED';
        error = running.stopRequested?.error ?? null;
        cause = running.stopRequested?.cause ?? null;
      }
      const stop = Date.now();
      history.finished(status, { output, error, cause }, stop, prev);
      // One transaction: a kill -9 cannot leave the execution stopped without its status event
      // (which is what starts the repair of a failed rotation).
      this.o.db.tx(() => {
        this.flushEvents();
        this.o.db.dropHistoryEvents(arn);
        this.o.db.finishExecution(arn, {
          status,
          output,
          error,
          cause,
          stopMs: stop,
          history: JSON.stringify(history),
        });
        publishStatus(this.o.events, sm, { ...started, status, stopMs: stop, output, error, cause });
      });
      this.running.delete(arn);
    })().catch((err: unknown) => {
      this.o.logger.error('execution bookkeeping failed', { executionArn: arn, error: String(err) });
      this.running.delete(arn);
    });
    this.running.set(arn, running);
  }

  describeExecution(input: { executionArn: string }): ChildDescription & {
    inputDetails: { included: boolean };
    outputDetails?: { included: boolean };
  } {
    const r = this.exec(input.executionArn);
    return {
      executionArn: r.arn,
      stateMachineArn: r.sm_arn,
      name: r.name,
      status: r.status,
      startDate: new Date(r.start_ms),
      ...(r.stop_ms ? { stopDate: new Date(r.stop_ms) } : {}),
      input: r.input,
      inputDetails: { included: true },
      ...(r.output !== null ? { output: r.output, outputDetails: { included: true } } : {}),
      ...(r.error !== null ? { error: r.error } : {}),
      ...(r.cause !== null ? { cause: r.cause } : {}),
    };
  }

  getExecutionHistory(input: {
    executionArn: string;
    maxResults?: number;
    nextToken?: string;
    reverseOrder?: boolean;
  }) {
    const r = this.exec(input.executionArn);
    const live = this.running.get(r.arn);
    let events: HistoryEvent[] = live ? [...live.history.events] : ExecutionHistory.parse(r.history).events;
    if (input.reverseOrder) events = events.reverse();
    const { page, nextToken } = paginate(events, input);
    return { events: page, ...(nextToken ? { nextToken } : {}) };
  }

  listExecutions(input: {
    stateMachineArn: string;
    statusFilter?: string;
    maxResults?: number;
    nextToken?: string;
  }) {
    this.machine(input.stateMachineArn);
    const rows = this.o.db.executionsOf(input.stateMachineArn, input.statusFilter || undefined);
    const { page, nextToken } = paginate(rows, input);
    return {
      executions: page.map((e) => ({
        executionArn: e.arn,
        stateMachineArn: e.sm_arn,
        name: e.name,
        status: e.status,
        startDate: new Date(e.start_ms),
        ...(e.stop_ms ? { stopDate: new Date(e.stop_ms) } : {}),
      })),
      ...(nextToken ? { nextToken } : {}),
    };
  }

  /** Aborts a running execution (and the `.sync` children it waits for). */
  stopExecution(input: { executionArn: string; error?: string; cause?: string }) {
    const r = this.exec(input.executionArn);
    const live = this.running.get(r.arn);
    if (live) {
      live.stopRequested = { error: input.error, cause: input.cause };
      live.abort();
      for (const child of live.children)
        this.stopExecution({
          executionArn: child,
          error: 'States.Aborted',
          cause: 'parent execution stopped',
        });
    }
    return { stopDate: new Date() };
  }

  /** Whether the execution runs in this process now. */
  isRunning(executionArn: string): boolean {
    return this.running.has(executionArn);
  }

  /** Resolves when the execution has stopped (at once if it is not running here). */
  async awaitExecution(executionArn: string): Promise<void> {
    await this.running.get(executionArn)?.done;
  }

  /** Resolves when no execution is running (including ones started meanwhile). */
  async awaitIdle(): Promise<void> {
    while (this.running.size > 0) {
      const now = [...this.running.values()];
      await Promise.all(now.map((r) => r.done));
      // Bookkeeping always removes a finished run; if not, yield rather than spin.
      if (now.every((r) => [...this.running.values()].includes(r)))
        await new Promise((r) => setTimeout(r, 10));
    }
  }

  get runningCount(): number {
    return this.running.size;
  }

  /**
   * Queues a running execution's new history event for the store. Events are written in one
   * transaction per turn of the event loop (all executions together): a kill -9 loses at most
   * the events of the turn it interrupted, and a busy cloud pays one commit per turn, not one
   * per event.
   */
  private persist(arn: string, event: HistoryEvent): void {
    if (this.abandoned) return;
    this.pendingEvents.push({ arn, id: event.id, event: JSON.stringify(event) });
    if (this.pendingEvents.length === 1) setImmediate(() => this.flushEvents());
  }

  /** Writes the queued history events now. */
  private flushEvents(): void {
    if (this.pendingEvents.length === 0) return;
    const batch = this.pendingEvents;
    this.pendingEvents = [];
    try {
      this.o.db.appendHistoryEvents(batch);
    } catch (err) {
      this.o.logger.error('history events not stored', { count: batch.length, error: String(err) });
    }
  }

  /** Stops accepting executions; waits for running ones up to `graceMs`, then aborts them. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.awaitIdle(),
      new Promise<void>((r) => {
        timer = setTimeout(r, graceMs);
      }),
    ]);
    clearTimeout(timer);
    // Left RUNNING in the store on purpose, with the history they made so far: the next start
    // marks them failed (recoverInterrupted).
    this.flushEvents();
    this.abandoned = true;
    for (const r of this.running.values()) r.abort();
  }
}

/** The runner's payload checks over Step Functions' quotas: each a terminal error, as on AWS. */
function quotaLimits(q: ExecutionQuotas): RunnerLimits {
  const terminal = (f: { error: string; cause: string } | undefined) =>
    f ? new StatesError(f.error, f.cause, { terminal: true, placed: true }) : undefined;
  return {
    taskInput: (state, value) => terminal(q.input(state, value)),
    taskResult: (resource, value) => terminal(q.result(resource, value)),
    stateOutput: (state, value) => terminal(q.result(state, value)),
  };
}
