/**
 * JSONata state machines as AWS runs them: `QueryLanguage` at the top and per state, `{% %}`
 * expressions, `$states.input/result/context/errorOutput`, Arguments, Output, Condition, Items,
 * ItemSelector, and the definitions AWS refuses.
 * https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html
 */
import { ListStateMachinesCommand } from '@aws-sdk/client-sfn';
import { detailsOf, failure, type Sfn, single, startSfn, types } from './harness';

let sfn: Sfn;
beforeAll(async () => {
  sfn = await startSfn();
});
afterAll(async () => {
  await sfn.stop();
});

const JSONATA = { QueryLanguage: 'JSONata' };

describe('JSONata expressions', () => {
  // "Output ... the value of the output of the state"; `$states.input` is the state's input.
  it('evaluates Output from $states.input', async () => {
    const run = await sfn.run(
      single(
        { Type: 'Pass', Output: { sum: '{% $states.input.a + $states.input.b %}', kept: 'text' } },
        JSONATA,
      ),
      { a: 2, b: 40 },
    );
    expect(run.output).toEqual({ sum: 42, kept: 'text' });
  });

  // A string that is only `{% %}` yields the expression's value, of any JSON type.
  it('yields numbers, arrays and objects, not the text of the expression', async () => {
    const run = await sfn.run(
      single({ Type: 'Pass', Output: '{% [1, 2, {"x": $states.input.n}] %}' }, JSONATA),
      {
        n: 3,
      },
    );
    expect(run.output).toEqual([1, 2, { x: 3 }]);
  });

  // Task: Arguments is what the resource gets; `$states.result` is what it returned.
  // https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html
  it('sends Arguments to the Task and shapes its Output from $states.result', async () => {
    const seen: unknown[] = [];
    const fn = sfn.lambda('jsonata-args', async (event) => {
      seen.push(event);
      return { doubled: (event as { v: number }).v * 2 };
    });
    const run = await sfn.run(
      single(
        {
          Type: 'Task',
          Resource: fn,
          Arguments: { v: '{% $states.input.value %}' },
          Output: { got: '{% $states.result.doubled %}', was: '{% $states.input.value %}' },
        },
        JSONATA,
      ),
      { value: 21 },
    );
    expect(seen).toEqual([{ v: 21 }]);
    expect(run.output).toEqual({ got: 42, was: 21 });
  });

  // Catch: `$states.errorOutput` is `{Error, Cause}`; the Catcher's Output shapes what goes on.
  // https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
  it('hands $states.errorOutput to a Catcher Output', async () => {
    const fn = sfn.lambda('jsonata-throws', async () => {
      const e = new Error('it broke');
      e.name = 'BrokenError';
      throw e;
    });
    const run = await sfn.run(
      {
        ...JSONATA,
        StartAt: 'T',
        States: {
          T: {
            Type: 'Task',
            Resource: fn,
            Catch: [{ ErrorEquals: ['BrokenError'], Next: 'After', Output: '{% $states.errorOutput %}' }],
            End: true,
          },
          After: { Type: 'Pass', Output: { error: '{% $states.input.Error %}' }, End: true },
        },
      },
      {},
    );
    expect(run.output).toEqual({ error: 'BrokenError' });
  });

  // Choice rules are `Condition` expressions in JSONata.
  // https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html
  it('routes a Choice on Condition', async () => {
    const def = {
      ...JSONATA,
      StartAt: 'C',
      States: {
        C: {
          Type: 'Choice',
          Choices: [{ Condition: '{% $states.input.n > 10 %}', Next: 'Big' }],
          Default: 'Small',
        },
        Big: { Type: 'Pass', Output: 'big', End: true },
        Small: { Type: 'Pass', Output: 'small', End: true },
      },
    };
    const arn = await sfn.create(def);
    expect((await sfn.run(arn, { n: 11 })).output).toBe('big');
    expect((await sfn.run(arn, { n: 1 })).output).toBe('small');
  });

  // Recorded on AWS: a JSONata Choice rule whose Condition is the constant `true` (not a `{% %}`
  // expression) is created and takes its rule; `false` falls through to the next rule or Default.
  it('AWS accepts a Choice whose Condition is a JSONata constant and routes on it', async () => {
    const run = await sfn.run({
      StartAt: 'ChoiceState',
      States: {
        ChoiceState: {
          Type: 'Choice',
          QueryLanguage: 'JSONata',
          Choices: [
            { Condition: false, Next: 'DefaultState' },
            { Condition: true, Next: 'ConditionTrue' },
          ],
          Default: 'DefaultState',
        },
        ConditionTrue: { Type: 'Pass', End: true },
        DefaultState: { Type: 'Fail', Cause: 'Condition is false' },
      },
    });
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(types(run.events)).toEqual([
      'ExecutionStarted',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
  });

  // Map: Items picks the array, ItemSelector reads `$states.context.Map.Item`.
  // https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemselector.html
  it('iterates Items and builds each item with ItemSelector from $states.context.Map.Item', async () => {
    const run = await sfn.run(
      single(
        {
          Type: 'Map',
          Items: '{% $states.input.list %}',
          ItemSelector: {
            value: '{% $states.context.Map.Item.Value %}',
            index: '{% $states.context.Map.Item.Index %}',
          },
          ItemProcessor: {
            StartAt: 'P',
            States: {
              P: { Type: 'Pass', Output: '{% $states.input.value & "@" & $states.input.index %}', End: true },
            },
          },
        },
        JSONATA,
      ),
      { list: ['a', 'b'] },
    );
    expect(run.output).toEqual(['a@0', 'b@1']);
  });

  // Fail: Error and Cause are expressions, evaluated (not their text).
  // https://docs.aws.amazon.com/step-functions/latest/dg/state-fail.html
  it('evaluates a Fail state Error and Cause', async () => {
    const run = await sfn.run(
      single(
        {
          Type: 'Fail',
          Error: '{% "Custom." & $states.input.kind %}',
          Cause: '{% "n=" & $states.input.n %}',
        },
        JSONATA,
      ),
      { kind: 'Bad', n: 7 },
    );
    expect(failure(run)).toEqual({ status: 'FAILED', error: 'Custom.Bad', cause: 'n=7' });
  });

  // A state may opt into JSONata inside a JSONPath machine ("upgrade"), not the other way round.
  it('runs a JSONata state inside a JSONPath machine', async () => {
    const run = await sfn.run(
      {
        StartAt: 'A',
        States: {
          A: { Type: 'Pass', Parameters: { 'n.$': '$.x' }, Next: 'B' },
          B: { Type: 'Pass', QueryLanguage: 'JSONata', Output: '{% $states.input.n * 10 %}', End: true },
        },
      },
      { x: 4 },
    );
    expect(run.output).toBe(40);
  });

  // A field that evaluates to nothing is States.QueryEvaluationError, recorded as EvaluationFailed.
  // https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
  it('fails with States.QueryEvaluationError and an EvaluationFailed event when an expression yields nothing', async () => {
    const run = await sfn.run(single({ Type: 'Pass', Output: '{% $states.input.missing %}' }, JSONATA), {});
    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error).toBe('States.QueryEvaluationError');
    expect(types(run.events)).toContain('EvaluationFailed');
    expect(detailsOf(run.events, 'EvaluationFailed')).toMatchObject({
      error: 'States.QueryEvaluationError',
      state: 'S',
    });
  });

  // ... and it is catchable, unlike States.Runtime.
  it('lets a Catcher on States.QueryEvaluationError catch it', async () => {
    const run = await sfn.run(
      {
        ...JSONATA,
        StartAt: 'T',
        States: {
          T: {
            Type: 'Task',
            Resource: sfn.lambda('jsonata-ok', async () => ({})),
            Arguments: '{% $states.input.missing %}',
            Catch: [{ ErrorEquals: ['States.QueryEvaluationError'], Next: 'Caught' }],
            End: true,
          },
          Caught: { Type: 'Pass', Output: '{% $states.input.Error %}', End: true },
        },
      },
      {},
    );
    expect(run.output).toBe('States.QueryEvaluationError');
  });
});

// "JSONata functions provided by Step Functions", transforming-data.html#jsonata-functions.
describe('the functions Step Functions adds to JSONata', () => {
  it('$partition, $range, $hash, $random with a seed, $uuid, $parse', async () => {
    const run = await sfn.run(
      single(
        {
          Type: 'Pass',
          Output: {
            partition: '{% $partition([1, 2, 3, 4, 5], 2) %}',
            range: '{% $range(0, 10, 5) %}',
            md5: "{% $hash('input data', 'MD5') %}",
            same: '{% $random(7) = $random(7) %}',
            unit: '{% $random() >= 0 and $random() < 1 %}',
            uuid: '{% $uuid() %}',
            parsed: '{% $parse($states.input.text) %}',
            builtin: '{% $sum($states.input.n) & "/" & $uppercase("x") %}',
          },
        },
        JSONATA,
      ),
      { text: '{"a":[1]}', n: [1, 2] },
    );
    expect(run.output).toEqual({
      partition: [[1, 2], [3, 4], [5]],
      range: [0, 5, 10],
      md5: '812f45842bc6d66ee14572ce20db8e86',
      same: true,
      unit: true,
      uuid: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      parsed: { a: [1] },
      builtin: '3/X',
    });
  });

  // "$eval is not supported": calling it fails the field like any failed expression.
  it('has no $eval', async () => {
    const run = await sfn.run(single({ Type: 'Pass', Output: '{% $eval("1 + 1") %}' }, JSONATA));
    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error).toBe('States.QueryEvaluationError');
  });
});

describe('definitions AWS accepts', () => {
  // Every JSONata field in one machine: expressions where AWS takes them (Wait Seconds, Task
  // TimeoutSeconds, Map MaxConcurrency), Choice rules with Assign and Output, Parallel Arguments.
  it('creates and runs a machine with every JSONata field', async () => {
    const fn = sfn.lambda('jsonata-every', async (event) => event);
    const run = await sfn.run(
      {
        ...JSONATA,
        StartAt: 'A',
        States: {
          A: { Type: 'Pass', Output: { x: '{% $states.input.x %}' }, Assign: { a: 1 }, Next: 'C' },
          C: {
            Type: 'Choice',
            Choices: [
              {
                Condition: '{% $a = 1 %}',
                Next: 'T',
                Assign: { b: 2 },
                Output: { x: '{% $states.input.x %}' },
              },
            ],
            Default: 'F',
          },
          T: {
            Type: 'Task',
            Resource: fn,
            Arguments: { v: '{% $states.input.x + $b %}' },
            TimeoutSeconds: '{% 30 %}',
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'F', Output: '{% $states.errorOutput %}' }],
            Next: 'M',
          },
          M: {
            Type: 'Map',
            Items: '{% [$states.input.v, $b] %}',
            ItemSelector: { v: '{% $states.context.Map.Item.Value %}' },
            MaxConcurrency: '{% 2 %}',
            ItemProcessor: {
              StartAt: 'P',
              States: { P: { Type: 'Pass', Output: '{% $states.input.v %}', End: true } },
            },
            Next: 'W',
          },
          W: { Type: 'Wait', Seconds: '{% 0 %}', Next: 'Par' },
          Par: {
            Type: 'Parallel',
            Arguments: { list: '{% $states.input %}' },
            Branches: [
              {
                StartAt: 'Q',
                States: { Q: { Type: 'Pass', Output: '{% $sum($states.input.list) %}', End: true } },
              },
            ],
            Output: '{% $states.result[0] %}',
            End: true,
          },
          F: { Type: 'Fail', Error: '{% "x" %}', Cause: '{% "y" %}' },
        },
      },
      { x: 3 },
    );
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.output).toBe(7);
  });
});

describe('definitions AWS refuses', () => {
  const refused = async (definition: unknown) => {
    const err = await sfn.create(definition).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.name).toBe('InvalidDefinition');
    return err?.message ?? '';
  };

  // "you can't use JSONPath in a state of a JSONata state machine"
  it('a JSONPath state in a JSONata machine', async () => {
    await refused({
      ...JSONATA,
      StartAt: 'A',
      States: { A: { Type: 'Pass', QueryLanguage: 'JSONPath', End: true } },
    });
  });

  // JSONata states have no Parameters, ResultPath, InputPath, OutputPath, ResultSelector.
  it.each(['Parameters', 'InputPath', 'OutputPath', 'ResultPath'])('%s in a JSONata state', async (field) => {
    await refused(single({ Type: 'Pass', [field]: field === 'Parameters' ? { a: 1 } : '$' }, JSONATA));
  });

  // and JSONPath states have no Output, Arguments or Condition.
  it('Output in a JSONPath state', async () => {
    await refused(single({ Type: 'Pass', Output: { a: 1 } }));
  });

  it('a JSONata expression that does not parse', async () => {
    const msg = await refused(single({ Type: 'Pass', Output: '{% $states.input.( %}' }, JSONATA));
    expect(msg).toMatch(/JSONata/);
  });

  it('changes nothing when it refuses', async () => {
    const list = async () =>
      ((await sfn.client.send(new ListStateMachinesCommand({}))).stateMachines ?? []).map((m) => m.name);
    const before = await list();
    await refused(single({ Type: 'Pass', Output: '{% ( %}' }, JSONATA));
    expect(await list()).toEqual(before);
  });
});
