/**
 * rotate-fleet after each page: DescribeRotationFailure (one failed rotation to its error name),
 * TallyFleetPage (counts, the retry list, the pacing) and SummarizeFleetRotation (the report).
 */
import { z } from 'zod';
import type { Deps } from '../deps';
import { parser } from '../validate';
import {
  advancePhase,
  type FleetItem,
  type FleetState,
  type FleetTotals,
  parseFleetState,
  RETRY_CAP,
  secretName,
} from './fleet';
import { adapt, WRITES_PER_ROTATION } from './fleet-pacing';

/** The first final failures a summary names (the rest are counted by error). */
const FAILURES_LISTED = 20;

/** A rotation as rotate-fleet-page reports it: its child execution, or why it failed. */
const pageResult = z.object({
  secretId: z.string(),
  outcome: z
    .object({
      status: z.string(),
      executionArn: z.string().optional(),
      startDate: z.number().optional(),
      stopDate: z.number().optional(),
      steps: z.record(z.string(), z.object({ throttled: z.number().optional() }).passthrough()).optional(),
    })
    .passthrough()
    .optional(),
  failure: z
    .object({ error: z.string(), executionArn: z.string().optional(), throttled: z.boolean().optional() })
    .optional(),
});
type PageResult = z.infer<typeof pageResult>;

const failedRotation = z.object({
  secretId: z.string(),
  outcome: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).passthrough(),
});

/** Parses DescribeRotationFailure's input (a ValidationError naming each bad field). */
export const parseDescribeRotationFailureInput = parser(
  failedRotation,
  'invalid DescribeRotationFailure input',
);

/**
 * DescribeRotationFailure: a `startExecution.sync` Task fails with States.TaskFailed and the
 * child execution's description (its own Error among it) as the cause, as on AWS. This keeps
 * the child's error name and ARN, and whether throttling ended it, and drops the rest (a cause
 * holds the child's whole input and output, too much to carry for a page of failures).
 */
export function describeRotationFailure(
  input: z.infer<typeof failedRotation>,
): Required<Pick<PageResult, 'secretId' | 'failure'>> {
  const { Error: error = 'unknown', Cause: cause } = input.outcome;
  let child: { Error?: unknown; Cause?: unknown; ExecutionArn?: unknown } = {};
  if (error === 'States.TaskFailed' && cause) {
    try {
      child = JSON.parse(cause) as typeof child;
    } catch {
      // A cause that is not a description (a timeout's text) keeps the Task's own error.
    }
  }
  const name = typeof child.Error === 'string' ? child.Error : error;
  const text = typeof child.Cause === 'string' ? child.Cause : (cause ?? '');
  return {
    secretId: input.secretId,
    failure: {
      error: name,
      ...(typeof child.ExecutionArn === 'string' ? { executionArn: child.ExecutionArn } : {}),
      throttled: /ThrottlingException|Rate exceeded/.test(text),
    },
  };
}

/** What RotateFleetPage left in the state: the page's results, or why the page failed as a whole. */
const pageOutcome = z
  .object({
    pageResult: z.object({ results: z.array(z.array(pageResult)) }).optional(),
    pageError: z
      .object({ Error: z.string().optional(), Cause: z.string().optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();
const parsePageOutcome = parser(pageOutcome, 'invalid TallyFleetPage input');

interface TallyInput {
  state: FleetState;
  pageResult?: { results: PageResult[][] } | undefined;
  pageError?: { Error?: string | undefined } | undefined;
}

/** Parses TallyFleetPage's input: the fleet state with the page's outcome (a ValidationError if malformed). */
export function parseTallyFleetPageInput(input: unknown): TallyInput {
  const outcome = parsePageOutcome(input);
  const {
    pageResult: _r,
    pageError: _e,
    ...state
  } = parseFleetState(input) as FleetState & Record<string, unknown>;
  return { state: state as FleetState, pageResult: outcome.pageResult, pageError: outcome.pageError };
}

/**
 * TallyFleetPage: the page's outcomes into the run's counts. A failure on the first pass joins
 * the retry list (while it has room), a failure on the retry pass is final; the pacing learns
 * the page's latency and whether it met throttling.
 */
export function tallyFleetPage(deps: Pick<Deps, 'logger'>, input: TallyInput): FleetState {
  const state = input.state;
  const page = state.current;
  if (!page) return { ...state, cursor: advancePhase(state) };
  const groupOf = new Map(page.items.flat().map((it) => [it.secretId, it.group]));
  const results: PageResult[] =
    input.pageResult?.results.flat() ??
    // The page execution itself failed: each of its secrets counts as failed with its error.
    page.items
      .flat()
      .map((it) => ({ secretId: it.secretId, failure: { error: input.pageError?.Error ?? 'unknown' } }));
  const totals = { ...state.totals, byError: { ...state.totals.byError } };
  const retry: FleetItem[] = [...state.retry];
  const failures = [...state.failures];
  const durations: number[] = [];
  let throttled = 0;
  const finalFailure = (r: PageResult, error: string) => {
    totals.failed++;
    totals.byError[error] = (totals.byError[error] ?? 0) + 1;
    if (failures.length < FAILURES_LISTED)
      failures.push({
        secretId: r.secretId,
        name: secretName(r.secretId),
        error,
        ...(r.failure?.executionArn ? { executionArn: r.failure.executionArn } : {}),
      });
  };
  for (const r of results) {
    if (r.outcome?.status === 'SUCCEEDED') {
      totals.succeeded++;
      if (page.retryPass) totals.recovered++;
      if (r.outcome.startDate !== undefined && r.outcome.stopDate !== undefined)
        durations.push(r.outcome.stopDate - r.outcome.startDate);
      for (const step of Object.values(r.outcome.steps ?? {})) throttled += step.throttled ?? 0;
      continue;
    }
    const error = r.failure?.error ?? r.outcome?.status ?? 'unknown';
    if (r.failure?.throttled) throttled++;
    if (page.retryPass) finalFailure(r, error);
    else if (retry.length < RETRY_CAP) {
      totals.retried++;
      retry.push({ secretId: r.secretId, group: groupOf.get(r.secretId) ?? r.secretId });
    } else {
      totals.notRetried++;
      finalFailure(r, error);
    }
  }
  totals.throttled += throttled;
  const pacing = adapt(state.pacing, { throttled, durationsMs: durations }, Date.now());
  if (throttled > 0)
    deps.logger.warn('TallyFleetPage: rotations met throttling; slowing down', {
      page: page.name,
      throttled,
      rate: pacing.rate,
    });
  const next: FleetState = { ...state, current: undefined, totals, retry, failures, pacing };
  return { ...next, cursor: advancePhase(next) };
}

/** The run's counts as the totals keep them (throttling and failures by error are reported apart). */
export interface FleetSummary
  extends Pick<
    FleetTotals,
    'selected' | 'succeeded' | 'failed' | 'skipped' | 'retried' | 'recovered' | 'notRetried'
  > {
  /** Secrets the run rotated or gave up on. */
  total: number;
  /** Why secrets were skipped, e.g. `{"not due": 20}` (rotate them anyway with force). */
  skippedByReason: Record<string, number>;
  failuresByError: Record<string, number>;
  failures: FleetState['failures'];
  throttling: { throttledRequests: number; backoffs: number };
  pacing: {
    writeBudget: number;
    writesPerRotation: number;
    /** Rotations per second the budget allows. */
    budgetRate: number;
    finalRate: number;
    maxConcurrency: number;
  };
  pages: number;
  executions: number;
  seconds: number;
  rotationsPerSecond: number;
}

/** Parses SummarizeFleetRotation's input (a ValidationError naming each bad field). */
export const parseSummarizeFleetRotationInput = parseFleetState;

/**
 * SummarizeFleetRotation: counts, failures by error, the first failures by name, the throttling
 * seen; rotated and failed go out as fleet metrics.
 */
export function summarizeFleetRotation(deps: Pick<Deps, 'metrics'>, state: FleetState): FleetSummary {
  const t = state.totals;
  deps.metrics?.put('FleetSecretsRotated', t.succeeded, {});
  deps.metrics?.put('FleetSecretsFailed', t.failed, {});
  const seconds = Math.max(0.001, (Date.now() - t.startedMs) / 1000);
  return {
    total: t.succeeded + t.failed,
    selected: t.selected,
    succeeded: t.succeeded,
    failed: t.failed,
    skipped: t.skipped,
    skippedByReason: t.skippedByReason ?? {},
    retried: t.retried,
    recovered: t.recovered,
    notRetried: t.notRetried,
    failuresByError: t.byError,
    failures: state.failures,
    throttling: { throttledRequests: t.throttled, backoffs: state.pacing.backoffs },
    pacing: {
      writeBudget: state.options.writeBudget,
      writesPerRotation: WRITES_PER_ROTATION,
      budgetRate: Number(state.pacing.budgetRate.toFixed(3)),
      finalRate: Number(state.pacing.rate.toFixed(3)),
      maxConcurrency: state.options.maxConcurrency,
    },
    pages: state.pages,
    executions: state.executions,
    seconds: Number(seconds.toFixed(1)),
    rotationsPerSecond: Number((t.succeeded / seconds).toFixed(2)),
  };
}
