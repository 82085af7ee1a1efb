/**
 * Intrinsic functions as AWS runs them.
 * https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html
 * Where the guide is silent (rounding, several delimiters, decimal bounds, objects in Format),
 * the expected values are what executions recorded on AWS returned.
 */
import { failure, type Sfn, single, startSfn } from './harness';

let sfn: Sfn;
beforeAll(async () => {
  sfn = await startSfn();
});
afterAll(async () => {
  await sfn.stop();
});

const call = async (params: Record<string, unknown>, input: unknown = {}) =>
  (await sfn.run(single({ Type: 'Pass', Parameters: params }), input)).output as Record<string, unknown>;

describe('intrinsic functions', () => {
  // MathAdd takes each argument as an integer (rounded half up): 1.49 + 1.5 is 1 + 2 = 3, not 2.99.
  it('States.MathAdd rounds its arguments to integers', async () => {
    const out = await call(
      { 'sum.$': 'States.MathAdd($.a, $.b)', 'neg.$': 'States.MathAdd($.c, $.d)' },
      { a: 1.49, b: 1.5, c: -1.5, d: 0 },
    );
    expect(out).toEqual({ sum: 3, neg: -1 });
  });

  // StringSplit: "the delimiter ... splits the string on each of its characters".
  it('States.StringSplit splits on each delimiter character', async () => {
    const out = await call({ 'parts.$': "States.StringSplit('a,b;c,,d', ',;')" });
    expect(out).toEqual({ parts: ['a', 'b', 'c', 'd'] });
  });

  // MathRandom accepts decimal bounds (AWS rounds them) and a seed repeats the number.
  it('States.MathRandom takes decimal bounds and repeats with a seed', async () => {
    const out = await call(
      {
        'r.$': 'States.MathRandom($.lo, $.hi)',
        'a.$': 'States.MathRandom(0, 1000, 7)',
        'b.$': 'States.MathRandom(0, 1000, 7)',
      },
      { lo: 1.2, hi: 5.7 },
    );
    expect(Number.isInteger(out['r'])).toBe(true);
    expect(out['r']).toBeGreaterThanOrEqual(1);
    expect(out['r']).toBeLessThan(6);
    expect(out['a']).toBe(out['b']);
  });

  // Format prints a JSON object argument as AWS does (a Java map), not an error.
  it('States.Format prints objects and arrays', async () => {
    const out = await call(
      { 'text.$': "States.Format('got {} and {}', $.o, $.a)" },
      { o: { k: 'v', n: 1 }, a: [1, 2] },
    );
    expect(out).toEqual({ text: 'got {k=v, n=1} and [1, 2]' });
  });

  // ErrorPath and CausePath take intrinsic functions (state-fail.html: "ErrorPath ... a reference
  // path or an intrinsic function").
  it('States.Format in a Fail state ErrorPath and CausePath', async () => {
    const run = await sfn.run(
      single({
        Type: 'Fail',
        ErrorPath: "States.Format('Custom.{}', $.kind)",
        CausePath: "States.Format('n is {}', $.n)",
      }),
      { kind: 'Bad', n: 2 },
    );
    expect(failure(run)).toEqual({ status: 'FAILED', error: 'Custom.Bad', cause: 'n is 2' });
  });

  it('the array and JSON functions', async () => {
    const out = await call(
      {
        'part.$': 'States.ArrayPartition($.l, 2)',
        'has.$': 'States.ArrayContains($.l, 3)',
        'range.$': 'States.ArrayRange(1, 9, 4)',
        'item.$': 'States.ArrayGetItem($.l, 1)',
        'len.$': 'States.ArrayLength($.l)',
        'uniq.$': 'States.ArrayUnique(States.Array(1, 1, 2))',
        'merged.$': 'States.JsonMerge($.x, $.y, false)',
        'json.$': 'States.StringToJson(\'{"a":1}\')',
        'text.$': 'States.JsonToString($.x)',
        'b64.$': "States.Base64Encode('hi')",
        'plain.$': "States.Base64Decode('aGk=')",
        'md5.$': "States.Hash('input data', 'MD5')",
      },
      { l: [1, 2, 3], x: { a: 1, b: 1 }, y: { b: 2 } },
    );
    expect(out).toEqual({
      part: [[1, 2], [3]],
      has: true,
      range: [1, 5, 9],
      item: 2,
      len: 3,
      uniq: [1, 2],
      merged: { a: 1, b: 2 },
      json: { a: 1 },
      text: '{"a":1,"b":1}',
      b64: 'aGk=',
      plain: 'hi',
      md5: '812f45842bc6d66ee14572ce20db8e86',
    });
  });

  // A function that cannot compute its value (an index out of bounds) ends the execution with
  // States.Runtime, as executions on AWS record it.
  it('an index out of bounds fails the execution with States.Runtime', async () => {
    const run = await sfn.run(
      single({ Type: 'Pass', Parameters: { 'v.$': 'States.ArrayGetItem($.l, 5)' } }),
      { l: [1] },
    );
    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error).toBe('States.Runtime');
  });
});
