/**
 * GetExecutionHistory's events, as AWS records them
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html). The
 * runner says what happened and which event led to it (`previousEventId`); this file knows each
 * event's type and details. Pure: no store, no clock beyond the timestamps it is handed.
 */

/** One AWS-shaped history event (GetExecutionHistory). */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: Date;
  type: string;
  [details: string]: unknown;
}

/** What a state's failure or a stopped execution says. */
export interface ErrorInfo {
  error?: string | null | undefined;
  cause?: string | null | undefined;
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

const json = (v: unknown): string => JSON.stringify(v ?? null);
const noTruncation = { truncated: false };
const errorDetails = (e: ErrorInfo) => ({
  ...(e.error ? { error: e.error } : {}),
  ...(e.cause ? { cause: e.cause } : {}),
});

/** The growing history of one execution. */
export class ExecutionHistory {
  readonly events: HistoryEvent[];
  /** Told of every event as it is added (the history quota counts them). */
  onEvent: ((event: HistoryEvent) => void) | undefined;

  constructor(events: HistoryEvent[] = []) {
    this.events = events;
  }

  /** Reads a stored history (timestamps as ISO strings or epoch ms). */
  static parse(text: string | null): ExecutionHistory {
    const raw = text ? (JSON.parse(text) as (HistoryEvent & { timestamp: string | number })[]) : [];
    return new ExecutionHistory(raw.map((e) => ({ ...e, timestamp: new Date(e.timestamp) })));
  }

  /** Adds an event; `prev` is the event that led to it (the one before it when not given). */
  push(type: string, details: Record<string, unknown> = {}, prev?: number, at: number = Date.now()): number {
    const id = this.events.length + 1;
    const ev: HistoryEvent = {
      id,
      previousEventId: prev ?? id - 1,
      timestamp: new Date(at),
      type,
      ...details,
    };
    this.events.push(ev);
    this.onEvent?.(ev);
    return id;
  }

  toJSON(): HistoryEvent[] {
    return this.events;
  }

  started(input: string, roleArn: string, at: number): void {
    this.push(
      'ExecutionStarted',
      { executionStartedEventDetails: { input, inputDetails: noTruncation, roleArn } },
      0,
      at,
    );
  }

  /**
   * The closing event for a final status. A stopped or timed-out execution's event follows no
   * state (previousEventId 0), as AWS records ExecutionAborted.
   */
  finished(
    status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED',
    r: { output?: string | null } & ErrorInfo,
    at: number,
    prev?: number,
  ): void {
    if (status === 'SUCCEEDED')
      this.push(
        'ExecutionSucceeded',
        { executionSucceededEventDetails: { output: r.output ?? 'null', outputDetails: noTruncation } },
        prev,
        at,
      );
    else if (status === 'FAILED')
      this.push('ExecutionFailed', { executionFailedEventDetails: errorDetails(r) }, prev, at);
    else if (status === 'TIMED_OUT')
      this.push('ExecutionTimedOut', { executionTimedOutEventDetails: errorDetails(r) }, prev ?? 0, at);
    else this.push('ExecutionAborted', { executionAbortedEventDetails: errorDetails(r) }, prev ?? 0, at);
  }

  stateEntered(stateType: string, name: string, input: unknown, prev: number): number {
    return this.push(
      `${stateType}StateEntered`,
      { stateEnteredEventDetails: { name, input: json(input), inputDetails: noTruncation } },
      prev,
    );
  }

  /** `assigned`: the variables the state set, each as JSON text, as AWS lists them. */
  stateExited(
    stateType: string,
    name: string,
    output: unknown,
    assigned: Record<string, unknown> | undefined,
    prev: number,
  ): number {
    const vars = assigned && Object.keys(assigned).length > 0 ? assigned : undefined;
    return this.push(
      `${stateType}StateExited`,
      {
        stateExitedEventDetails: {
          name,
          output: json(output),
          outputDetails: noTruncation,
          ...(vars
            ? {
                assignedVariables: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, json(v)])),
                assignedVariablesDetails: noTruncation,
              }
            : {}),
        },
      },
      prev,
    );
  }

  /** A running state cut short: its Map iteration or Parallel branch failed elsewhere. */
  stateAborted(stateType: string, prev: number): number {
    return this.push(`${stateType}StateAborted`, {}, prev);
  }

  /** A JSONata field that failed (AWS's EvaluationFailed, with where it failed). */
  evaluationFailed(
    d: { error: string; cause: string; location: string | undefined; state: string },
    prev: number,
  ): number {
    return this.push(
      'EvaluationFailed',
      {
        evaluationFailedEventDetails: {
          error: d.error,
          cause: d.cause,
          ...(d.location ? { location: d.location } : {}),
          state: d.state,
        },
      },
      prev,
    );
  }

  mapStarted(length: number, prev: number): number {
    return this.push('MapStateStarted', { mapStateStartedEventDetails: { length } }, prev);
  }

  /** MapIterationStarted/Succeeded/Failed/Aborted. */
  mapIteration(
    kind: 'Started' | 'Succeeded' | 'Failed' | 'Aborted',
    name: string,
    index: number,
    prev: number,
  ): number {
    const type = `MapIteration${kind}`;
    return this.push(type, { [`mapIteration${kind}EventDetails`]: { name, index } }, prev);
  }

  /** MapStateSucceeded/Failed, ParallelStateStarted/Succeeded/Failed: events without details. */
  bare(type: string, prev: number): number {
    return this.push(type, {}, prev);
  }

  /** A Task's resource is about to run: `...Scheduled` then `...Started`; returns the latter's id. */
  taskScheduled(
    resource: string,
    parameters: unknown,
    timeoutSeconds: number | undefined,
    region: string,
    prev: number,
  ): number {
    const d = describeResource(resource);
    if (d.lambda) {
      const scheduled = this.push(
        'LambdaFunctionScheduled',
        {
          lambdaFunctionScheduledEventDetails: {
            resource,
            input: json(parameters),
            inputDetails: noTruncation,
            ...(timeoutSeconds ? { timeoutInSeconds: timeoutSeconds } : {}),
          },
        },
        prev,
      );
      return this.push('LambdaFunctionStarted', {}, scheduled);
    }
    const { resourceType, resource: res } = d;
    const scheduled = this.push(
      'TaskScheduled',
      {
        taskScheduledEventDetails: {
          resourceType,
          resource: res,
          region,
          parameters: json(parameters),
          ...(timeoutSeconds ? { timeoutInSeconds: timeoutSeconds } : {}),
        },
      },
      prev,
    );
    return this.push('TaskStarted', { taskStartedEventDetails: { resourceType, resource: res } }, scheduled);
  }

  /** A `.sync` integration's request went out (TaskSubmitted, with the API's answer). */
  taskSubmitted(resource: string, output: unknown, prev: number): number {
    const d = describeResource(resource);
    if (d.lambda) return prev;
    return this.push(
      'TaskSubmitted',
      {
        taskSubmittedEventDetails: {
          resourceType: d.resourceType,
          resource: d.resource,
          output: json(output),
          outputDetails: noTruncation,
        },
      },
      prev,
    );
  }

  taskSucceeded(resource: string, output: unknown, prev: number): number {
    const d = describeResource(resource);
    if (d.lambda)
      return this.push(
        'LambdaFunctionSucceeded',
        { lambdaFunctionSucceededEventDetails: { output: json(output), outputDetails: noTruncation } },
        prev,
      );
    return this.push(
      'TaskSucceeded',
      {
        taskSucceededEventDetails: {
          resourceType: d.resourceType,
          resource: d.resource,
          output: json(output),
          outputDetails: noTruncation,
        },
      },
      prev,
    );
  }

  /** The resource failed, or (`timedOut`) ran past TimeoutSeconds. */
  taskFailed(resource: string, e: ErrorInfo, timedOut: boolean, prev: number): number {
    const d = describeResource(resource);
    const kind = timedOut ? 'TimedOut' : 'Failed';
    if (d.lambda)
      return this.push(
        `LambdaFunction${kind}`,
        { [`lambdaFunction${kind}EventDetails`]: errorDetails(e) },
        prev,
      );
    return this.push(
      `Task${kind}`,
      {
        [`task${kind}EventDetails`]: {
          resourceType: d.resourceType,
          resource: d.resource,
          ...errorDetails(e),
        },
      },
      prev,
    );
  }
}
