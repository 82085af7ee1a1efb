import { describeResource, ExecutionHistory } from '../../../../local/stepfunctions/history';

const fn = 'arn:aws:lambda:us-east-1:000000000000:function:r';

describe('execution history', () => {
  it('records each event after the one that led to it, with AWS details', () => {
    const h = new ExecutionHistory();
    h.started('{"a":1}', 'arn:aws:iam::000000000000:role/r', 1000);
    // The first state follows no event: AWS records previousEventId 0 for it.
    const entered = h.stateEntered('Task', 'Rotate', { a: 1 }, 0);
    const started = h.taskScheduled(fn, { a: 1 }, 30, 'us-east-1', entered);
    const succeeded = h.taskSucceeded(fn, { ok: true }, started);
    const exited = h.stateExited('Task', 'Rotate', { ok: true }, { done: true }, succeeded);
    h.finished('SUCCEEDED', { output: '{"ok":true}' }, 2000, exited);
    expect(h.events.map((e) => [e.id, e.previousEventId, e.type])).toEqual([
      [1, 0, 'ExecutionStarted'],
      [2, 0, 'TaskStateEntered'],
      [3, 2, 'LambdaFunctionScheduled'],
      [4, 3, 'LambdaFunctionStarted'],
      [5, 4, 'LambdaFunctionSucceeded'],
      [6, 5, 'TaskStateExited'],
      [7, 6, 'ExecutionSucceeded'],
    ]);
    expect(h.events[2]).toMatchObject({
      lambdaFunctionScheduledEventDetails: { resource: fn, input: '{"a":1}', timeoutInSeconds: 30 },
    });
    expect(h.events[5]).toMatchObject({
      stateExitedEventDetails: {
        name: 'Rotate',
        output: '{"ok":true}',
        assignedVariables: { done: 'true' },
        assignedVariablesDetails: { truncated: false },
      },
    });
  });

  it('names service integrations by resource type and resource', () => {
    expect(describeResource('arn:aws:states:::aws-sdk:secretsmanager:describeSecret')).toEqual({
      lambda: false,
      resourceType: 'aws-sdk:secretsmanager',
      resource: 'describeSecret',
    });
    expect(describeResource('arn:aws:states:::states:startExecution.sync:2')).toEqual({
      lambda: false,
      resourceType: 'states',
      resource: 'startExecution.sync:2',
    });
    const h = new ExecutionHistory();
    const started = h.taskScheduled(
      'arn:aws:states:::lambda:invoke',
      { FunctionName: 'f' },
      undefined,
      'eu-west-1',
      0,
    );
    h.taskFailed(
      'arn:aws:states:::lambda:invoke',
      { error: 'TransientError', cause: 'connection refused' },
      false,
      started,
    );
    expect(h.events.map((e) => e.type)).toEqual(['TaskScheduled', 'TaskStarted', 'TaskFailed']);
    expect(h.events[0]).toMatchObject({
      taskScheduledEventDetails: { resourceType: 'lambda', resource: 'invoke', region: 'eu-west-1' },
    });
    expect(h.events[2]).toMatchObject({
      taskFailedEventDetails: { error: 'TransientError', cause: 'connection refused' },
    });
  });

  it('records a timed-out Task with the error and no cause, as AWS does', () => {
    const h = new ExecutionHistory();
    h.taskFailed(fn, { error: 'States.Timeout' }, true, 0);
    expect(h.events).toEqual([
      expect.objectContaining({
        type: 'LambdaFunctionTimedOut',
        lambdaFunctionTimedOutEventDetails: { error: 'States.Timeout' },
      }),
    ]);
  });

  it('closes a stopped execution with an event that follows no state', () => {
    const h = new ExecutionHistory();
    h.started('{}', 'r', 1);
    h.stateEntered('Wait', 'W', {}, 0);
    h.finished('ABORTED', {}, 2);
    expect(h.events.at(-1)).toMatchObject({ id: 3, previousEventId: 0, type: 'ExecutionAborted' });
  });

  it('survives a store round trip with real dates', () => {
    const h = new ExecutionHistory();
    h.started('{}', 'r', Date.UTC(2026, 0, 1));
    h.finished('FAILED', { error: 'States.Runtime', cause: 'restart' }, Date.UTC(2026, 0, 2));
    const back = ExecutionHistory.parse(JSON.stringify(h));
    expect(back.events[1]?.timestamp).toEqual(new Date(Date.UTC(2026, 0, 2)));
    expect(back.events[1]).toMatchObject({
      type: 'ExecutionFailed',
      previousEventId: 1,
      executionFailedEventDetails: { error: 'States.Runtime', cause: 'restart' },
    });
    expect(ExecutionHistory.parse(null).events).toEqual([]);
  });
});
