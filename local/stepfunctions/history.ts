/**
 * GetExecutionHistory's events, built from aws-local-stepfunctions' event log plus what the Task
 * dispatcher reports. Pure: no store, no clock beyond the timestamps it is handed.
 */

/** One AWS-shaped history event (GetExecutionHistory). */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: Date;
  type: string;
  [details: string]: unknown;
}

/** The parts of an ASL state the history needs. */
export interface AslState {
  Type: string;
  Resource?: unknown;
  TimeoutSeconds?: number;
  InputPath?: string | null;
  ItemsPath?: string;
  ItemProcessor?: { States: Record<string, AslState> };
  Iterator?: { States: Record<string, AslState> };
  Branches?: { States: Record<string, AslState> }[];
}

/** An event as aws-local-stepfunctions' `eventLogs` yields it (the fields we read). */
export interface RunnerEvent {
  type: string;
  timestamp: number;
  state?: { name: string; type: string; input: unknown; output?: unknown };
  index?: number;
  parentState?: { name: string; type?: string };
  Error?: string;
  Cause?: unknown;
}

/** Every state of a definition by name, nested Map/Parallel states included (names are unique). */
export function statesByName(def: { States: Record<string, unknown> }): Map<string, AslState> {
  const out = new Map<string, AslState>();
  const walk = (states: Record<string, AslState>) => {
    for (const [name, s] of Object.entries(states)) {
      out.set(name, s);
      for (const inner of [s.ItemProcessor, s.Iterator, ...(s.Branches ?? [])]) if (inner) walk(inner.States);
    }
  };
  walk(def.States as Record<string, AslState>);
  return out;
}

/**
 * `$`, `$.a.b`, `$.a[0]`, `$['a']` against a value; undefined for anything else (filters,
 * wildcards, context paths), so callers can leave out what they cannot compute.
 */
export function selectPath(value: unknown, path: string): unknown {
  if (path === '$') return value;
  if (!path.startsWith('$')) return undefined;
  const steps = path.slice(1).match(/\.[A-Za-z0-9_-]+|\[\d+\]|\['[^']*'\]/g);
  if (!steps || steps.join('') !== path.slice(1)) return undefined;
  let cur: unknown = value;
  for (const step of steps) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const key = step.startsWith('.')
      ? step.slice(1)
      : step.startsWith("['")
        ? step.slice(2, -2)
        : step.slice(1, -1);
    cur = Array.isArray(cur) && /^\d+$/.test(key) ? cur[Number(key)] : (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/**
 * How a Task resource shows in the history. A bare function ARN is Step Functions' original
 * Lambda integration and logs `LambdaFunction*` events; every `arn:aws:states:::` resource logs
 * `Task*` events with `resourceType` (`lambda`, `aws-sdk:secretsmanager`, `states`...) and
 * `resource` (`invoke`, `describeSecret`, `startExecution.sync:2`...).
 */
export function describeResource(
  resource: string,
): { lambda: true } | { lambda: false; resourceType: string; resource: string } {
  if (resource.startsWith('arn:aws:lambda:')) return { lambda: true };
  const m = /^arn:aws:states:::(aws-sdk:[a-z0-9]+|[a-z0-9]+):(.+)$/.exec(resource);
  return m?.[1] && m[2]
    ? { lambda: false, resourceType: m[1], resource: m[2] }
    : { lambda: false, resourceType: 'unknown', resource };
}

/** State type -> the prefix of its `...StateEntered`/`...StateExited` events. */
const PREFIX: Record<string, string> = {
  Task: 'Task',
  Pass: 'Pass',
  Choice: 'Choice',
  Wait: 'Wait',
  Succeed: 'Succeed',
  Fail: 'Fail',
  Map: 'Map',
  Parallel: 'Parallel',
};

const json = (v: unknown): string => JSON.stringify(v ?? null);
const noTruncation = { truncated: false };

/** The growing history of one execution. */
export class ExecutionHistory {
  readonly events: HistoryEvent[];

  constructor(events: HistoryEvent[] = []) {
    this.events = events;
  }

  /** Reads a stored history (timestamps as ISO strings or epoch ms). */
  static parse(text: string | null): ExecutionHistory {
    const raw = text ? (JSON.parse(text) as (HistoryEvent & { timestamp: string | number })[]) : [];
    return new ExecutionHistory(raw.map((e) => ({ ...e, timestamp: new Date(e.timestamp) })));
  }

  push(type: string, details: Record<string, unknown> = {}, at: number = Date.now()): HistoryEvent {
    const id = this.events.length + 1;
    const ev: HistoryEvent = { id, previousEventId: id - 1, timestamp: new Date(at), type, ...details };
    this.events.push(ev);
    return ev;
  }

  toJSON(): HistoryEvent[] {
    return this.events;
  }

  started(input: string, roleArn: string, at: number): void {
    this.push(
      'ExecutionStarted',
      { executionStartedEventDetails: { input, inputDetails: noTruncation, roleArn } },
      at,
    );
  }

  /** The closing event for a final status. */
  finished(
    status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED',
    r: { output?: string | null; error?: string | null; cause?: string | null },
    at: number,
  ): void {
    const ec = { ...(r.error ? { error: r.error } : {}), ...(r.cause ? { cause: r.cause } : {}) };
    if (status === 'SUCCEEDED')
      this.push(
        'ExecutionSucceeded',
        { executionSucceededEventDetails: { output: r.output ?? 'null', outputDetails: noTruncation } },
        at,
      );
    else if (status === 'FAILED') this.push('ExecutionFailed', { executionFailedEventDetails: ec }, at);
    else if (status === 'TIMED_OUT')
      this.push('ExecutionTimedOut', { executionTimedOutEventDetails: ec }, at);
    else this.push('ExecutionAborted', { executionAbortedEventDetails: ec }, at);
  }

  /** A Task's resource is about to run (scheduled + started). */
  taskScheduled(
    resource: string,
    parameters: unknown,
    timeoutSeconds: number | undefined,
    region: string,
  ): void {
    const d = describeResource(resource);
    if (d.lambda) {
      this.push('LambdaFunctionScheduled', {
        lambdaFunctionScheduledEventDetails: {
          resource,
          input: json(parameters),
          inputDetails: noTruncation,
          ...(timeoutSeconds ? { timeoutInSeconds: timeoutSeconds } : {}),
        },
      });
      this.push('LambdaFunctionStarted');
      return;
    }
    const { resourceType, resource: res } = d;
    this.push('TaskScheduled', {
      taskScheduledEventDetails: {
        resourceType,
        resource: res,
        region,
        parameters: json(parameters),
        ...(timeoutSeconds ? { timeoutInSeconds: timeoutSeconds } : {}),
      },
    });
    this.push('TaskStarted', { taskStartedEventDetails: { resourceType, resource: res } });
  }

  taskSucceeded(resource: string, output: unknown): void {
    const d = describeResource(resource);
    if (d.lambda)
      this.push('LambdaFunctionSucceeded', {
        lambdaFunctionSucceededEventDetails: { output: json(output), outputDetails: noTruncation },
      });
    else
      this.push('TaskSucceeded', {
        taskSucceededEventDetails: {
          resourceType: d.resourceType,
          resource: d.resource,
          output: json(output),
          outputDetails: noTruncation,
        },
      });
  }

  taskFailed(resource: string, error: string, cause: string, timedOut = false): void {
    const d = describeResource(resource);
    if (d.lambda) {
      const type = timedOut ? 'LambdaFunctionTimedOut' : 'LambdaFunctionFailed';
      const key = timedOut ? 'lambdaFunctionTimedOutEventDetails' : 'lambdaFunctionFailedEventDetails';
      this.push(type, { [key]: { error, cause } });
    } else {
      const type = timedOut ? 'TaskTimedOut' : 'TaskFailed';
      const key = timedOut ? 'taskTimedOutEventDetails' : 'taskFailedEventDetails';
      this.push(type, { [key]: { resourceType: d.resourceType, resource: d.resource, error, cause } });
    }
  }

  /**
   * Maps one runner event to AWS's: `StateEntered` of a Map -> `MapStateEntered` +
   * `MapStateStarted {length}`, its exit -> `MapStateSucceeded` + `MapStateExited`, and so on.
   * A Task that times out in the runner never returns to the dispatcher, so its timeout is
   * recorded here.
   */
  record(e: RunnerEvent, states: ReadonlyMap<string, AslState>): void {
    const s = e.state;
    const prefix = s ? (PREFIX[s.type] ?? s.type) : '';
    const at = e.timestamp;
    if (e.type === 'StateEntered' && s) {
      this.push(
        `${prefix}StateEntered`,
        { stateEnteredEventDetails: { name: s.name, input: json(s.input), inputDetails: noTruncation } },
        at,
      );
      if (s.type === 'Map') {
        const def = states.get(s.name);
        const input =
          def?.InputPath === undefined
            ? s.input
            : def.InputPath === null
              ? {}
              : selectPath(s.input, def.InputPath);
        const items = def?.ItemsPath ? selectPath(input, def.ItemsPath) : input;
        this.push(
          'MapStateStarted',
          Array.isArray(items) ? { mapStateStartedEventDetails: { length: items.length } } : {},
          at,
        );
      } else if (s.type === 'Parallel') {
        this.push('ParallelStateStarted', {}, at);
      }
    } else if (e.type === 'StateExited' && s) {
      if (s.type === 'Map') this.push('MapStateSucceeded', {}, at);
      else if (s.type === 'Parallel') this.push('ParallelStateSucceeded', {}, at);
      this.push(
        `${prefix}StateExited`,
        { stateExitedEventDetails: { name: s.name, output: json(s.output), outputDetails: noTruncation } },
        at,
      );
    } else if (e.type === 'StateFailed' && s) {
      if (s.type === 'Map') this.push('MapStateFailed', {}, at);
      else if (s.type === 'Parallel') this.push('ParallelStateFailed', {}, at);
      else if (s.type === 'Task' && e.Error === 'States.Timeout') {
        const def = states.get(s.name);
        this.taskFailed(String(def?.Resource ?? ''), 'States.Timeout', causeText(e.Cause), true);
      }
    } else if (e.type.startsWith('MapIteration') && e.parentState) {
      const key = `${e.type.charAt(0).toLowerCase()}${e.type.slice(1)}EventDetails`;
      this.push(e.type, { [key]: { name: e.parentState.name, index: e.index ?? 0 } }, at);
    }
  }
}

function causeText(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return typeof cause === 'string' ? cause : JSON.stringify(cause ?? '');
}
