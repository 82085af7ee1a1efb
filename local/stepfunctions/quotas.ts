/**
 * Step Functions' execution quotas, checked where data crosses the service's boundary: the
 * execution input at StartExecution, a Task's input (after Parameters) and its result, each
 * state's output, and the number of history events. AWS documents them in "Step Functions
 * service quotas" (https://docs.aws.amazon.com/step-functions/latest/dg/limits-overview.html):
 * 256 KiB for the input or output of a task, state or execution (as UTF-8), 25,000 events in an
 * execution's history. Both fail the execution, and no Catch can stop that: "States.ALL ... cannot
 * catch the States.DataLimitExceeded terminal error" (concepts-error-handling), and a history at
 * its cap ends the execution with States.Runtime.
 */
import { AwsError } from '../http/errors';
import type { QuotaSettings } from '../quotas';

export const MAX_PAYLOAD_BYTES = 262_144;
export const MAX_HISTORY_EVENTS = 25_000;

/** Why an execution ended against a quota: its ExecutionFailed error and cause. */
export interface QuotaFailure {
  error: 'States.DataLimitExceeded' | 'States.Runtime';
  cause: string;
}

/** The UTF-8 size of a payload as Step Functions measures it (its JSON text). */
export function payloadBytes(value: unknown): number {
  return Buffer.byteLength(typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null'), 'utf8');
}

/** The checks one Step Functions service makes; `settings.limits` switches them. */
export class ExecutionQuotas {
  constructor(private readonly settings: QuotaSettings) {}

  get on(): boolean {
    return this.settings.limits;
  }

  /**
   * StartExecution's input: the API refuses it before any execution exists (the model's length
   * constraint on `input`, in AWS's ValidationException words).
   */
  checkStartInput(text: string): void {
    if (this.on && payloadBytes(text) > MAX_PAYLOAD_BYTES) {
      throw new AwsError(
        'ValidationException',
        `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${MAX_PAYLOAD_BYTES}`,
      );
    }
  }

  /** A Task's result (or a state's output) over 256 KiB; `what` is the state or the resource. */
  result(what: string, value: unknown): QuotaFailure | undefined {
    if (!this.on || payloadBytes(value) <= MAX_PAYLOAD_BYTES) return undefined;
    return {
      error: 'States.DataLimitExceeded',
      cause: `The state/task '${what}' returned a result with a size exceeding the maximum number of bytes service limit.`,
    };
  }

  /** A state's effective input (after InputPath and Parameters) over 256 KiB. */
  input(what: string, value: unknown): QuotaFailure | undefined {
    if (!this.on || payloadBytes(value) <= MAX_PAYLOAD_BYTES) return undefined;
    return {
      error: 'States.DataLimitExceeded',
      cause: `The state/task '${what}' has an input with a size exceeding the maximum number of bytes service limit.`,
    };
  }

  /**
   * The history at `events`: full when one more event would leave no room for the closing
   * ExecutionFailed, so a failed execution's history holds exactly 25,000 events.
   */
  history(events: number): QuotaFailure | undefined {
    if (!this.on || events < MAX_HISTORY_EVENTS - 1) return undefined;
    return {
      error: 'States.Runtime',
      cause: `The execution reached the maximum number of history events (${MAX_HISTORY_EVENTS}).`,
    };
  }
}
