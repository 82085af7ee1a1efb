/**
 * Errors, the Context object and history events as AWS records them.
 * - Fail: https://docs.aws.amazon.com/step-functions/latest/dg/state-fail.html
 * - Errors: https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
 * - Context object: https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html
 * - History events: https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html
 * The wording of runtime errors is not in the guide; it is what executions on AWS recorded.
 */
import {
  DescribeExecutionCommand,
  StartExecutionCommand,
  UpdateStateMachineCommand,
} from '@aws-sdk/client-sfn';
import { chain, detailsOf, failure, ROLE, type Sfn, single, startSfn, types } from './harness';

let sfn: Sfn;
beforeAll(async () => {
  sfn = await startSfn();
});
afterAll(async () => {
  await sfn.stop();
});

const at = (state: string, id: number, message: string) =>
  `An error occurred while executing the state '${state}' (entered at the event id #${id}). ${message}`;

describe('errors', () => {
  // Error and Cause are optional; AWS invents neither.
  it('a Fail state without Error or Cause fails with neither', async () => {
    const run = await sfn.run(single({ Type: 'Fail' }));
    expect(failure(run)).toEqual({ status: 'FAILED' });
    expect(detailsOf(run.events, 'ExecutionFailed')).toEqual({});
  });

  it('ErrorPath that points nowhere is States.Runtime, worded as AWS words it', async () => {
    const run = await sfn.run(single({ Type: 'Fail', ErrorPath: '$.nope' }), { a: 1 });
    expect(failure(run)).toEqual({
      status: 'FAILED',
      error: 'States.Runtime',
      cause: at(
        'S',
        2,
        `The JSONPath '$.nope' specified for the field 'ErrorPath' could not be found in the input '{"a":1}'`,
      ),
    });
  });

  it('SecondsPath and TimestampPath that point nowhere', async () => {
    const seconds = await sfn.run(single({ Type: 'Wait', SecondsPath: '$.s' }), {});
    expect(failure(seconds)).toEqual({
      status: 'FAILED',
      error: 'States.Runtime',
      cause: at('S', 2, 'The SecondsPath parameter does not reference an input value: $.s'),
    });
    const stamp = await sfn.run(single({ Type: 'Wait', TimestampPath: '$.t' }), {});
    expect(failure(stamp).cause).toBe(
      at('S', 2, 'The TimestampPath parameter does not reference an input value: $.t'),
    );
  });

  // States.Runtime is not retried or caught, "not even by States.ALL".
  it('no Catcher catches States.Runtime', async () => {
    const run = await sfn.run({
      StartAt: 'P',
      States: {
        P: {
          Type: 'Parallel',
          Branches: [{ StartAt: 'W', States: { W: { Type: 'Wait', SecondsPath: '$.s', End: true } } }],
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Succeed' },
      },
    });
    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error).toBe('States.Runtime');
  });

  // An invalid MaxConcurrencyPath fails before the Map starts: no MapStateStarted or MapStateFailed.
  it('an invalid MaxConcurrencyPath stops after MapStateEntered', async () => {
    const run = await sfn.run(
      single({
        Type: 'Map',
        ItemsPath: '$.items',
        MaxConcurrencyPath: '$.max',
        ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } },
      }),
      { items: [1, 2], max: 'two' },
    );
    expect(failure(run)).toEqual({
      status: 'FAILED',
      error: 'States.Runtime',
      cause: at(
        'S',
        2,
        'The MaxConcurrencyPath field refers to value "two" which is not a valid integer: $.max',
      ),
    });
    expect(types(run.events)).toEqual(['ExecutionStarted', 'MapStateEntered', 'ExecutionFailed']);
    // Recorded on AWS: "NoNumber" and an object are refused the same way (a numeric string is not:
    // see jsonpath.test.ts).
    for (const [max, shown] of [
      ['NoNumber', 'NoNumber'],
      [{}, '{}'],
      [-1, '-1'],
      ['1.5', '1.5'],
    ] as const) {
      const refused = await sfn.run(run.execution.stateMachineArn as string, { items: [1], max });
      expect(failure(refused).cause).toBe(
        at(
          'S',
          2,
          `The MaxConcurrencyPath field refers to value "${shown}" which is not a valid integer: $.max`,
        ),
      );
    }
  });
});

describe('the Context object', () => {
  // `$$.State` has Name and EnteredTime (RetryCount in Tasks); `$$.Execution`, `$$.StateMachine`.
  it('$$.State, $$.Execution and $$.StateMachine', async () => {
    const run = await sfn.run(
      single({
        Type: 'Pass',
        Parameters: {
          'state.$': '$$.State.Name',
          'entered.$': '$$.State.EnteredTime',
          'execution.$': '$$.Execution.Name',
          'input.$': '$$.Execution.Input',
          'machine.$': '$$.StateMachine.Name',
          'machineId.$': '$$.StateMachine.Id',
        },
      }),
      { k: 1 },
    );
    const out = run.output as Record<string, unknown>;
    expect(out['state']).toBe('S');
    expect(out['input']).toEqual({ k: 1 });
    expect(out['execution']).toBe(run.execution.name);
    expect(run.execution.stateMachineArn?.endsWith(`:${String(out['machine'])}`)).toBe(true);
    // The machine's ARN, as rotate-fleet reads it to continue as a new execution of itself.
    expect(out['machineId']).toBe(run.execution.stateMachineArn);
    const entered = run.events.find((e) => e.type === 'PassStateEntered');
    expect(new Date(String(out['entered'])).getTime()).toBe(entered?.timestamp?.getTime());
  });

  // Recorded on AWS (a Pass state reading `$$` and each of its members): Execution holds Id (the
  // execution ARN), Input (the parsed input), StartTime (ISO 8601 UTC with milliseconds, the
  // ExecutionStarted time), Name, RoleArn (the machine's role) and RedriveCount 0, in that order;
  // StateMachine holds Id (the machine ARN) and Name; State holds Name and EnteredTime.
  it('AWS fills $$.Execution and $$.StateMachine with the execution and machine as they are', async () => {
    const machine = await sfn.create({
      StartAt: 'QueryValues1',
      States: {
        QueryValues1: {
          Type: 'Pass',
          ResultPath: '$.query_values_1',
          Parameters: {
            'context_object.$': '$$',
            'execution_id.$': '$$.Execution.Id',
            'execution_name.$': '$$.Execution.Name',
            'execution_rolearn.$': '$$.Execution.RoleArn',
            'execution_starttime.$': '$$.Execution.StartTime',
            'statemachine_id.$': '$$.StateMachine.Id',
            'statemachine_name.$': '$$.StateMachine.Name',
          },
          Next: 'Inside',
        },
        // The same object inside a Map iteration, with Map.Item beside it.
        Inside: {
          Type: 'Map',
          ItemsPath: '$.items',
          ItemSelector: { 'ctx.$': '$$' },
          ItemProcessor: { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } },
          ResultPath: '$.inside',
          End: true,
        },
      },
    });
    const name = `ctx-${Date.now()}`;
    const input = { message: 'TestMessage', items: ['x'] };
    const started = await sfn.client.send(
      new StartExecutionCommand({ stateMachineArn: machine, name, input: JSON.stringify(input) }),
    );
    await sfn.h.cloud.stepFunctions.awaitExecution(started.executionArn as string);
    const described = await sfn.client.send(
      new DescribeExecutionCommand({ executionArn: started.executionArn }),
    );
    const out = JSON.parse(described.output ?? 'null') as {
      query_values_1: Record<string, unknown> & { context_object: Record<string, Record<string, unknown>> };
      inside: { ctx: Record<string, Record<string, unknown>> }[];
    };
    const q = out.query_values_1;
    const ctx = q.context_object;
    expect(Object.keys(ctx)).toEqual(['Execution', 'StateMachine', 'State']);
    expect(Object.keys(ctx['Execution'] ?? {})).toEqual([
      'Id',
      'Input',
      'StartTime',
      'Name',
      'RoleArn',
      'RedriveCount',
    ]);
    expect(ctx['Execution']).toEqual({
      Id: started.executionArn,
      Input: input,
      StartTime: started.startDate?.toISOString(),
      Name: name,
      RoleArn: ROLE,
      RedriveCount: 0,
    });
    expect(String(ctx['Execution']?.['StartTime'])).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(ctx['StateMachine']).toEqual({ Id: machine, Name: machine.split(':').pop() });
    expect(Object.keys(ctx['State'] ?? {})).toEqual(['Name', 'EnteredTime']);
    expect(ctx['State']?.['Name']).toBe('QueryValues1');
    expect(q).toMatchObject({
      execution_id: started.executionArn,
      execution_name: name,
      execution_rolearn: ROLE,
      execution_starttime: started.startDate?.toISOString(),
      statemachine_id: machine,
      statemachine_name: machine.split(':').pop(),
    });
    const inner = out.inside[0]?.ctx;
    expect(inner?.['Execution']).toEqual(ctx['Execution']);
    expect(inner?.['StateMachine']).toEqual(ctx['StateMachine']);
    expect(inner?.['Map']).toEqual({ Item: { Index: 0, Value: 'x' } });
  });

  it("$$.State.RetryCount counts a Task's retries", async () => {
    let calls = 0;
    const fn = sfn.lambda('ctx-flaky', async (event) => {
      calls++;
      if (calls === 1) {
        const e = new Error('once');
        e.name = 'FlakyError';
        throw e;
      }
      return event;
    });
    const run = await sfn.run(
      single({
        Type: 'Task',
        Resource: fn,
        Parameters: { 'retries.$': '$$.State.RetryCount' },
        Retry: [{ ErrorEquals: ['FlakyError'], IntervalSeconds: 1, MaxAttempts: 2 }],
      }),
    );
    expect(run.output).toEqual({ retries: 1 });
  });

  it('$states.context in JSONata is the same object', async () => {
    const run = await sfn.run(
      single({ Type: 'Pass', Output: '{% $states.context.State.Name %}' }, { QueryLanguage: 'JSONata' }),
    );
    expect(run.output).toBe('S');
  });
});

describe('history events', () => {
  // Ids count up; each event names the one it followed (previousEventId), except the first state's
  // entry, which AWS records with previousEventId 0.
  it('ids count up and each event names an earlier one', async () => {
    const run = await sfn.run({
      StartAt: 'A',
      States: { A: { Type: 'Pass', Next: 'B' }, B: { Type: 'Pass', End: true } },
    });
    expect(chain(run.events)).toEqual([
      [1, 0, 'ExecutionStarted'],
      [2, 0, 'PassStateEntered'],
      [3, 2, 'PassStateExited'],
      [4, 3, 'PassStateEntered'],
      [5, 4, 'PassStateExited'],
      [6, 5, 'ExecutionSucceeded'],
    ]);
  });

  // AWS records no ParallelStateSucceeded before ParallelStateExited.
  it('Parallel: Entered, Started, the branches, Exited', async () => {
    const run = await sfn.run(
      single({ Type: 'Parallel', Branches: [{ StartAt: 'B', States: { B: { Type: 'Pass', End: true } } }] }),
    );
    expect(types(run.events)).toEqual([
      'ExecutionStarted',
      'ParallelStateEntered',
      'ParallelStateStarted',
      'PassStateEntered',
      'PassStateExited',
      'ParallelStateExited',
      'ExecutionSucceeded',
    ]);
  });

  // A caught Map failure is MapStateFailed, then the Catcher's next state: no MapStateSucceeded.
  it('Map: a caught failure records MapStateFailed and nothing that says it succeeded', async () => {
    const run = await sfn.run(
      {
        StartAt: 'M',
        States: {
          M: {
            Type: 'Map',
            ItemProcessor: { StartAt: 'F', States: { F: { Type: 'Fail', Error: 'ItemBad' } } },
            Catch: [{ ErrorEquals: ['ItemBad'], Next: 'Caught' }],
            End: true,
          },
          Caught: { Type: 'Pass', End: true },
        },
      },
      [1],
    );
    const t = types(run.events);
    expect(t).toContain('MapStateFailed');
    expect(t).not.toContain('MapStateSucceeded');
    expect(t.slice(t.indexOf('MapStateFailed'))).toEqual([
      'MapStateFailed',
      'MapStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
    expect(run.output).toEqual({ Error: 'ItemBad', Cause: '' });
  });

  // A Map that succeeds: MapStateStarted with its length, one iteration per item, MapStateSucceeded.
  it('Map: Started with the length, iterations, Succeeded, Exited', async () => {
    const run = await sfn.run(
      single({ Type: 'Map', ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } } }),
      [7],
    );
    expect(types(run.events)).toEqual([
      'ExecutionStarted',
      'MapStateEntered',
      'MapStateStarted',
      'MapIterationStarted',
      'PassStateEntered',
      'PassStateExited',
      'MapIterationSucceeded',
      'MapStateSucceeded',
      'MapStateExited',
      'ExecutionSucceeded',
    ]);
    expect(detailsOf(run.events, 'MapStateStarted')).toEqual({ length: 1 });
  });
});

describe('the API as AWS answers it', () => {
  const reject = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e as Error,
    );

  // Recorded on AWS (StartExecution): an empty input is InvalidExecutionInput "Invalid execution
  // input."; text that is not JSON is InvalidExecutionInput too; "2", a JSON string and null are
  // inputs like any other.
  it('AWS refuses an empty or non-JSON execution input (InvalidExecutionInput) and takes any JSON value', async () => {
    const machine = await sfn.create(single({ Type: 'Pass' }));
    const start = (input: string) =>
      sfn.client.send(new StartExecutionCommand({ stateMachineArn: machine, input }));
    const empty = await reject(start(''));
    expect(empty?.name).toBe('InvalidExecutionInput');
    expect(empty?.message).toBe("Invalid State Machine Execution Input: 'Invalid execution input.'");
    for (const text of ['not some json', "{'not': 'json'"]) {
      const e = await reject(start(text));
      expect(e?.name).toBe('InvalidExecutionInput');
      expect(e?.message).toMatch(/^Invalid State Machine Execution Input: '.+'$/);
    }
    for (const text of ['2', '"some text"', 'null']) {
      const { executionArn } = await start(text);
      await sfn.h.cloud.stepFunctions.awaitExecution(executionArn as string);
      const d = await sfn.client.send(new DescribeExecutionCommand({ executionArn }));
      expect([text, d.status, d.output]).toEqual([text, 'SUCCEEDED', text]);
    }
  });

  // Recorded on AWS (UpdateStateMachine with nothing to update): MissingRequiredParameter, in
  // these words.
  it('AWS refuses an UpdateStateMachine with nothing to change: MissingRequiredParameter', async () => {
    const machine = await sfn.create(single({ Type: 'Pass' }));
    const e = await reject(sfn.client.send(new UpdateStateMachineCommand({ stateMachineArn: machine })));
    expect(e?.name).toBe('MissingRequiredParameter');
    expect(e?.message).toBe(
      'Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified',
    );
  });
});
