/**
 * Runs one execution of a state machine as Step Functions does: states in order, each entered
 * and exited in the history, Retry and Catch as the Amazon States Language defines them
 * (https://states-language.net/spec.html#errors), Map and Parallel children in threads of their
 * own, workflow variables set when a state exits, and the execution's own TimeoutSeconds.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ExecutionHistory } from '../history';
import { runMap, runParallel, STARTED } from './concurrent';
import {
  type AslBranch,
  type AslDefinition,
  type AslState,
  languageOf,
  type QueryLanguage,
  type Retrier,
} from './definition';
import { inState, runtimeError, StatesError, StoppedError } from './errors';
import { type Frame, type Outcome, Thread } from './frame';
import { KINDS, type KindHost } from './kinds';
import { LANGUAGES } from './languages';
import { contextObject, type ExecutionInfo, VariableScope } from './scope';

/** Where Task states go: the local cloud's dispatcher. */
export interface TaskInvoker {
  /** Runs a resource; `submitted` is told when a `.sync` request went out (TaskSubmitted). */
  invoke(resource: string, input: unknown, submitted: (output: unknown) => void): Promise<unknown>;
}

/**
 * Checks the host makes where data crosses a boundary (payload quotas): each returns the terminal
 * error that ends the execution, or undefined.
 */
export interface RunnerLimits {
  taskInput?(stateName: string, value: unknown): StatesError | undefined;
  taskResult?(resource: string, value: unknown): StatesError | undefined;
  stateOutput?(stateName: string, value: unknown): StatesError | undefined;
}

export interface RunnerOptions {
  definition: AslDefinition;
  history: ExecutionHistory;
  execution: ExecutionInfo;
  region: string;
  tasks: TaskInvoker;
  limits?: RunnerLimits | undefined;
}

/** How an execution ended; `prev` is the event its closing event follows. */
export type Finish =
  | { status: 'SUCCEEDED'; output: unknown; prev: number }
  | { status: 'FAILED'; error?: string; cause?: string; prev: number }
  | { status: 'ABORTED' | 'TIMED_OUT' };

/** Yield to I/O every so many transitions, so a long loop of quick states cannot starve the endpoint. */
const TRANSITIONS_PER_YIELD = 64;

export class Runner implements KindHost {
  readonly history: ExecutionHistory;
  private readonly top = new Thread(0);
  private readonly machineLanguage: QueryLanguage;
  private stopped: 'ABORTED' | 'TIMED_OUT' | undefined;
  private transitions = 0;

  constructor(private readonly o: RunnerOptions) {
    this.history = o.history;
    this.machineLanguage = o.definition.QueryLanguage ?? 'JSONPath';
  }

  /** Stops the execution: nothing more is recorded, waits end, results still in flight are dropped. */
  stop(status: 'ABORTED' | 'TIMED_OUT' = 'ABORTED'): void {
    this.stopped ??= status;
    this.top.kill();
  }

  async run(input: unknown): Promise<Finish> {
    const limit = this.o.definition.TimeoutSeconds;
    const timer = limit ? setTimeout(() => this.stop('TIMED_OUT'), limit * 1000) : undefined;
    try {
      const output = await this.runStates(this.o.definition, input, new VariableScope(), this.top);
      if (this.stopped) return { status: this.stopped };
      return { status: 'SUCCEEDED', output, prev: this.top.last };
    } catch (err) {
      if (this.stopped) return { status: this.stopped };
      const e = err instanceof StatesError ? err : runtimeError((err as Error).message);
      return { status: 'FAILED', ...e.info(), prev: this.top.last };
    } finally {
      clearTimeout(timer);
    }
  }

  record(thread: Thread, add: (prev: number) => number): number {
    if (thread.dead || thread.signal.aborted) throw new StoppedError();
    thread.last = add(thread.last);
    return thread.last;
  }

  async runStates(branch: AslBranch, input: unknown, scope: VariableScope, thread: Thread): Promise<unknown> {
    let name = branch.StartAt;
    let value = input;
    for (;;) {
      const state = branch.States[name];
      if (!state) throw runtimeError(`The state '${name}' does not exist`);
      const outcome = await this.runState(name, state, value, scope, thread);
      if (outcome.next === undefined) return outcome.output;
      name = outcome.next;
      value = outcome.output;
      if (++this.transitions % TRANSITIONS_PER_YIELD === 0) await yieldToEventLoop();
    }
  }

  private async runState(
    name: string,
    state: AslState,
    input: unknown,
    variables: VariableScope,
    thread: Thread,
  ): Promise<Outcome> {
    const enteredPrev = thread.last;
    const enteredId = this.record(thread, (prev) => this.history.stateEntered(state.Type, name, input, prev));
    const enteredTime = new Date().toISOString();
    thread.running = { type: state.Type, name };
    const frame: Frame = {
      name,
      state,
      language: LANGUAGES[languageOf(state, this.machineLanguage)],
      input,
      variables,
      thread,
      enteredId,
      retryCount: 0,
      context: (mapItem) =>
        contextObject(this.o.execution, {
          name,
          enteredTime,
          retryCount: state.Type === 'Task' ? frame.retryCount : undefined,
          mapItem,
        }),
    };
    const kind = KINDS[state.Type];
    if (!kind) throw runtimeError(`The state type '${state.Type}' is not supported`);
    const attempts = (state.Retry ?? []).map(() => 0);
    for (;;) {
      let failure: StatesError;
      try {
        const outcome = await kind.run(frame, this);
        this.exit(frame, outcome);
        return outcome;
      } catch (err) {
        if (err instanceof StoppedError || this.stopped)
          throw err instanceof StoppedError ? err : new StoppedError();
        failure = this.place(frame, err, enteredPrev);
      }
      if (!failure.terminal) {
        const retry = this.retrier(state.Retry ?? [], attempts, failure);
        if (retry !== undefined) {
          STARTED.delete(frame);
          await this.sleepUntil(Date.now() + retry, thread.signal);
          frame.retryCount++;
          continue;
        }
        const catcher = (state.Catch ?? []).find((c) => matches(c.ErrorEquals, failure));
        if (catcher) {
          this.failed(frame, failure);
          let produced: Awaited<ReturnType<typeof frame.language.caught>>;
          try {
            produced = await frame.language.caught(frame, catcher, failure.errorOutput());
          } catch (err) {
            throw this.place(frame, err, enteredPrev);
          }
          const outcome = { ...produced, next: catcher.Next };
          this.exit(frame, outcome);
          return outcome;
        }
      }
      this.failed(frame, failure);
      throw failure;
    }
  }

  /** Exit: the StateExited event (with the variables assigned), then the variables take effect. */
  private exit(f: Frame, outcome: Outcome): void {
    const tooLarge = this.o.limits?.stateOutput?.(f.name, outcome.output);
    if (tooLarge) throw tooLarge;
    this.record(f.thread, (prev) =>
      this.history.stateExited(f.state.Type, f.name, outcome.output, outcome.assigned, prev),
    );
    f.thread.running = undefined;
    if (outcome.assigned) f.variables.assign(outcome.assigned);
  }

  /**
   * Words a state's own error as AWS does, and records EvaluationFailed for a JSONata failure. It
   * follows the event before the state was entered (a Wait state's: the entry itself), as AWS
   * records it, unless the state already recorded work of its own.
   */
  private place(f: Frame, err: unknown, enteredPrev: number): StatesError {
    const raw = err instanceof StatesError ? err : runtimeError((err as Error).message);
    if (raw.placed) return raw;
    const e = inState(f.name, f.enteredId, raw);
    if (e.name === 'States.QueryEvaluationError') {
      const prev = f.state.Type === 'Wait' || f.thread.last !== f.enteredId ? f.thread.last : enteredPrev;
      this.record(f.thread, () =>
        this.history.evaluationFailed(
          { error: e.name, cause: e.message, location: e.location, state: f.name },
          prev,
        ),
      );
    }
    return e;
  }

  /**
   * MapStateFailed/ParallelStateFailed: recorded once the state started its children, or for a
   * JSONata evaluation failure; a States.Runtime error before MapStateStarted ends the execution
   * with no such event, as AWS records an invalid MaxConcurrencyPath.
   */
  private failed(f: Frame, e: StatesError): void {
    if (f.state.Type !== 'Map' && f.state.Type !== 'Parallel') return;
    if (!STARTED.has(f) && e.name !== 'States.QueryEvaluationError') return;
    this.record(f.thread, (prev) => this.history.bare(`${f.state.Type}StateFailed`, prev));
  }

  /**
   * The delay before the next attempt when a retrier matches and has attempts left: IntervalSeconds
   * times BackoffRate per attempt made, capped by MaxDelaySeconds, FULL jitter drawing from zero to it.
   */
  private retrier(retriers: Retrier[], attempts: number[], e: StatesError): number | undefined {
    const i = retriers.findIndex((r) => matches(r.ErrorEquals, e));
    const r = retriers[i];
    if (!r) return undefined;
    const made = attempts[i] ?? 0;
    if (made >= (r.MaxAttempts ?? 3)) return undefined;
    attempts[i] = made + 1;
    let delay = (r.IntervalSeconds ?? 1) * (r.BackoffRate ?? 2) ** made;
    if (r.MaxDelaySeconds !== undefined) delay = Math.min(delay, r.MaxDelaySeconds);
    if (r.JitterStrategy === 'FULL') delay *= Math.random();
    return delay * 1000;
  }

  sleepUntil(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new StoppedError());
      const onAbort = () => {
        clearTimeout(timer);
        reject(new StoppedError());
      };
      const timer = setTimeout(
        () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms - Date.now()),
      );
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** One attempt of a Task: Scheduled, Started, (Submitted), then Succeeded, Failed or TimedOut. */
  async runTask(f: Frame): Promise<unknown> {
    const resource = String(f.state.Resource);
    const input = await f.language.taskInput(f);
    const timeout = await f.language.timeoutSeconds(f);
    const inputTooLarge = this.o.limits?.taskInput?.(f.name, input);
    if (inputTooLarge) throw inputTooLarge;
    this.record(f.thread, (prev) =>
      this.history.taskScheduled(resource, input, timeout, this.o.region, prev),
    );
    let result: unknown;
    try {
      result = await this.invoke(resource, input, timeout, f.thread);
    } catch (err) {
      if (err instanceof StoppedError) throw err;
      const timedOut = err instanceof TaskTimeout;
      const e = timedOut
        ? new StatesError('States.Timeout', undefined, { placed: true })
        : new StatesError((err as Error).name || 'States.TaskFailed', (err as Error).message, {
            placed: true,
          });
      this.record(f.thread, (prev) => this.history.taskFailed(resource, e.info(), timedOut, prev));
      throw e;
    }
    const tooLarge = this.o.limits?.taskResult?.(resource, result);
    if (tooLarge) throw tooLarge;
    this.record(f.thread, (prev) => this.history.taskSucceeded(resource, result, prev));
    return result;
  }

  private invoke(
    resource: string,
    input: unknown,
    timeout: number | undefined,
    thread: Thread,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const signal = thread.signal;
      if (signal.aborted) return reject(new StoppedError());
      const onAbort = () => reject(new StoppedError());
      const timer = timeout ? setTimeout(() => reject(new TaskTimeout()), timeout * 1000) : undefined;
      signal.addEventListener('abort', onAbort, { once: true });
      const submitted = (output: unknown) => {
        if (!thread.dead && !signal.aborted)
          this.record(thread, (prev) => this.history.taskSubmitted(resource, output, prev));
      };
      this.o.tasks
        .invoke(resource, input, submitted)
        .then(resolve, reject)
        .finally(() => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
        });
    });
  }

  runMap(f: Frame): Promise<unknown[]> {
    return runMap(this, f);
  }

  runParallel(f: Frame): Promise<unknown[]> {
    return runParallel(this, f);
  }
}

class TaskTimeout extends Error {
  constructor() {
    super('timed out');
    this.name = 'TaskTimeout';
  }
}

/**
 * Whether a Retrier's or Catcher's ErrorEquals names the error. States.ALL matches any;
 * States.TaskFailed any but States.Timeout
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
 */
export function matches(errorEquals: string[], e: StatesError): boolean {
  return errorEquals.some(
    (name) =>
      name === 'States.ALL' ||
      name === e.name ||
      (name === 'States.TaskFailed' && e.name !== 'States.Timeout'),
  );
}
