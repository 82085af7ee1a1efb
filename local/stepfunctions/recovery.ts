/**
 * What a restart does with the executions a crash interrupted. Every one is marked FAILED; an
 * execution of a machine that declares its steps idempotent (by a tag the host names) is also
 * started again from the beginning with the same input, under a name that says which attempt
 * it is.
 */
export interface RecoveryOptions {
  /** Machines tagged with this key and the value `true` have interrupted executions rerun. */
  rerunTag?: string | undefined;
  /** How often one execution is started again before it is left failed (default 3). */
  maxReruns?: number | undefined;
}

export const DEFAULT_MAX_RERUNS = 3;

const EXECUTION_NAME_MAX = 80;

/**
 * The name of the next attempt: `<name>-rerun-1`, then `<name>-rerun-2` for a rerun that was
 * itself interrupted, and so on; undefined once `max` attempts have been made, so an execution
 * that crashes the cloud every time cannot restart forever. The base is shortened when the
 * suffix would pass Step Functions' 80-character limit.
 */
export function rerunName(name: string, max: number = DEFAULT_MAX_RERUNS): string | undefined {
  const m = /^(.*)-rerun-(\d+)$/.exec(name);
  const base = m?.[1] ?? name;
  const attempt = m?.[2] ? Number(m[2]) + 1 : 1;
  if (attempt > max) return undefined;
  const suffix = `-rerun-${attempt}`;
  return `${base.slice(0, EXECUTION_NAME_MAX - suffix.length)}${suffix}`;
}
