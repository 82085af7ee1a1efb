/**
 * Errors a state machine raises while it runs, named as Retry and Catch match them
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
 */
import { LocalCloudError } from '../../errors';

export interface StatesErrorOptions {
  /** No Retry or Catch sees it: States.Runtime and States.DataLimitExceeded end the execution. */
  terminal?: boolean | undefined;
  /** Where a JSONata expression failed (`Output/result`), for States.QueryEvaluationError. */
  location?: string | undefined;
  /**
   * Already worded for the history: a Task's or a Fail state's own error, or one that came out of
   * a Map iteration or Parallel branch. Errors of the state's own evaluation are not, and get
   * "An error occurred while executing the state ..." in front.
   */
  placed?: boolean | undefined;
}

/**
 * A failed state: `name` is the ASL error name (`States.Runtime`, `States.TaskFailed`, a Lambda
 * handler's error type...), `message` its cause. Either may be absent, as AWS records a Fail
 * state without Error or Cause, or a Task timeout without a cause.
 */
export class StatesError extends LocalCloudError {
  readonly terminal: boolean;
  readonly location: string | undefined;
  readonly placed: boolean;
  readonly hasError: boolean;
  readonly hasCause: boolean;

  constructor(name: string | undefined, cause: string | undefined, opts: StatesErrorOptions = {}) {
    super(cause ?? '');
    this.name = name ?? '';
    this.hasError = name !== undefined;
    this.hasCause = cause !== undefined;
    this.terminal = opts.terminal ?? false;
    this.location = opts.location;
    this.placed = opts.placed ?? false;
  }

  /** The `{Error, Cause}` object a Catcher hands on ($states.errorOutput, a caught output). */
  errorOutput(): { Error: string; Cause: string } {
    return { Error: this.name, Cause: this.message };
  }

  /** The error and cause an ExecutionFailed event (and DescribeExecution) shows. */
  info(): { error?: string; cause?: string } {
    return {
      ...(this.hasError ? { error: this.name } : {}),
      ...(this.hasCause ? { cause: this.message } : {}),
    };
  }
}

/**
 * A problem in the state's own data (a path that points nowhere, a value of the wrong type). AWS
 * reports it as States.Runtime, which no Catcher matches, not even one naming it
 * ("States.ALL ... can't catch ... Runtime"; a Catcher on States.Runtime is skipped too).
 */
export function runtimeError(message: string): StatesError {
  return new StatesError('States.Runtime', message, { terminal: true });
}

/** A JSONata expression that failed or returned no usable value (catchable, unlike Runtime). */
export function queryError(message: string, location?: string): StatesError {
  return new StatesError('States.QueryEvaluationError', message, { location });
}

/**
 * AWS prefixes every error a state's own evaluation raises with where it happened:
 * "An error occurred while executing the state 'X' (entered at the event id #2). ...".
 */
export function inState(stateName: string, enteredEventId: number, err: StatesError): StatesError {
  if (err.placed) return err;
  const cause = `An error occurred while executing the state '${stateName}' (entered at the event id #${enteredEventId}). ${err.message}`;
  return new StatesError(err.name, cause, { terminal: err.terminal, location: err.location, placed: true });
}

/** Unwinds a thread whose execution was stopped, timed out, or whose Map/Parallel failed elsewhere. */
export class StoppedError extends LocalCloudError {
  constructor() {
    super('stopped');
    this.name = 'StoppedError';
  }
}

/** A value as AWS quotes it in messages: strings as they are, anything else as JSON. */
export function quoted(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}
