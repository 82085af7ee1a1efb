/**
 * Workflow variables: Assign in both query languages, when assignments take effect, and their
 * scopes in Map and Parallel.
 * https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html
 */
import { detailsOf, type Sfn, startSfn } from './harness';

let sfn: Sfn;
beforeAll(async () => {
  sfn = await startSfn();
});
afterAll(async () => {
  await sfn.stop();
});

const refusal = (definition: unknown) =>
  sfn.create(definition).then(
    () => undefined,
    (e: unknown) => e as Error,
  );

describe('variables', () => {
  // The case: a Choice that reads `$guess` (JSONPath `Variable`) routes on it.
  it('JSONPath: Assign with .$ fields, a Choice reads the variable', async () => {
    const def = {
      StartAt: 'Guess',
      States: {
        Guess: { Type: 'Pass', Assign: { 'guess.$': '$.n', fixed: 'x' }, Next: 'Check' },
        Check: {
          Type: 'Choice',
          Choices: [{ Variable: '$guess', NumericGreaterThan: 5, Next: 'High' }],
          Default: 'Low',
        },
        High: { Type: 'Pass', Parameters: { 'guess.$': '$guess', 'fixed.$': '$fixed' }, End: true },
        Low: { Type: 'Pass', Result: 'low', End: true },
      },
    };
    const arn = await sfn.create(def);
    expect((await sfn.run(arn, { n: 9 })).output).toEqual({ guess: 9, fixed: 'x' });
    expect((await sfn.run(arn, { n: 1 })).output).toBe('low');
  });

  // "Variables are assigned after ... Output": a state's fields read the values from before it,
  // so swapping two variables in one Assign works.
  it('JSONata: one Assign reads the values from before it, and Output does not see them', async () => {
    const run = await sfn.run({
      QueryLanguage: 'JSONata',
      StartAt: 'Init',
      States: {
        Init: { Type: 'Pass', Assign: { a: 1, b: 2 }, Next: 'Swap' },
        Swap: {
          Type: 'Pass',
          Assign: { a: '{% $b %}', b: '{% $a %}' },
          Output: { a: '{% $a %}' },
          Next: 'Read',
        },
        Read: {
          Type: 'Pass',
          Output: { before: '{% $states.input.a %}', a: '{% $a %}', b: '{% $b %}' },
          End: true,
        },
      },
    });
    expect(run.output).toEqual({ before: 1, a: 2, b: 1 });
  });

  // Assign in a Task reads `$states.result`; in a Catcher, `$states.errorOutput`.
  it('JSONata: a Task assigns from $states.result, a Catcher from $states.errorOutput', async () => {
    const ok = sfn.lambda('vars-ok', async () => ({ id: 'r-1' }));
    const bad = sfn.lambda('vars-bad', async () => {
      const e = new Error('nope');
      e.name = 'NopeError';
      throw e;
    });
    const run = await sfn.run({
      QueryLanguage: 'JSONata',
      StartAt: 'A',
      States: {
        A: { Type: 'Task', Resource: ok, Assign: { id: '{% $states.result.id %}' }, Next: 'B' },
        B: {
          Type: 'Task',
          Resource: bad,
          Catch: [
            { ErrorEquals: ['States.ALL'], Assign: { err: '{% $states.errorOutput.Error %}' }, Next: 'C' },
          ],
          End: true,
        },
        C: { Type: 'Pass', Output: { id: '{% $id %}', err: '{% $err %}' }, End: true },
      },
    });
    expect(run.output).toEqual({ id: 'r-1', err: 'NopeError' });
  });

  // "Variable scope": Map iterations and Parallel branches read the outer variables; what they
  // assign stays inside them.
  it('Map and Parallel read outer variables; inner assignments stay inner', async () => {
    const run = await sfn.run({
      QueryLanguage: 'JSONata',
      StartAt: 'Init',
      States: {
        Init: { Type: 'Pass', Assign: { base: 100 }, Next: 'M' },
        M: {
          Type: 'Map',
          Items: '{% [1, 2] %}',
          ItemProcessor: {
            StartAt: 'Inner',
            States: {
              Inner: { Type: 'Pass', Assign: { local: '{% $states.input + $base %}' }, Next: 'Use' },
              Use: { Type: 'Pass', Output: '{% $local %}', End: true },
            },
          },
          Next: 'P',
        },
        P: {
          Type: 'Parallel',
          Branches: [{ StartAt: 'B', States: { B: { Type: 'Pass', Output: '{% $base * 2 %}', End: true } } }],
          Output: { map: '{% $states.input %}', par: '{% $states.result %}' },
          Next: 'After',
        },
        After: {
          Type: 'Pass',
          Output: { all: '{% $states.input %}', local: '{% $exists($local) %}' },
          End: true,
        },
      },
    });
    expect(run.output).toEqual({ all: { map: [101, 102], par: [200] }, local: false });
  });

  // "you can't assign a value to a variable in an outer scope" from inside Map or Parallel.
  it('refuses an inner assignment to an outer variable at CreateStateMachine', async () => {
    const err = await refusal({
      StartAt: 'Init',
      States: {
        Init: { Type: 'Pass', Assign: { x: 1 }, Next: 'M' },
        M: {
          Type: 'Map',
          ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', Assign: { x: 2 }, End: true } } },
          End: true,
        },
      },
    });
    expect(err?.name).toBe('InvalidDefinition');
    expect(err?.message).toMatch(/'x'/);
  });

  // Recorded on AWS: a JSONPath Pass state whose Assign holds only constants (null, numbers, lists
  // with null, nested objects, and strings that look like paths, variables, intrinsic calls or
  // JSONata but sit under keys without `.$`) is created and runs, each variable the constant as
  // written, recorded in assignedVariables as its JSON text.
  it('AWS accepts an Assign of constant literals and assigns them as written', async () => {
    const constants = {
      constant_null: null,
      constant_int: 0,
      constant_float: 0.1,
      constant_bool: true,
      constant_str: 'constant string',
      constant_str_path_root: '$',
      constant_str_path: '$.no.such.path',
      constant_str_contextpath: '$$.Execution.Id',
      constant_str_var: '$noSuchVar',
      constant_str_intrinsic_func: "States.Format('Format Func {}', $varname)",
      constant_str_jsonata_expr: '{% $varname.varfield %}',
      constant_lst_empty: [],
      constant_lst: [
        null,
        0,
        0.1,
        true,
        '$.no.such.path',
        '$varname',
        '{% $varname %}',
        '$$',
        [],
        { constant: 0 },
      ],
      constant_obj_empty: {},
      constant_obj: {
        in_obj_constant_null: null,
        in_obj_constant_lst: [null, '$$'],
        in_obj_constant_obj: { constant: 0 },
      },
    };
    const run = await sfn.run({
      StartAt: 'State0',
      States: {
        State0: { Type: 'Pass', Assign: constants, Next: 'Read' },
        Read: {
          Type: 'Pass',
          Parameters: Object.fromEntries(Object.keys(constants).map((k) => [`${k}.$`, `$${k}`])),
          End: true,
        },
      },
    });
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.output).toEqual(constants);
    const assigned = detailsOf(run.events, 'PassStateExited')?.['assignedVariables'] as Record<
      string,
      string
    >;
    expect(assigned['constant_null']).toBe('null');
    expect(assigned['constant_float']).toBe('0.1');
    expect(assigned['constant_str_path']).toBe('"$.no.such.path"');
    expect(assigned['constant_lst']).toBe(
      '[null,0,0.1,true,"$.no.such.path","$varname","{% $varname %}","$$",[],{"constant":0}]',
    );
  });

  // "states" is reserved (it is JSONata's `$states`); names follow JavaScript identifiers.
  it.each([['states'], ['1abc'], ['has-dash']])('refuses the variable name %s', async (name) => {
    const err = await refusal({
      StartAt: 'A',
      States: { A: { Type: 'Pass', Assign: { [name]: 1 }, End: true } },
    });
    expect(err?.name).toBe('InvalidDefinition');
  });
});
