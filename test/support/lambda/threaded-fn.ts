// A function for the registry's thread tests: each export is a handler doing one thing a real
// function might (answer, keep module state, throw a typed error, crash, hang, exhaust memory).
import { threadId } from 'node:worker_threads';

let calls = 0;

export async function describe(event: unknown, context: { functionName: string; memoryLimitInMB: string }) {
  calls += 1;
  return {
    event,
    threadId,
    calls,
    fromEnv: process.env['ONLY_IN_FN'] ?? null,
    functionName: context.functionName,
    memory: context.memoryLimitInMB,
  };
}

export async function typedError(): Promise<never> {
  throw Object.assign(new Error('the secret is malformed'), { name: 'ValidationError' });
}

export async function exit(): Promise<never> {
  setTimeout(() => process.exit(3), 10);
  return new Promise<never>(() => {});
}

export async function crashLater(): Promise<never> {
  setTimeout(() => {
    throw new Error('uncaught in a timer');
  }, 10);
  return new Promise<never>(() => {});
}

export async function hang(): Promise<never> {
  return new Promise<never>(() => {});
}

export async function hog(): Promise<number> {
  const keep: number[][] = [];
  for (;;) keep.push(new Array(1_000_000).fill(keep.length));
}

export const notAFunction = 42;

/** The whole process.env the function's thread sees. */
export async function environment(): Promise<Record<string, string | undefined>> {
  return { ...process.env };
}
