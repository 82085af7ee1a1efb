import type { HistoryEvent } from '@aws-sdk/client-sfn';

/**
 * How each state of an execution ran, read from its history: the colour of its box, its
 * attempts and time, and the few facts the console shows about a rotation (the steps' outcomes,
 * the verify checks, the repair). Input and output data never leave this file: only names,
 * enums, counts and check results are picked out of outputs, and causes are shortened with any
 * secret-named field blanked, so nothing the page loads can carry a secret value.
 */

export type RunStatus = 'succeeded' | 'failed' | 'retried' | 'running' | 'caught';

export interface StateRun {
  status: RunStatus;
  /** Times the state was entered (a polling loop enters its states again and again). */
  entered: number;
  /** Task attempts of the last visit (more than 1: it was retried). */
  attempts: number;
  /** Milliseconds of the last visit, when it ended. */
  ms?: number;
  error?: string;
}

export interface HistoryLine {
  id: number;
  type: string;
  time: string;
  state?: string;
  /** Error name and cause, shortened (failures only). */
  detail?: string;
}

export interface VerifySummary {
  ok: boolean;
  drift: boolean;
  checks: { check: string; ok: boolean; detail: string }[];
}

export interface RotationSummary {
  steps: { step: string; status: RunStatus | 'not-run'; outcome?: string }[];
  verify?: VerifySummary;
}

export interface RepairSummary {
  action?: string;
  severity?: string;
  outcome?: string;
  /** The secret's status after the repair: broken when AWSCURRENT does not log in. */
  status?: string;
}

export interface ExecutionRuns {
  states: Record<string, StateRun>;
  history: HistoryLine[];
  rotation?: RotationSummary;
  verify?: VerifySummary;
  repair?: RepairSummary;
}

const ROTATION_STEPS = ['CreateSecret', 'SetSecret', 'TestSecret', 'FinishSecret'] as const;
const OUTCOMES = ['applied', 'already-done', 'already-current'];
const ACTIONS = ['roll-forward', 'roll-back', 'none'];
const SEVERITIES = ['info', 'warning', 'critical'];
const REPAIR_OUTCOMES = ['rolled-forward', 'rolled-back', 'nothing-to-repair'];
const REPAIR_STATUSES = ['broken', 'rolled-forward', 'rolled-back', 'ok'];
const SECRET_FIELD =
  /("?(?:password|secretstring|secretbinary|masteruserpassword|randompassword)"?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|[^\s,}]+)/gi;

/** A cause or error text fit for the page: shortened, any secret-named field's value blanked. */
export function safeText(text: string | undefined, max = 400): string {
  if (!text) return '';
  const clean = text.replace(SECRET_FIELD, '$1"[redacted]"');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

const pick = (value: unknown, allowed: readonly string[]) =>
  typeof value === 'string' && allowed.includes(value) ? value : undefined;

function parse(text: string | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A verify report's checks, field by field (a VerifyReport's shape, see src/lifecycle/verify.ts). */
function verifyOf(output: Record<string, unknown> | undefined): VerifySummary | undefined {
  const report = output;
  if (!report || !Array.isArray(report['checks'])) return undefined;
  const checks = (report['checks'] as unknown[]).flatMap((c) => {
    const x = c as Record<string, unknown>;
    return typeof x['check'] === 'string' && typeof x['ok'] === 'boolean'
      ? [{ check: x['check'].slice(0, 60), ok: x['ok'], detail: safeText(String(x['detail'] ?? ''), 200) }]
      : [];
  });
  return { ok: report['ok'] === true, drift: report['drift'] === true, checks };
}

const FAILED = new Set([
  'LambdaFunctionFailed',
  'LambdaFunctionTimedOut',
  'LambdaFunctionStartFailed',
  'LambdaFunctionScheduleFailed',
  'TaskFailed',
  'TaskTimedOut',
  'TaskStartFailed',
  'TaskSubmitFailed',
  'MapStateFailed',
  'ParallelStateFailed',
]);
const SUCCEEDED = new Set(['LambdaFunctionSucceeded', 'TaskSucceeded']);
const SCHEDULED = new Set(['LambdaFunctionScheduled', 'TaskScheduled']);

function failureOf(e: HistoryEvent): { error?: string; cause?: string } | undefined {
  const d =
    e.lambdaFunctionFailedEventDetails ??
    e.lambdaFunctionTimedOutEventDetails ??
    e.taskFailedEventDetails ??
    e.taskTimedOutEventDetails ??
    e.executionFailedEventDetails ??
    e.executionTimedOutEventDetails ??
    e.executionAbortedEventDetails;
  return d ? { ...(d.error ? { error: d.error } : {}), ...(d.cause ? { cause: d.cause } : {}) } : undefined;
}

/**
 * The states of `graphStates` (the top-level ones drawn) as they ran, the history as lines, and
 * the rotation, verify or repair summary that the workflow's outputs give. Events of states
 * inside a Map or Parallel are listed but colour no box.
 */
export function readRuns(
  events: HistoryEvent[],
  graphStates: ReadonlySet<string>,
  executionStatus: string,
): ExecutionRuns {
  const states: Record<string, StateRun> = {};
  const visits: Record<string, { at: number; outcome?: 'ok' | 'failed' }> = {};
  const outputs: Record<string, Record<string, unknown> | undefined> = {};
  const history: HistoryLine[] = [];
  let current: string | undefined;

  for (const e of events) {
    const type = e.type ?? '';
    const at = e.timestamp ? new Date(e.timestamp).getTime() : 0;
    const entered = type.endsWith('StateEntered') ? e.stateEnteredEventDetails?.name : undefined;
    const exited = type.endsWith('StateExited') ? e.stateExitedEventDetails?.name : undefined;
    if (entered !== undefined) current = entered;
    const name = entered ?? exited ?? current;
    const failure = FAILED.has(type) || type.startsWith('Execution') ? failureOf(e) : undefined;
    history.push({
      id: e.id ?? history.length + 1,
      type,
      time: new Date(at).toISOString(),
      ...(name !== undefined && !type.startsWith('Execution') ? { state: name } : {}),
      ...(failure ? { detail: safeText(`${failure.error ?? ''}: ${failure.cause ?? ''}`) } : {}),
    });
    if (name === undefined || !graphStates.has(name)) continue;

    const run = states[name] ?? { status: 'running', entered: 0, attempts: 0 };
    states[name] = run;
    if (entered !== undefined) {
      run.entered++;
      run.attempts = 0;
      run.status = 'running';
      delete run.error;
      delete run.ms;
      visits[name] = { at };
    } else if (exited !== undefined) {
      const v = visits[name];
      if (v) run.ms = at - v.at;
      if (v?.outcome === 'failed') run.status = 'caught';
      else run.status = run.attempts > 1 ? 'retried' : 'succeeded';
    } else if (SCHEDULED.has(type)) {
      run.attempts++;
    } else if (SUCCEEDED.has(type)) {
      const v = visits[name];
      if (v) v.outcome = 'ok';
      const out = e.lambdaFunctionSucceededEventDetails?.output ?? e.taskSucceededEventDetails?.output;
      outputs[name] = parse(out);
    } else if (FAILED.has(type)) {
      const v = visits[name];
      if (v) v.outcome = 'failed';
      if (failure?.error) run.error = safeText(failure.error, 120);
    }
  }

  // A state whose last attempt failed and that never exited: failed where the execution stopped,
  // or caught when the execution went on elsewhere.
  for (const [name, run] of Object.entries(states)) {
    if (run.status !== 'running') continue;
    const failedLast = visits[name]?.outcome === 'failed';
    if (executionStatus === 'RUNNING' && !failedLast) continue;
    if (failedLast) run.status = current === name && executionStatus !== 'RUNNING' ? 'failed' : 'caught';
    else if (executionStatus === 'SUCCEEDED') run.status = 'succeeded';
    else run.status = current === name ? 'failed' : 'succeeded';
  }
  const result: ExecutionRuns = { states, history };
  if (ROTATION_STEPS.some((s) => graphStates.has(s))) {
    const verify = verifyOf(outputs['VerifyRotation']);
    result.rotation = {
      steps: ROTATION_STEPS.map((step) => {
        const outcome = pick(outputs[step]?.['outcome'], OUTCOMES);
        return { step, status: states[step]?.status ?? 'not-run', ...(outcome ? { outcome } : {}) };
      }),
      ...(verify ? { verify } : {}),
    };
  }
  const verify = verifyOf(outputs['VerifyCredentials']);
  if (verify) result.verify = verify;
  if (graphStates.has('DiagnoseRotation')) {
    const diagnosis = outputs['DiagnoseRotation'];
    const repaired = outputs['RollForwardRotation'] ?? outputs['RollBackRotation'];
    const action = pick(diagnosis?.['action'], ACTIONS);
    const severity = pick(diagnosis?.['severity'], SEVERITIES);
    const outcome = pick(repaired?.['outcome'], REPAIR_OUTCOMES);
    const status = pick(repaired?.['status'], REPAIR_STATUSES);
    result.repair = {
      ...(action ? { action } : {}),
      ...(severity ? { severity } : {}),
      ...(outcome ? { outcome } : {}),
      ...(status ? { status } : {}),
    };
  }
  return result;
}
