/**
 * What each state type does once entered, one object per type over the same interface
 * (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-states.html). Entering, exiting,
 * Retry and Catch are the runner's; a kind returns its outcome or throws a StatesError.
 */
import { StatesError } from './errors';
import type { Frame, Outcome } from './frame';
import { passResult } from './languages';

/** Services a kind may use: sleeping, running a Task, running Map/Parallel children. */
export interface KindHost {
  /** Sleeps until `ms` (epoch), ending early (StoppedError) if the thread is stopped. */
  sleepUntil(ms: number, signal: AbortSignal): Promise<void>;
  /** Runs a Task's resource with its history events; returns the raw result. */
  runTask(f: Frame): Promise<unknown>;
  runMap(f: Frame): Promise<unknown[]>;
  runParallel(f: Frame): Promise<unknown[]>;
}

export interface StateKind {
  run(f: Frame, host: KindHost): Promise<Outcome>;
}

const next = (f: Frame) => (f.state.End ? undefined : f.state.Next);

const pass: StateKind = {
  async run(f) {
    const produced =
      f.language.name === 'JSONata'
        ? await f.language.finish(f)
        : await f.language.finish(f, { value: await passResult(f) });
    return { ...produced, next: next(f) };
  },
};

const task: StateKind = {
  async run(f, host) {
    const result = await host.runTask(f);
    return { ...(await f.language.finish(f, { value: result })), next: next(f) };
  },
};

const choice: StateKind = {
  async run(f) {
    return f.language.choose(f);
  },
};

const wait: StateKind = {
  async run(f, host) {
    await host.sleepUntil(await f.language.waitUntil(f), f.thread.signal);
    return { ...(await f.language.finish(f)), next: next(f) };
  },
};

const succeed: StateKind = {
  async run(f) {
    return { ...(await f.language.finish(f)), next: undefined };
  },
};

/** A Fail state ends its branch with its Error and Cause, either of which may be absent. */
const fail: StateKind = {
  async run(f) {
    const { error, cause } = await f.language.failure(f);
    throw new StatesError(error, cause, { placed: true });
  },
};

const map: StateKind = {
  async run(f, host) {
    const results = await host.runMap(f);
    return { ...(await f.language.finish(f, { value: results })), next: next(f) };
  },
};

const parallel: StateKind = {
  async run(f, host) {
    const results = await host.runParallel(f);
    return { ...(await f.language.finish(f, { value: results })), next: next(f) };
  },
};

export const KINDS: Record<string, StateKind> = {
  Pass: pass,
  Task: task,
  Choice: choice,
  Wait: wait,
  Succeed: succeed,
  Fail: fail,
  Map: map,
  Parallel: parallel,
};
