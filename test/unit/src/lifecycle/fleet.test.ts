import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { ValidationError } from '../../../../src/errors';
import {
  type FleetState,
  freshTotals,
  pageExecutionName,
  parsePlanFleetRotationInput,
  runIdOf,
  secretName,
} from '../../../../src/lifecycle/fleet';
import { adapt, initialPacing, planSlots, WRITES_PER_ROTATION } from '../../../../src/lifecycle/fleet-pacing';
import {
  duration,
  pageCounts,
  progressLine,
  progressOf,
  runView,
} from '../../../../src/lifecycle/fleet-progress';
import {
  describeRotationFailure,
  parseTallyFleetPageInput,
  summarizeFleetRotation,
  tallyFleetPage,
} from '../../../../src/lifecycle/fleet-tally';
import { memoryLogger } from '../../../../src/log';
import { memoryMetrics } from '../../../../src/metrics';

const arn = (name: string) => `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-AbCdEf`;

describe('fleet pacing', () => {
  it('gives start times at budget / writes-per-rotation, continuing where the last page ended', () => {
    const p = initialPacing(30, 50, 1_000_000);
    expect(p.budgetRate).toBe(30 / WRITES_PER_ROTATION);
    const a = planSlots(p, 5, 1_000_000);
    expect(a.slots).toEqual([1_000_000, 1_000_100, 1_000_200, 1_000_300, 1_000_400]);
    // The next page starts where this one ended, even if it is planned early...
    expect(planSlots(a.pacing, 2, 1_000_050).slots).toEqual([1_000_500, 1_000_600]);
    // ...and after a pause may make up at most one second of budget.
    expect(planSlots(a.pacing, 1, 1_010_000).slots).toEqual([1_009_000]);
  });

  it('halves the rate on throttling, grows back a quarter of the budget per clean page, sizes concurrency to latency', () => {
    let p = initialPacing(24, 100, 0); // 8 rotations/s
    p = adapt(p, { throttled: 3, durationsMs: [400, 500, 600] }, 0);
    expect(p.rate).toBe(4);
    expect(p.backoffs).toBe(1);
    expect(p.nextSlotMs).toBeGreaterThanOrEqual(1000);
    p = adapt(p, { throttled: 0, durationsMs: [500] }, 0);
    expect(p.rate).toBe(6);
    p = adapt(adapt(p, { throttled: 0, durationsMs: [] }, 0), { throttled: 0, durationsMs: [] }, 0);
    expect(p.rate).toBe(8);
    // 8/s at about 0.5 s each: 8 in flight with room for slow ones, within the cap.
    expect(p.concurrency).toBeGreaterThanOrEqual(8);
    expect(p.concurrency).toBeLessThanOrEqual(100);
    expect(adapt(initialPacing(24, 3, 0), { throttled: 0, durationsMs: [5000] }, 0).concurrency).toBe(3);
  });
});

function state(over: Partial<FleetState> = {}): FleetState {
  return {
    options: {
      tag: { key: 'credflow:managed', value: 'true' },
      maxConcurrency: 10,
      writeBudget: 25,
      pageSize: 100,
      pagesPerExecution: 200,
      force: false,
      overdueAfterHours: 25,
      maxAgeDays: 30,
      now: new Date(0).toISOString(),
      rotateSecretArn: 'arn:rotate-secret',
      rotateFleetPageArn: 'arn:page',
      runId: 'run',
    },
    cursor: { phase: 'select', exhausted: false, nextToken: 't' },
    pages: 1,
    pagesInExecution: 1,
    executions: 1,
    pacing: initialPacing(25, 10, 0),
    totals: freshTotals(4, Date.now() - 2000),
    retry: [],
    failures: [],
    current: {
      name: 'run-p1',
      count: 3,
      concurrency: 5,
      retryPass: false,
      items: [
        [
          { secretId: arn('a'), startAt: '', group: 'db/a' },
          { secretId: arn('a2'), startAt: '', group: 'db/a' },
        ],
        [{ secretId: arn('b'), startAt: '', group: 'db/b' }],
      ],
    },
    ...over,
  };
}

const ok = (name: string, throttled = 0) => ({
  secretId: arn(name),
  outcome: {
    status: 'SUCCEEDED',
    executionArn: `e-${name}`,
    startDate: 1000,
    stopDate: 1400,
    steps: { createSecret: { throttled }, finishSecret: { throttled: 0 } },
  },
});
const failed = (name: string, error: string) => ({ secretId: arn(name), failure: { error } });

describe('TallyFleetPage', () => {
  it('counts successes, queues first failures for the retry pass with their group, adapts to throttling', () => {
    const out = tallyFleetPage(
      { logger: memoryLogger() },
      parseTallyFleetPageInput({
        ...state(),
        pageResult: { results: [[ok('a', 2), failed('a2', 'AuthenticationError')], [ok('b')]] },
      }),
    );
    expect(out.totals).toMatchObject({ succeeded: 2, failed: 0, retried: 1, throttled: 2 });
    expect(out.retry).toEqual([{ secretId: arn('a2'), group: 'db/a' }]);
    expect(out.current).toBeUndefined();
    expect(out).not.toHaveProperty('pageResult');
    expect(out.pacing.backoffs).toBe(1);
    expect(out.cursor.phase).toBe('select');
  });

  it('on the retry pass a failure is final, reported by error; the run is done when the list is empty', () => {
    const s = state({
      cursor: { phase: 'retry', exhausted: true },
      current: {
        name: 'run-r2',
        count: 2,
        concurrency: 5,
        retryPass: true,
        items: [
          [{ secretId: arn('a2'), startAt: '', group: 'g' }],
          [{ secretId: arn('c'), startAt: '', group: 'h' }],
        ],
      },
    });
    const out = tallyFleetPage(
      { logger: memoryLogger() },
      parseTallyFleetPageInput({
        ...s,
        pageResult: { results: [[failed('a2', 'AuthenticationError')], [ok('c')]] },
      }),
    );
    expect(out.totals).toMatchObject({
      succeeded: 1,
      recovered: 1,
      failed: 1,
      byError: { AuthenticationError: 1 },
    });
    expect(out.failures).toEqual([{ secretId: arn('a2'), name: 'a2', error: 'AuthenticationError' }]);
    expect(out.cursor.phase).toBe('done');
  });

  it('a page that failed as a whole counts each of its secrets failed and queues them', () => {
    const out = tallyFleetPage(
      { logger: memoryLogger() },
      parseTallyFleetPageInput({ ...state(), pageError: { Error: 'States.Timeout', Cause: 'x' } }),
    );
    expect(out.retry.map((r) => r.secretId)).toEqual([arn('a'), arn('a2'), arn('b')]);
    expect(out.totals.retried).toBe(3);
  });

  it('refuses an input that is not a fleet state', () => {
    expect(() => parseTallyFleetPageInput({ nonsense: true })).toThrow(/invalid rotate-fleet state/);
  });

  it('refuses a page larger than 100 (its outcomes must fit one 256 KiB task result) and a budget of 0', () => {
    const plan = (input: unknown) => () => parsePlanFleetRotationInput({ executionName: 'run', input });
    expect(plan({ pageSize: 101 })).toThrow(ValidationError);
    expect(plan({ writeBudget: 0 })).toThrow(ValidationError);
    expect(plan({ pageSize: 100, writeBudget: 6 })()).toMatchObject({
      input: { pageSize: 100, writeBudget: 6 },
    });
  });

  // Each page runs its rotations as an inline Map, and AWS runs at most 40 iterations of one at
  // once (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html).
  it('refuses a maxConcurrency over 40, as AWS runs at most 40 inline Map iterations at once, and says why', () => {
    const plan = (input: unknown) => () => parsePlanFleetRotationInput({ executionName: 'run', input });
    expect(plan({ maxConcurrency: 41 })).toThrow(ValidationError);
    expect(plan({ maxConcurrency: 50 })).toThrow(
      /maxConcurrency: at most 40: .*inline Map.*40 iterations at once on AWS/,
    );
    expect(plan({ maxConcurrency: 40 })()).toMatchObject({ input: { maxConcurrency: 40 } });
  });
});

describe('DescribeRotationFailure', () => {
  it("names the child execution's own error, not States.TaskFailed, and keeps its ARN", () => {
    const cause = JSON.stringify({
      ExecutionArn: 'arn:x',
      Error: 'TransientError',
      Cause: 'DescribeSecret: ThrottlingException',
    });
    expect(
      describeRotationFailure({ secretId: 's', outcome: { Error: 'States.TaskFailed', Cause: cause } }),
    ).toEqual({
      secretId: 's',
      failure: { error: 'TransientError', executionArn: 'arn:x', throttled: true },
    });
    expect(
      describeRotationFailure({ secretId: 's', outcome: { Error: 'States.Timeout', Cause: 'timed out' } }),
    ).toEqual({
      secretId: 's',
      failure: { error: 'States.Timeout', throttled: false },
    });
  });
});

describe('fleet names and summary', () => {
  it('keeps page execution names within 80 characters', () => {
    const long = 'x'.repeat(80);
    expect(pageExecutionName(runIdOf(long), 99_999, true).length).toBeLessThanOrEqual(80);
    expect(runIdOf('short')).toBe('short');
    expect(runIdOf(long)).not.toBe(runIdOf(`${'x'.repeat(79)}y`));
    expect(secretName(arn('credflow/db/app'))).toBe('credflow/db/app');
  });

  it('summarizes counts, failures by error, throttling and the pacing, and reports fleet metrics', () => {
    const metrics = memoryMetrics();
    const s = summarizeFleetRotation(
      { metrics },
      state({
        totals: {
          ...state().totals,
          succeeded: 3,
          failed: 1,
          retried: 1,
          byError: { AuthenticationError: 1 },
          throttled: 4,
        },
      }),
    );
    expect(s).toMatchObject({
      total: 4,
      selected: 4,
      succeeded: 3,
      failed: 1,
      failuresByError: { AuthenticationError: 1 },
      throttling: { throttledRequests: 4, backoffs: 0 },
      pacing: { writeBudget: 25, writesPerRotation: 3 },
    });
    expect(s.rotationsPerSecond).toBeGreaterThan(0);
    expect(metrics.points).toEqual([
      { name: 'FleetSecretsRotated', value: 3, dimensions: {} },
      { name: 'FleetSecretsFailed', value: 1, dimensions: {} },
    ]);
  });
});

describe('fleet progress', () => {
  const exited = (name: string, output: unknown): HistoryEvent => ({
    id: 0,
    type: 'TaskStateExited',
    timestamp: new Date(),
    stateExitedEventDetails: { name, output: JSON.stringify(output) },
  });
  const entered = (name: string): HistoryEvent => ({
    id: 0,
    type: 'TaskStateEntered',
    timestamp: new Date(),
    stateEnteredEventDetails: { name },
  });
  const run = { executionArn: 'arn:e', status: 'RUNNING' };

  it("reads the run's last state and whether a page or a continuation follows it (newest event first)", () => {
    const s = state({ totals: { ...state().totals, selected: 10, succeeded: 4, failed: 1 } });
    expect(
      runView([entered('RotateFleetPage'), exited('SelectFleetPage', s), exited('PlanFleetRotation', {})]),
    ).toEqual({ state: s, pageRunning: true, continued: false });
    expect(runView([entered('ContinueFleetRotation'), exited('TallyFleetPage', s)]).continued).toBe(true);
    expect(runView([entered('PlanFleetRotation')])).toEqual({ pageRunning: false, continued: false });
  });

  it('counts the running page: rotated, failed, in flight; remaining and an ETA at the rate so far', () => {
    const s = state({
      totals: { ...state().totals, selected: 10, succeeded: 4, failed: 1, startedMs: 0 },
      retry: [{ secretId: 'x', group: 'g' }],
    });
    const page = pageCounts(
      [
        'StartSecretRotation',
        'SecretRotated',
        'StartSecretRotation',
        'DescribeRotationFailure',
        'StartSecretRotation',
      ].map(entered),
    );
    expect(page).toEqual({ started: 3, rotated: 1, failed: 1 });
    const p = progressOf({ state: s, pageRunning: true, continued: false }, page, 10_000, run);
    // 5 rotated, 1 failed for good + 1 awaiting retry + 1 failed in the page, 1 in flight, 1 left.
    expect(p).toMatchObject({
      selected: 10,
      rotated: 5,
      failed: 3,
      awaitingRetry: 1,
      inFlight: 1,
      remaining: 1,
    });
    // 6 ended in 10 s: the 1 remaining, 1 in flight and 1 awaiting retry take 5 s.
    expect(p.etaSeconds).toBe(5);
    expect(progressLine(p)).toBe(
      'rotated 5/10, failed 3 (1 awaiting retry), in flight 1, remaining 1, ETA 5s',
    );
    // A page not running (already tallied) is not counted twice.
    expect(progressOf({ state: s, pageRunning: false, continued: false }, page, 10_000, run).rotated).toBe(4);
  });

  it('before PlanFleetRotation has run: counts of zero, no total, no ETA', () => {
    const p = progressOf({ pageRunning: false, continued: false }, undefined, 0, run);
    expect(progressLine(p)).toBe('rotated 0, failed 0, in flight 0');
    expect(duration(59)).toBe('59s');
    expect(duration(65)).toBe('1m05s');
    expect(duration(7260)).toBe('2h01m');
  });
});
