import {
  describeResource,
  ExecutionHistory,
  type RunnerEvent,
  selectPath,
  statesByName,
} from '../../../../local/stepfunctions/history';

const definition = {
  StartAt: 'Each',
  States: {
    Each: {
      Type: 'Map',
      InputPath: '$.batch',
      ItemsPath: '$.items',
      ItemProcessor: {
        StartAt: 'Rotate',
        States: {
          Rotate: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:r', End: true },
        },
      },
      Next: 'Done',
    },
    Done: { Type: 'Succeed' },
  },
};

const ev = (type: string, extra: Partial<RunnerEvent> = {}): RunnerEvent => ({
  type,
  timestamp: 1000,
  ...extra,
});

describe('execution history', () => {
  it('indexes nested states by their unique names', () => {
    expect([...statesByName(definition).keys()]).toEqual(['Each', 'Rotate', 'Done']);
  });

  it("maps the runner's Map events to AWS's, with the item count from InputPath and ItemsPath", () => {
    const h = new ExecutionHistory();
    const states = statesByName(definition);
    const input = { batch: { items: ['a', 'b', 'c'] } };
    h.started(JSON.stringify(input), 'arn:aws:iam::000000000000:role/r', 1000);
    h.record(ev('StateEntered', { state: { name: 'Each', type: 'Map', input } }), states);
    h.record(ev('MapIterationStarted', { index: 0, parentState: { name: 'Each' } }), states);
    h.record(ev('StateEntered', { state: { name: 'Rotate', type: 'Task', input: 'a' }, index: 0 }), states);
    h.taskScheduled('arn:aws:lambda:us-east-1:000000000000:function:r', 'a', 30, 'us-east-1');
    h.taskSucceeded('arn:aws:lambda:us-east-1:000000000000:function:r', { ok: true });
    h.record(
      ev('StateExited', { state: { name: 'Rotate', type: 'Task', input: 'a', output: 1 }, index: 0 }),
      states,
    );
    h.record(ev('MapIterationSucceeded', { index: 0, parentState: { name: 'Each' } }), states);
    h.record(ev('StateExited', { state: { name: 'Each', type: 'Map', input, output: [1] } }), states);
    h.record(ev('StateEntered', { state: { name: 'Done', type: 'Succeed', input: [1] } }), states);
    h.record(
      ev('StateExited', { state: { name: 'Done', type: 'Succeed', input: [1], output: [1] } }),
      states,
    );
    h.finished('SUCCEEDED', { output: '[1]' }, 2000);
    expect(h.events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'MapStateEntered',
      'MapStateStarted',
      'MapIterationStarted',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'MapIterationSucceeded',
      'MapStateSucceeded',
      'MapStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    expect(h.events[2]).toMatchObject({ mapStateStartedEventDetails: { length: 3 } });
    expect(h.events[3]).toMatchObject({ mapIterationStartedEventDetails: { name: 'Each', index: 0 } });
    expect(h.events[5]).toMatchObject({
      lambdaFunctionScheduledEventDetails: { input: '"a"', timeoutInSeconds: 30 },
    });
    expect(h.events.map((e) => e.id)).toEqual(h.events.map((_e, i) => i + 1));
    expect(h.events.map((e) => e.previousEventId)).toEqual(h.events.map((_e, i) => i));
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
    h.taskScheduled('arn:aws:states:::lambda:invoke', { FunctionName: 'f' }, undefined, 'eu-west-1');
    h.taskFailed('arn:aws:states:::lambda:invoke', 'TransientError', 'connection refused');
    expect(h.events.map((e) => e.type)).toEqual(['TaskScheduled', 'TaskStarted', 'TaskFailed']);
    expect(h.events[0]).toMatchObject({
      taskScheduledEventDetails: { resourceType: 'lambda', resource: 'invoke', region: 'eu-west-1' },
    });
    expect(h.events[2]).toMatchObject({
      taskFailedEventDetails: { error: 'TransientError', cause: 'connection refused' },
    });
  });

  it('records a Task the runner timed out', () => {
    const h = new ExecutionHistory();
    h.record(
      ev('StateFailed', {
        state: { name: 'Rotate', type: 'Task', input: {} },
        Error: 'States.Timeout',
        Cause: 'Task timed out',
      }),
      statesByName(definition),
    );
    expect(h.events).toEqual([
      expect.objectContaining({
        type: 'LambdaFunctionTimedOut',
        lambdaFunctionTimedOutEventDetails: { error: 'States.Timeout', cause: 'Task timed out' },
      }),
    ]);
  });

  it('survives a store round trip with real dates', () => {
    const h = new ExecutionHistory();
    h.started('{}', 'r', Date.UTC(2026, 0, 1));
    h.finished('FAILED', { error: 'States.Runtime', cause: 'restart' }, Date.UTC(2026, 0, 2));
    const back = ExecutionHistory.parse(JSON.stringify(h));
    expect(back.events[1]?.timestamp).toEqual(new Date(Date.UTC(2026, 0, 2)));
    expect(back.events[1]).toMatchObject({
      type: 'ExecutionFailed',
      executionFailedEventDetails: { error: 'States.Runtime', cause: 'restart' },
    });
    expect(ExecutionHistory.parse(null).events).toEqual([]);
  });

  it('selects simple paths and gives up on the rest', () => {
    const v = { a: { 'b-c': [10, 20] }, x: 1 };
    expect(selectPath(v, '$')).toBe(v);
    expect(selectPath(v, '$.a.b-c[1]')).toBe(20);
    expect(selectPath(v, "$['x']")).toBe(1);
    expect(selectPath(v, '$.a.missing.deeper')).toBeUndefined();
    expect(selectPath(v, '$..x')).toBeUndefined();
    expect(selectPath(v, '$$.Execution.Id')).toBeUndefined();
  });
});
