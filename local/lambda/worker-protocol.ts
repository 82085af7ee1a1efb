/** What a local Lambda function's worker thread and the cloud's thread say to each other. */
import { randomUUID } from 'node:crypto';
import type { LocalLambdaContext } from './registry';

/** What a worker is made with (its `workerData`). */
export interface WorkerInit {
  modulePath: string;
  exportName: string;
  functionName: string;
  arn: string;
  memoryMb: number;
}

/** An error as it crosses the thread boundary: Lambda's errorType (name) and errorMessage. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export type WorkerReply =
  | { id: number; ok: true; result: string }
  | { id: number; ok: false; error: SerializedError };

/** A thrown value as Lambda reports it: the error's name and message (a non-Error becomes one). */
export function serializeError(err: unknown, fallbackName = 'Error'): SerializedError {
  if (err instanceof Error) {
    const out: SerializedError = { name: err.name || fallbackName, message: err.message };
    if (err.stack) out.stack = err.stack;
    if (fallbackName !== 'Error' && out.name === 'Error') out.name = fallbackName;
    return out;
  }
  return {
    name: fallbackName,
    message: typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err)),
  };
}

/** The error a caller on the cloud's thread sees: same name and message as the handler threw. */
export function reviveError(e: SerializedError): Error {
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

/** The context one call of a function gets, on its thread or inline: Lambda's fields, its env. */
export function lambdaContext(
  fn: { functionName: string; arn: string; memoryMb: number },
  deadline: number,
  env: Readonly<Record<string, string>>,
): LocalLambdaContext {
  return {
    functionName: fn.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: fn.arn,
    memoryLimitInMB: String(fn.memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${fn.functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    env,
  };
}
