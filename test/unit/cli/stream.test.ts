/**
 * The step stream: HistoryFollower reads an execution's history (GetExecutionHistory's events,
 * as Step Functions records them) and progressPrinter prints a line per state on stderr. The
 * histories here are built event by event in the order and shape AWS records them: ids, each
 * event's previousEventId the event before it in its thread, Lambda errors' causes as the JSON
 * `{errorType, errorMessage, trace}`.
 */
import type { HistoryEvent, HistoryEventType } from '@aws-sdk/client-sfn';
import { progressPrinter } from '../../../cli/output';
import { HistoryFollower } from '../../../cli/run';

/** A history as it grows: each event follows the one before unless told which it follows. */
class History {
  readonly events: HistoryEvent[] = [];
  private clock = Date.parse('2026-01-01T00:00:00Z');

  add(type: HistoryEventType, details: Partial<HistoryEvent> = {}, prev?: number, ms = 100): number {
    const id = this.events.length + 1;
    this.clock += ms;
    this.events.push({
      id,
      previousEventId: prev ?? id - 1,
      timestamp: new Date(this.clock),
      type,
      ...details,
    });
    return id;
  }

  entered(type: string, name: string, prev?: number): number {
    return this.add(`${type}StateEntered` as HistoryEventType, { stateEnteredEventDetails: { name } }, prev);
  }

  exited(type: string, name: string, output: unknown = {}, prev?: number): number {
    return this.add(
      `${type}StateExited` as HistoryEventType,
      { stateExitedEventDetails: { name, output: JSON.stringify(output) } },
      prev,
    );
  }

  scheduled(prev?: number): number {
    return this.add(
      'TaskScheduled',
      {
        taskScheduledEventDetails: {
          resourceType: 'lambda',
          resource: 'invoke',
          region: 'us-east-1',
          parameters: '{}',
        },
      },
      prev,
    );
  }

  started(prev?: number): number {
    return this.add(
      'TaskStarted',
      { taskStartedEventDetails: { resourceType: 'lambda', resource: 'invoke' } },
      prev,
    );
  }

  failed(error: string, message: string, prev?: number): number {
    const cause = JSON.stringify({
      errorType: error,
      errorMessage: message,
      trace: [`${error}: ${message}`],
    });
    return this.add(
      'TaskFailed',
      { taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error, cause } },
      prev,
    );
  }

  succeeded(output: unknown = {}, prev?: number): number {
    return this.add(
      'TaskSucceeded',
      {
        taskSucceededEventDetails: {
          resourceType: 'lambda',
          resource: 'invoke',
          output: JSON.stringify(output),
        },
      },
      prev,
    );
  }

  /** A Task state that succeeds at once (entered, scheduled, started, succeeded, exited). */
  task(name: string, output: unknown = {}): void {
    this.entered('Task', name);
    this.scheduled();
    this.started();
    this.succeeded(output);
    this.exited('Task', name, output);
  }
}

/** What the printer says for a history, fed poll by poll; ANSI colours taken out. */
function stream(
  events: HistoryEvent[],
  polls: number[] = [],
): { lines: string[]; follower: HistoryFollower } {
  let text = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += chunk.toString();
    return true;
  });
  const follower = new HistoryFollower(progressPrinter(''));
  try {
    // Each poll reads the whole history so far, as followExecution does.
    for (const n of [...polls, events.length]) follower.feed(events.slice(0, n));
  } finally {
    spy.mockRestore();
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes
  const lines = text.replace(/\u001b\[[0-9;]*m/g, '').split('\n');
  lines.pop();
  return { lines, follower };
}

const lambdaCause = (error: string, message: string) =>
  JSON.stringify({ errorType: error, errorMessage: message, trace: [`${error}: ${message}`] });

describe('the step stream', () => {
  it('a Task that fails and is scheduled again is shown retried, then succeeded', () => {
    const h = new History();
    h.add('ExecutionStarted');
    h.entered('Task', 'SetSecret');
    h.scheduled();
    h.started();
    h.failed('TransientError', 'connection reset');
    h.scheduled();
    h.started();
    h.succeeded();
    h.exited('Task', 'SetSecret');
    h.add('ExecutionSucceeded');
    // Polled right after the failure: nothing about it until what follows is known.
    const { lines } = stream(h.events, [5]);
    expect(lines).toEqual([
      '  ▸ SetSecret',
      '  ↻ SetSecret retried after TransientError: connection reset',
      '  ✓ SetSecret 700 ms',
    ]);
  });

  it('a failure a Catch moves on from is shown caught, not succeeded and not retried', () => {
    const h = new History();
    h.add('ExecutionStarted');
    h.entered('Task', 'CreateSecret');
    h.scheduled();
    h.started();
    h.failed('NotFoundError', 'no secret credflow/shop/app');
    h.exited('Task', 'CreateSecret', { error: { Error: 'NotFoundError' } });
    h.entered('Task', 'RepairRotation');
    h.scheduled();
    h.started();
    h.succeeded();
    h.exited('Task', 'RepairRotation');
    h.add('ExecutionSucceeded');
    const { lines } = stream(h.events, [5]);
    expect(lines).toEqual([
      '  ▸ CreateSecret',
      '  ✗ CreateSecret 400 ms caught NotFoundError: no secret credflow/shop/app',
      '  ▸ RepairRotation',
      '  ✓ RepairRotation 400 ms',
    ]);
  });

  it('a failure followed straight by the Catch target entering is caught by the failed state', () => {
    // No exit recorded between the failure and the next state: still the failed state caught.
    const h = new History();
    h.add('ExecutionStarted');
    h.entered('Task', 'TestSecret');
    h.scheduled();
    h.started();
    h.failed('LoginError', 'password authentication failed for user "app"');
    h.entered('Pass', 'RotationFailed');
    h.exited('Pass', 'RotationFailed');
    h.add('ExecutionSucceeded');
    const { lines } = stream(h.events);
    expect(lines).toEqual([
      '  ▸ TestSecret',
      '  ✗ TestSecret caught LoginError: password authentication failed for user "app"',
      '  ▸ RotationFailed',
      '  ✓ RotationFailed 100 ms',
    ]);
  });

  it('a failure nothing catches: the state failed, the execution failed, the text once', () => {
    const h = new History();
    h.add('ExecutionStarted');
    h.entered('Task', 'TestMasterLogin');
    h.scheduled();
    h.started();
    h.failed('LoginError', 'password authentication failed for user "master"');
    h.add('ExecutionFailed', {
      executionFailedEventDetails: {
        error: 'LoginError',
        cause: lambdaCause('LoginError', 'password authentication failed for user "master"'),
      },
    });
    const { lines, follower } = stream(h.events, [5]);
    expect(lines).toEqual([
      '  ▸ TestMasterLogin',
      '  ✗ TestMasterLogin failed: LoginError: password authentication failed for user "master"',
      '  ✗ execution failed: LoginError',
    ]);
    // The execution's own error and cause (DescribeExecution's) were shown: finish() skips them.
    const cause = lambdaCause('LoginError', 'password authentication failed for user "master"');
    expect(follower.showed('LoginError', cause)).toBe(true);
    expect(follower.showed('LoginError', lambdaCause('LoginError', 'another text'))).toBe(false);
    expect(follower.showed('TransientError', cause)).toBe(false);
    expect(follower.showed(undefined, undefined)).toBe(false);
  });

  it('retries that run out: each retry shown, the error text printed exactly once', () => {
    const h = new History();
    h.add('ExecutionStarted');
    h.entered('Task', 'SetSecret');
    for (let i = 0; i < 3; i++) {
      h.scheduled();
      h.started();
      h.failed('TransientError', 'too many connections');
    }
    h.add('ExecutionFailed', {
      executionFailedEventDetails: {
        error: 'TransientError',
        cause: lambdaCause('TransientError', 'too many connections'),
      },
    });
    const { lines, follower } = stream(h.events, [3, 6, 8]);
    expect(lines).toEqual([
      '  ▸ SetSecret',
      '  ↻ SetSecret retried after TransientError: too many connections',
      '  ↻ SetSecret retried after TransientError',
      '  ✗ SetSecret failed: TransientError',
      '  ✗ execution failed: TransientError',
    ]);
    expect(lines.filter((l) => l.includes('too many connections'))).toHaveLength(1);
    expect(follower.showed('TransientError', lambdaCause('TransientError', 'too many connections'))).toBe(
      true,
    );
  });

  it('an execution that fails with an error no state showed: the stream shows it, showed() says so', () => {
    const h = new History();
    h.add('ExecutionStarted');
    h.entered('Fail', 'DatabaseNotAvailable');
    h.add('ExecutionFailed', {
      executionFailedEventDetails: { error: 'DatabaseNotAvailable', cause: 'status is failed' },
    });
    const { lines, follower } = stream(h.events);
    expect(lines).toEqual([
      '  ▸ DatabaseNotAvailable',
      '  ✗ execution failed: DatabaseNotAvailable: status is failed',
    ]);
    expect(follower.showed('DatabaseNotAvailable', 'status is failed')).toBe(true);
  });

  it("a Map's iterations interleave: one's failure then another's TaskScheduled is no retry", () => {
    // Two iterations of RepairStalledRotation at once (reconcile-rotations): iteration 1's Task
    // fails and its Catch moves on, while iteration 2's Task is scheduled in between.
    const h = new History();
    h.add('ExecutionStarted');
    h.entered('Map', 'RepairStalledRotations');
    const map = h.add('MapStateStarted', { mapStateStartedEventDetails: { length: 2 } });
    const it1 = h.add('MapIterationStarted', {}, map);
    const it2 = h.add('MapIterationStarted', {}, map);
    const a1 = h.entered('Task', 'RepairStalledRotation', it1);
    const b1 = h.entered('Task', 'RepairStalledRotation', it2);
    const a2 = h.started(h.scheduled(a1));
    const a3 = h.failed('SecretBroken', 'AWSCURRENT does not log in', a2);
    const b2 = h.scheduled(b1);
    const a4 = h.exited('Task', 'RepairStalledRotation', {}, a3);
    const b3 = h.succeeded({}, h.started(b2));
    const a5 = h.exited('Pass', 'StalledSecretBroken', {}, h.entered('Pass', 'StalledSecretBroken', a4));
    const b4 = h.exited('Task', 'RepairStalledRotation', {}, b3);
    h.add('MapIterationSucceeded', {}, a5);
    const b5 = h.exited(
      'Pass',
      'StalledRotationRepaired',
      {},
      h.entered('Pass', 'StalledRotationRepaired', b4),
    );
    h.add('MapIterationSucceeded', {}, b5);
    h.add('MapStateSucceeded');
    h.exited('Map', 'RepairStalledRotations');
    const { lines } = stream(h.events, [10, 12]);
    expect(lines.filter((l) => l.includes('↻'))).toEqual([]);
    // Iteration 1's time is its own (entered at event 6, left at 12), not iteration 2's. A state
    // seen again is not announced again (the printer's loop rule), so iteration 2's Task is quiet.
    expect(lines).toEqual([
      '  ▸ RepairStalledRotations',
      '  ▸ RepairStalledRotation',
      '  ✗ RepairStalledRotation 600 ms caught SecretBroken: AWSCURRENT does not log in',
      '  ▸ StalledSecretBroken',
      '  ✓ StalledSecretBroken 100 ms',
      '  ▸ StalledRotationRepaired',
      '  ✓ StalledRotationRepaired 100 ms',
      '  ✓ RepairStalledRotations 2.1 s',
    ]);
    expect(lines.filter((l) => l.includes('AWSCURRENT does not log in'))).toHaveLength(1);
  });
});

describe("provision's wait loop", () => {
  /** provision-database's loop: WaitForDatabase, DescribeDatabase, IsDatabaseAvailable. */
  function provision(statuses: string[]): History {
    const h = new History();
    h.add('ExecutionStarted');
    h.task('CreateDatabase', { identifier: 'shop-db', db: { status: 'creating' } });
    // The Wait passes its input on: the status the previous round read.
    let last = 'creating';
    for (const status of statuses) {
      h.entered('Wait', 'WaitForDatabase');
      h.exited('Wait', 'WaitForDatabase', { identifier: 'shop-db', db: { status: last } });
      h.task('DescribeDatabase', { identifier: 'shop-db', db: { status } });
      h.entered('Choice', 'IsDatabaseAvailable');
      h.exited('Choice', 'IsDatabaseAvailable', { identifier: 'shop-db', db: { status } });
      last = status;
    }
    h.task('TestMasterLogin', {
      identifier: 'shop-db',
      db: { status: 'available' },
      masterLogin: { ok: true },
    });
    h.add('ExecutionSucceeded');
    return h;
  }

  it('twenty identical rounds print one round of lines, then a line per status change', () => {
    const statuses = [...Array<string>(18).fill('creating'), 'backing-up', 'available'];
    expect(statuses).toHaveLength(20);
    const h = provision(statuses);
    const polls = Array.from({ length: 20 }, (_, i) => 3 + i * 12);
    const { lines } = stream(h.events, polls);
    expect(lines.map((l) => l.replace(/ \d+(\.\d)? m?s$/, ''))).toEqual([
      '  ▸ CreateDatabase',
      '  ✓ CreateDatabase',
      '  ▸ WaitForDatabase',
      '  ✓ WaitForDatabase',
      '  ▸ DescribeDatabase',
      '  ✓ DescribeDatabase',
      '  ▸ IsDatabaseAvailable',
      '  ✓ IsDatabaseAvailable',
      '  ⋯ DescribeDatabase: backing-up',
      '  ⋯ DescribeDatabase: available',
      '  ▸ TestMasterLogin',
      '  ✓ TestMasterLogin',
    ]);
  });
});
