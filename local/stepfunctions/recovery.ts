import type { EventLog } from '../events/log';
import type { LocalLogger } from '../log';
import { type Executions, publishStatus } from './executions';
import { ExecutionHistory } from './history';
import type { StateMachineRow, StepFunctionsStore } from './store';

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

/** What recovery needs of Step Functions. */
export interface RecoveryHost {
  db: StepFunctionsStore;
  executions: Executions;
  events: EventLog;
  logger: LocalLogger;
}

/**
 * After a restart: executions that were RUNNING when the cloud died are marked FAILED
 * (error `States.Runtime`), not resumed; their history keeps every event stored before the
 * crash, closed by an ExecutionFailed whose cause names the restart. A Task may have half-run (a password changed on the
 * server but not yet stored), and re-running it from a guessed point could do it twice; only
 * the workflow's own repair path knows what a half-done step means. Failing emits the
 * status-change event that starts it (on-rotation-failure rolls a rotation forward or back).
 *
 * A machine tagged `opts.rerunTag` = `true` declares that its steps are idempotent (the repair
 * workflows): its interrupted executions are also started again from the beginning with the
 * same input as `<name>-rerun-<n>`, at most `opts.maxReruns` times. Marking one failed, its
 * event and its rerun are one transaction, so a crash during recovery loses none of them.
 * Returns how many executions were marked failed.
 */
export function recoverInterrupted(host: RecoveryHost, opts: RecoveryOptions = {}): number {
  const { db, executions } = host;
  let failed = 0;
  for (const r of db.runningExecutions()) {
    if (executions.isRunning(r.arn)) continue;
    const sm = db.machine(r.sm_arn);
    const rerun = sm ? rerunOf(host, sm, r.name, opts) : undefined;
    const stop = Date.now();
    const cause = `The local cloud stopped while this execution was running (local cloud restarted)${
      rerun ? `; started again as ${rerun}` : ''
    }`;
    // What ran before the crash: the first event (stored with the row) and every event stored
    // as it happened after it.
    const history = ExecutionHistory.parse(r.history);
    if (history.events.length === 0) history.started(r.input, '', r.start_ms);
    for (const text of db.historyEvents(r.arn)) {
      const e = ExecutionHistory.parse(`[${text}]`).events[0];
      if (e && e.id === history.events.length + 1) history.events.push(e);
    }
    history.finished('FAILED', { error: 'States.Runtime', cause }, stop);
    db.tx(() => {
      db.dropHistoryEvents(r.arn);
      db.finishExecution(r.arn, {
        status: 'FAILED',
        output: null,
        error: 'States.Runtime',
        cause,
        stopMs: stop,
        history: JSON.stringify(history),
      });
      if (!sm) return;
      publishStatus(host.events, sm, {
        arn: r.arn,
        name: r.name,
        status: 'FAILED',
        input: r.input,
        startMs: r.start_ms,
        stopMs: stop,
        output: null,
        error: 'States.Runtime',
        cause,
      });
      if (rerun) executions.startExecution({ stateMachineArn: sm.arn, name: rerun, input: r.input });
    });
    failed++;
    if (rerun) host.logger.info('interrupted execution started again', { executionArn: r.arn, rerun });
  }
  return failed;
}

/** The name an interrupted execution is rerun under, if its machine asks for reruns and attempts remain. */
function rerunOf(
  host: RecoveryHost,
  sm: StateMachineRow,
  name: string,
  opts: RecoveryOptions,
): string | undefined {
  if (!opts.rerunTag || host.db.tagValue(sm.arn, opts.rerunTag) !== 'true') return undefined;
  const next = rerunName(name, opts.maxReruns ?? DEFAULT_MAX_RERUNS);
  if (next === undefined) {
    host.logger.error('interrupted execution left failed: it was started again too often', {
      executionArn: host.executions.executionArn(sm.name, name),
    });
    return undefined;
  }
  // A shortened long name could meet an existing execution; that one is not overwritten.
  return host.db.execution(host.executions.executionArn(sm.name, next)) ? undefined : next;
}
