/**
 * What one handler invocation cost in AWS calls: how many Secrets Manager requests it sent and
 * how many of them AWS throttled (each a retry the SDK made, or the error that ended the call).
 * The fleet reads the throttling that rotations met to slow down before anything fails.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export interface CallStats {
  /** Requests sent, retries included. */
  calls: number;
  /** Requests answered with ThrottlingException. */
  throttled: number;
}

const current = new AsyncLocalStorage<CallStats>();

/** Runs `fn` with fresh call statistics; calls made anywhere inside count towards them. */
export function withCallStats<T>(fn: () => T): T {
  return current.run({ calls: 0, throttled: 0 }, fn);
}

/** The throttled requests of the running invocation so far (0 outside `withCallStats`). */
export function throttledSoFar(): number {
  return current.getStore()?.throttled ?? 0;
}

/** The statistics of the running invocation, if it keeps any. */
export function callStats(): CallStats | undefined {
  return current.getStore();
}

/**
 * Counts every attempt of every request the client sends. It sits in the `deserialize` step,
 * inside the SDK's retry loop, so each throttled attempt the SDK retries counts once.
 */
export function countCalls(client: SecretsManagerClient): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const stats = current.getStore();
      if (stats) stats.calls++;
      try {
        return await next(args);
      } catch (err) {
        if (stats && (err as { name?: string }).name === 'ThrottlingException') stats.throttled++;
        throw err;
      }
    },
    { step: 'deserialize', priority: 'high', name: 'credflowCallStats' },
  );
}
