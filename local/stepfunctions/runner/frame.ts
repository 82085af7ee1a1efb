/**
 * What one state attempt works with: its definition, input, variables, the thread of history it
 * records into, and the Context object. Shared by the state kinds and the two query languages.
 */
import { setMaxListeners } from 'node:events';
import type { AslState, Catcher } from './definition';
import type { VariableScope } from './scope';

/**
 * One line of events in the history: the execution, a Map iteration or a Parallel branch. Each
 * event's previousEventId is the event before it in its thread (AWS's causal order, not the
 * global one); a thread cut short by a failure elsewhere records nothing more.
 */
export class Thread {
  /** The id of the thread's latest event. */
  last: number;
  /** The state in progress, if any, so a failure elsewhere can record it aborted. */
  running: { type: string; name: string } | undefined;
  dead = false;
  readonly abort = new AbortController();
  /** Stops following the parent's abort (see detach). */
  private unfollow: (() => void) | undefined;

  constructor(last: number, parent?: AbortSignal) {
    this.last = last;
    // Each iteration of a Map in flight follows this signal (as many at once as MaxConcurrency
    // allows, each removed when its iteration ends): many listeners here are not a leak.
    setMaxListeners(0, this.abort.signal);
    if (parent) {
      if (parent.aborted) this.abort.abort(parent.reason);
      else {
        const follow = () => this.abort.abort(parent.reason);
        parent.addEventListener('abort', follow, { once: true });
        this.unfollow = () => parent.removeEventListener('abort', follow);
      }
    }
  }

  /**
   * A finished thread stops listening to its parent's signal, so a Map of thousands of
   * iterations leaves no listener per iteration behind on the Map's thread.
   */
  detach(): void {
    this.unfollow?.();
    this.unfollow = undefined;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Cuts the thread short: it records nothing more and its waits end. */
  kill(): void {
    this.dead = true;
    this.abort.abort('branch aborted');
  }
}

/** A state's result once it is done: its output, where to go, what it assigned. */
export interface Outcome {
  output: unknown;
  /** The next state; undefined at the end of the branch. */
  next: string | undefined;
  assigned?: Record<string, unknown> | undefined;
}

/** The output and assignments a state (or a Catcher) produces. */
export interface Produced {
  output: unknown;
  assigned: Record<string, unknown> | undefined;
}

export interface Frame {
  name: string;
  state: AslState;
  language: Language;
  /** The state's input as it arrived. */
  input: unknown;
  variables: VariableScope;
  thread: Thread;
  enteredId: number;
  /** Retries made so far ($$.State.RetryCount of a Task). */
  retryCount: number;
  /** The Context object, optionally with the current Map item. */
  context(mapItem?: { index: number; value: unknown }): Record<string, unknown>;
}

/** A Map's iterations to run: the items, how many at once, and each one's input. */
export interface MapPlan {
  items: unknown[];
  maxConcurrency: number;
  itemInput(index: number, item: unknown): Promise<unknown>;
}

/**
 * A query language: how a state turns its input into the work's input and the work's result into
 * its output and variables. JSONPath (InputPath, Parameters, ResultSelector, ResultPath,
 * OutputPath) and JSONata (Arguments, Output) are the two implementations.
 */
export interface Language {
  readonly name: 'JSONPath' | 'JSONata';
  /** A Task's request (Parameters/Arguments). */
  taskInput(f: Frame): Promise<unknown>;
  /** TimeoutSeconds (or TimeoutSecondsPath); undefined when the state has none. */
  timeoutSeconds(f: Frame): Promise<number | undefined>;
  /** What every Parallel branch starts with. */
  branchInput(f: Frame): Promise<unknown>;
  /** A Map's items, concurrency and per-item input (ItemSelector). */
  mapPlan(f: Frame): Promise<MapPlan>;
  /** When a Wait state ends, as epoch milliseconds. */
  waitUntil(f: Frame): Promise<number>;
  /** A Fail state's Error and Cause (either may be absent). */
  failure(f: Frame): Promise<{ error: string | undefined; cause: string | undefined }>;
  /** A Choice state's decision: the matching rule's Next (or Default) with its output. */
  choose(f: Frame): Promise<Produced & { next: string | undefined }>;
  /** Output and Assign after the work; `result` is absent for states that do no work. */
  finish(f: Frame, result?: { value: unknown }): Promise<Produced>;
  /** A Catcher's output and Assign for a caught error. */
  caught(f: Frame, catcher: Catcher, errorOutput: { Error: string; Cause: string }): Promise<Produced>;
}
