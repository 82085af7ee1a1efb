/**
 * Map and Parallel: child threads of history under one state, each in a variable scope of its own.
 * When a child fails, AWS records the failure against the event that caused it (T): the failed
 * iteration (MapIterationFailed), the Task it was running (TaskStateAborted), every other iteration
 * still running (MapIterationAborted and its state aborted), all with previousEventId T; then the
 * state fails (or retries, or is caught) from T. When all succeed, the state's exit follows the
 * last child's end, after MapStateSucceeded for a Map (a Parallel records no ParallelStateSucceeded).
 * https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html,
 * https://docs.aws.amazon.com/step-functions/latest/dg/state-parallel.html
 */
import type { ExecutionHistory } from '../history';
import type { AslBranch } from './definition';
import { processorOf } from './definition';
import { StatesError, StoppedError } from './errors';
import { type Frame, Thread } from './frame';
import type { VariableScope } from './scope';

/** States a failure elsewhere records as aborted when they are in progress. */
const ABORTABLE = new Set(['Task', 'Wait', 'Map', 'Parallel']);

export interface ChildRunner {
  history: ExecutionHistory;
  /** Runs a branch of states to its end in `thread`, returning its output. */
  runStates(branch: AslBranch, input: unknown, scope: VariableScope, thread: Thread): Promise<unknown>;
  /** Adds an event in `thread` (unless it was cut short) and moves the thread on. */
  record(thread: Thread, add: (prev: number) => number): number;
}

/** Marks a Map or Parallel attempt as started, so its failure records `...StateFailed`. */
export const STARTED = new WeakSet<Frame>();

function asStatesError(err: unknown): StatesError {
  if (err instanceof StatesError) return err;
  return new StatesError('States.Runtime', (err as Error).message, { terminal: true, placed: true });
}

export async function runMap(host: ChildRunner, f: Frame): Promise<unknown[]> {
  const plan = await f.language.mapPlan(f);
  const processor = processorOf(f.state);
  if (!processor)
    throw new StatesError('States.Runtime', 'Map state has no ItemProcessor', { terminal: true });
  const { history } = host;
  const started = host.record(f.thread, (prev) => history.mapStarted(plan.items.length, prev));
  STARTED.add(f);
  const n = plan.items.length;
  const results: unknown[] = new Array(n);
  const active = new Map<number, Thread>();
  let nextIndex = 0;
  let done = 0;
  // The next iteration follows the last event of the one whose end made room for it.
  let cursor = started;
  let lastEnd = started;
  let failed = false;

  return new Promise<unknown[]>((resolve, reject) => {
    const fail = (err: unknown, index: number | undefined, thread: Thread | undefined) => {
      if (failed) return;
      failed = true;
      const e = asStatesError(err);
      if (index !== undefined && thread && e.placed) {
        const t = thread.last;
        history.mapIteration('Failed', f.name, index, t);
        if (thread.running?.type === 'Task') history.stateAborted('Task', t);
        for (const [j, other] of [...active].sort(([a], [b]) => a - b)) {
          if (j === index) continue;
          history.mapIteration('Aborted', f.name, j, t);
          if (other.running && ABORTABLE.has(other.running.type)) history.stateAborted(other.running.type, t);
        }
        f.thread.last = t;
      }
      for (const other of active.values()) other.kill();
      reject(e);
    };

    const launch = () => {
      while (!failed && active.size < plan.maxConcurrency && nextIndex < n) {
        const index = nextIndex++;
        if (f.thread.dead || f.thread.signal.aborted) return;
        // Iteration events hang off the Map's events without moving its own line on.
        const thread = new Thread(history.mapIteration('Started', f.name, index, cursor), f.thread.signal);
        active.set(index, thread);
        void (async () => {
          await iterate(index, thread);
          thread.detach();
        })();
      }
    };

    const iterate = async (index: number, thread: Thread): Promise<void> => {
      let input: unknown;
      try {
        input = await plan.itemInput(index, plan.items[index]);
      } catch (err) {
        // ItemSelector belongs to the Map state: its error is the Map's own.
        fail(err, undefined, undefined);
        return;
      }
      try {
        results[index] = await host.runStates(processor, input, f.variables.child(), thread);
      } catch (err) {
        if (err instanceof StoppedError || thread.dead) {
          if (!failed && f.thread.signal.aborted) reject(err);
          return;
        }
        fail(err, index, thread);
        return;
      }
      if (failed) return;
      active.delete(index);
      lastEnd = history.mapIteration('Succeeded', f.name, index, thread.last);
      cursor = thread.last;
      done++;
      if (done === n) {
        history.bare('MapStateSucceeded', lastEnd);
        f.thread.last = lastEnd;
        resolve(results);
      } else launch();
    };

    if (n === 0) {
      history.bare('MapStateSucceeded', started);
      resolve(results);
      return;
    }
    launch();
  });
}

export async function runParallel(host: ChildRunner, f: Frame): Promise<unknown[]> {
  const input = await f.language.branchInput(f);
  const { history } = host;
  const started = host.record(f.thread, (prev) => history.bare('ParallelStateStarted', prev));
  STARTED.add(f);
  const branches = f.state.Branches ?? [];
  const threads = branches.map(() => new Thread(started, f.thread.signal));
  const results: unknown[] = new Array(branches.length);
  const finished = new Set<number>();
  let failed = false;

  return new Promise<unknown[]>((resolve, reject) => {
    branches.forEach((branch, i) => {
      const thread = threads[i] as Thread;
      const run = host.runStates(branch, input, f.variables.child(), thread);
      void run.finally(() => thread.detach()).catch(() => {});
      void run.then(
        (output) => {
          if (failed) return;
          results[i] = output;
          finished.add(i);
          // AWS records no ParallelStateSucceeded: ParallelStateExited follows the last branch.
          if (finished.size === branches.length) {
            f.thread.last = thread.last;
            resolve(results);
          }
        },
        (err: unknown) => {
          if (failed) return;
          if (err instanceof StoppedError || thread.dead) {
            if (f.thread.signal.aborted) reject(err);
            return;
          }
          failed = true;
          const e = asStatesError(err);
          const t = thread.last;
          if (thread.running?.type === 'Task') history.stateAborted('Task', t);
          threads.forEach((other, j) => {
            if (j === i || finished.has(j)) return;
            if (other.running && ABORTABLE.has(other.running.type))
              history.stateAborted(other.running.type, t);
            other.kill();
          });
          f.thread.last = t;
          reject(e);
        },
      );
    });
    if (branches.length === 0) {
      f.thread.last = started;
      resolve(results);
    }
  });
}
