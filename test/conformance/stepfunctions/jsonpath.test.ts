/**
 * The JSONPath subset the workflows use, each behaviour as the AWS guide states it:
 * - InputPath, Parameters, ResultSelector, ResultPath, OutputPath:
 *   https://docs.aws.amazon.com/step-functions/latest/dg/concepts-input-output-filtering.html
 * - Choice rules: https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html
 * - Map (ItemsPath, ItemSelector, MaxConcurrency): https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html
 * - Retry (BackoffRate, MaxDelaySeconds, JitterStrategy) and Catch ResultPath:
 *   https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
 * - Execution TimeoutSeconds: https://docs.aws.amazon.com/step-functions/latest/dg/statemachine-structure.html
 * - Optimized integrations (sns:publish, events:putEvents):
 *   https://docs.aws.amazon.com/step-functions/latest/dg/connect-sns.html,
 *   https://docs.aws.amazon.com/step-functions/latest/dg/connect-eventbridge.html
 */
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { type Sfn, single, startSfn, types } from './harness';

let sfn: Sfn;
beforeAll(async () => {
  sfn = await startSfn();
});
afterAll(async () => {
  await sfn.stop();
});

describe('JSONPath data flow', () => {
  it('InputPath, Parameters, ResultSelector, ResultPath and OutputPath, in that order', async () => {
    const fn = sfn.lambda('jp-echo', async (event) => ({ echoed: event, extra: 'dropped' }));
    const run = await sfn.run(
      single({
        Type: 'Task',
        Resource: fn,
        InputPath: '$.inner',
        Parameters: { 'v.$': '$.v', 'id.$': '$$.Execution.Id' },
        ResultSelector: { 'got.$': '$.echoed.v' },
        ResultPath: '$.result',
        OutputPath: '$.result',
      }),
      { inner: { v: 5 }, outer: true },
    );
    expect(run.output).toEqual({ got: 5 });
  });

  // ResultPath puts the result into the state's (whole) input, not its InputPath selection.
  it('ResultPath keeps the rest of the input', async () => {
    const run = await sfn.run(single({ Type: 'Pass', InputPath: '$.a', Result: 'r', ResultPath: '$.b' }), {
      a: 1,
    });
    expect(run.output).toEqual({ a: 1, b: 'r' });
  });

  it('Choice: StringEquals, BooleanEquals, IsPresent, And, and comparisons against a path', async () => {
    const arn = await sfn.create({
      StartAt: 'C',
      States: {
        C: {
          Type: 'Choice',
          Choices: [
            {
              And: [
                { Variable: '$.kind', StringEquals: 'x' },
                { Variable: '$.flag', BooleanEquals: true },
                { Variable: '$.n', NumericGreaterThanEqualsPath: '$.min' },
              ],
              Next: 'Yes',
            },
            { Variable: '$.opt', IsPresent: true, Next: 'Opt' },
            { Variable: '$.n', NumericGreaterThan: 100, Next: 'Big' },
          ],
          Default: 'No',
        },
        Yes: { Type: 'Pass', Result: 'yes', End: true },
        Opt: { Type: 'Pass', Result: 'opt', End: true },
        Big: { Type: 'Pass', Result: 'big', End: true },
        No: { Type: 'Pass', Result: 'no', End: true },
      },
    });
    const out = async (input: unknown) => (await sfn.run(arn, input)).output;
    expect(await out({ kind: 'x', flag: true, n: 3, min: 3 })).toBe('yes');
    expect(await out({ kind: 'x', flag: true, n: 2, min: 3, opt: null })).toBe('opt');
    expect(await out({ kind: 'y', n: 101 })).toBe('big');
    expect(await out({ kind: 'y', n: 1 })).toBe('no');
  });

  // StringMatches: `*` matches any run of characters, `\\*` a literal star (state-choice.html).
  it('Choice: IsString and StringMatches; Pass keeps only its OutputPath', async () => {
    const arn = await sfn.create({
      StartAt: 'C',
      States: {
        C: {
          Type: 'Choice',
          Choices: [
            {
              And: [
                { Variable: '$.name', IsString: true },
                { Variable: '$.name', StringMatches: 'credflow/*/app' },
              ],
              Next: 'Ours',
            },
            { Variable: '$.name', StringMatches: 'literal\\*star', Next: 'Star' },
          ],
          Default: 'Other',
        },
        Ours: { Type: 'Pass', Result: { kind: 'ours', extra: 1 }, OutputPath: '$.kind', End: true },
        Star: { Type: 'Pass', Result: 'star', End: true },
        Other: { Type: 'Pass', Result: 'other', End: true },
      },
    });
    const out = async (input: unknown) => (await sfn.run(arn, input)).output;
    expect(await out({ name: 'credflow/shop-db/app' })).toBe('ours');
    expect(await out({ name: 'credflow/app' })).toBe('other');
    expect(await out({ name: 'literal*star' })).toBe('star');
    expect(await out({ name: 'literalXstar' })).toBe('other');
    expect(await out({ name: 42 })).toBe('other');
  });

  it('Map: ItemsPath, ItemSelector with $$.Map.Item, MaxConcurrency and MaxConcurrencyPath, ResultPath', async () => {
    const processor = (name: string) => ({ StartAt: name, States: { [name]: { Type: 'Pass', End: true } } });
    const run = await sfn.run(
      {
        StartAt: 'M1',
        States: {
          M1: {
            Type: 'Map',
            ItemsPath: '$.items',
            ItemSelector: { 'v.$': '$$.Map.Item.Value.name', 'i.$': '$$.Map.Item.Index', 'tag.$': '$.tag' },
            MaxConcurrency: 1,
            ItemProcessor: processor('P1'),
            ResultPath: '$.first',
            Next: 'M2',
          },
          M2: {
            Type: 'Map',
            ItemsPath: '$.items',
            MaxConcurrencyPath: '$.max',
            ItemProcessor: processor('P2'),
            ResultPath: '$.second',
            End: true,
          },
        },
      },
      { items: [{ name: 'a' }, { name: 'b' }], tag: 't', max: 2 },
    );
    expect(run.output).toEqual({
      items: [{ name: 'a' }, { name: 'b' }],
      tag: 't',
      max: 2,
      first: [
        { v: 'a', i: 0, tag: 't' },
        { v: 'b', i: 1, tag: 't' },
      ],
      second: [{ name: 'a' }, { name: 'b' }],
    });
  });

  // Recorded on AWS: MaxConcurrencyPath that finds the string "1" runs the Map (one at a time);
  // "NoNumber" and `{}` fail with States.Runtime (see errors-history).
  it('AWS takes a numeric string from MaxConcurrencyPath', async () => {
    const run = await sfn.run({
      StartAt: 'Start',
      States: {
        Start: {
          Type: 'Pass',
          Assign: { maxConcurrency: '1' },
          Result: { Values: [1, 2, 3] },
          Next: 'MapState',
        },
        MapState: {
          Type: 'Map',
          ItemsPath: '$.Values',
          MaxConcurrencyPath: '$maxConcurrency',
          ItemProcessor: {
            ProcessorConfig: { Mode: 'INLINE' },
            StartAt: 'HandleItem',
            States: { HandleItem: { Type: 'Pass', End: true } },
          },
          End: true,
        },
      },
    });
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.output).toEqual([1, 2, 3]);
    // One at a time: each iteration starts after the one before it succeeded.
    const iterations = run.events
      .filter((e) => e.type === 'MapIterationStarted' || e.type === 'MapIterationSucceeded')
      .map((e) => e.type);
    expect(iterations).toEqual([
      'MapIterationStarted',
      'MapIterationSucceeded',
      'MapIterationStarted',
      'MapIterationSucceeded',
      'MapIterationStarted',
      'MapIterationSucceeded',
    ]);
    const fromInput = await sfn.run(
      single({
        Type: 'Map',
        ItemsPath: '$.items',
        MaxConcurrencyPath: '$.max',
        ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } },
      }),
      { items: ['a', 'b'], max: '2' },
    );
    expect(fromInput.output).toEqual(['a', 'b']);
  });

  // "Inline Map ... runs at most 40 concurrent iterations" whatever MaxConcurrency asks
  // (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html): 0 (no limit),
  // 1000 by MaxConcurrencyPath, or a JSONata MaxConcurrency of 500, never more than 40 in flight.
  it('AWS runs at most 40 iterations of an inline Map at once', async () => {
    let inFlight = 0;
    let most = 0;
    const fn = sfn.lambda('map-40', async (event) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 100));
      inFlight--;
      return event;
    });
    const items = Array.from({ length: 100 }, (_, i) => i);
    const processor = { StartAt: 'Work', States: { Work: { Type: 'Task', Resource: fn, End: true } } };
    const cases: [string, unknown, unknown][] = [
      [
        'MaxConcurrency 0',
        single({ Type: 'Map', ItemsPath: '$.items', MaxConcurrency: 0, ItemProcessor: processor }),
        { items },
      ],
      [
        'MaxConcurrencyPath 1000',
        single({ Type: 'Map', ItemsPath: '$.items', MaxConcurrencyPath: '$.max', ItemProcessor: processor }),
        { items, max: 1000 },
      ],
      [
        'JSONata MaxConcurrency 500',
        single(
          { Type: 'Map', Items: '{% $states.input.items %}', MaxConcurrency: 500, ItemProcessor: processor },
          { QueryLanguage: 'JSONata' },
        ),
        { items },
      ],
    ];
    for (const [label, def, input] of cases) {
      most = 0;
      const run = await sfn.run(def, input);
      expect([label, run.output]).toEqual([label, items]);
      expect([label, most]).toEqual([label, 40]);
    }
  });

  // Each iteration and branch follows its parent's abort while it runs, and only then: a Map of
  // many iterations inside a Parallel leaves no listener behind (Node warns past 10 on a signal).
  it('a Map of 80 iterations inside a Parallel holds abort listeners for the iterations in flight only', async () => {
    // The most abort listeners any one signal held at once while the execution ran.
    const held = new Map<EventTarget, number>();
    let most = 0;
    const proto = EventTarget.prototype;
    const add = proto.addEventListener;
    const remove = proto.removeEventListener;
    const count = (target: EventTarget, type: string, by: number) => {
      if (!(target instanceof AbortSignal) || type !== 'abort') return;
      const n = (held.get(target) ?? 0) + by;
      held.set(target, n);
      most = Math.max(most, n);
    };
    proto.addEventListener = function (this: EventTarget, type, listener, options) {
      count(this, type, 1);
      return add.call(this, type, listener, options);
    };
    proto.removeEventListener = function (this: EventTarget, type, listener, options) {
      count(this, type, -1);
      return remove.call(this, type, listener, options);
    };
    try {
      const items = Array.from({ length: 80 }, (_, i) => i);
      const run = await sfn.run(
        single({
          Type: 'Parallel',
          Branches: [
            {
              StartAt: 'M',
              States: {
                M: {
                  Type: 'Map',
                  ItemsPath: '$.items',
                  MaxConcurrency: 5,
                  ItemProcessor: { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } },
                  End: true,
                },
              },
            },
          ],
        }),
        { items },
      );
      expect(run.output).toEqual([items]);
      expect(most).toBeGreaterThan(0);
      // A few per iteration in flight (MaxConcurrency 5), not one per iteration run (80).
      expect(most).toBeLessThan(20);
    } finally {
      proto.addEventListener = add;
      proto.removeEventListener = remove;
    }
  });

  // Recorded on AWS: `$['Test\""Name"']` finds the key `Test\""Name"` (a backslash and quotes in
  // it): a backslash in a quoted name keeps the next character from closing it and stays part
  // of the name.
  it('AWS reads a bracketed JSONPath key with escaped quotes as written', async () => {
    const key = 'Test\\""Name"';
    const run = await sfn.run(single({ Type: 'Pass', Parameters: { 'value.$': `$['${key}']` } }), {
      [key]: 'Value"\\',
    });
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.output).toEqual({ value: 'Value"\\' });
  });

  // A timestamp in the past does not wait (rotate-fleet-page's start times once they are due);
  // one ahead waits until then.
  it('Wait TimestampPath waits until the time the input names', async () => {
    const past = await sfn.run(single({ Type: 'Wait', TimestampPath: '$.at' }), {
      at: new Date(Date.now() - 60_000).toISOString(),
    });
    expect(past.execution.status).toBe('SUCCEEDED');
    expect(types(past.events)).toEqual([
      'ExecutionStarted',
      'WaitStateEntered',
      'WaitStateExited',
      'ExecutionSucceeded',
    ]);
    const at = new Date(Date.now() + 1500);
    const ahead = await sfn.run(single({ Type: 'Wait', TimestampPath: '$.at' }), { at: at.toISOString() });
    const exited = ahead.events.find((e) => e.type === 'WaitStateExited');
    expect(exited?.timestamp?.getTime()).toBeGreaterThanOrEqual(at.getTime() - 5);
  });

  it('Wait SecondsPath waits the seconds the input names', async () => {
    const run = await sfn.run(single({ Type: 'Wait', SecondsPath: '$.s' }), { s: 0 });
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(types(run.events)).toEqual([
      'ExecutionStarted',
      'WaitStateEntered',
      'WaitStateExited',
      'ExecutionSucceeded',
    ]);
  });
});

describe('Retry and Catch', () => {
  // MaxAttempts counts retries after the first attempt; BackoffRate, MaxDelaySeconds and
  // JitterStrategy shape the delays between them.
  it('retries MaxAttempts times with backoff, jitter and a cap, then catches into ResultPath', async () => {
    let calls = 0;
    const fn = sfn.lambda('jp-always-fails', async () => {
      calls++;
      const e = new Error('still down');
      e.name = 'DownError';
      throw e;
    });
    const run = await sfn.run(
      {
        StartAt: 'T',
        States: {
          T: {
            Type: 'Task',
            Resource: fn,
            Retry: [
              {
                ErrorEquals: ['DownError'],
                IntervalSeconds: 1,
                MaxAttempts: 2,
                BackoffRate: 1.5,
                MaxDelaySeconds: 1,
                JitterStrategy: 'FULL',
              },
            ],
            Catch: [
              { ErrorEquals: ['States.TaskFailed', 'States.ALL'], ResultPath: '$.error', Next: 'Caught' },
            ],
            End: true,
          },
          Caught: { Type: 'Pass', End: true },
        },
      },
      { keep: 1 },
    );
    expect(calls).toBe(3);
    expect(run.output).toEqual({
      keep: 1,
      error: { Error: 'DownError', Cause: expect.stringContaining('still down') },
    });
    expect(types(run.events).filter((t) => t === 'LambdaFunctionFailed')).toHaveLength(3);
  });

  // A Lambda error that is not a States.* name is still States.TaskFailed for a Catcher.
  it('States.TaskFailed catches a Lambda error', async () => {
    const fn = sfn.lambda('jp-fails-once', async () => {
      throw new TypeError('bad type');
    });
    const run = await sfn.run({
      StartAt: 'T',
      States: {
        T: {
          Type: 'Task',
          Resource: fn,
          Catch: [{ ErrorEquals: ['States.TaskFailed'], Next: 'C' }],
          End: true,
        },
        C: { Type: 'Pass', End: true },
      },
    });
    expect((run.output as { Error: string }).Error).toBe('TypeError');
  });

  // The execution's TimeoutSeconds ends it with States.Timeout: ExecutionTimedOut, status TIMED_OUT.
  it('an execution past its TimeoutSeconds times out', async () => {
    const run = await sfn.run({
      TimeoutSeconds: 1,
      StartAt: 'W',
      States: { W: { Type: 'Wait', Seconds: 30, End: true } },
    });
    expect(run.execution.status).toBe('TIMED_OUT');
    expect(types(run.events).slice(-1)).toEqual(['ExecutionTimedOut']);
  });
});

describe('optimized integrations', () => {
  it('sns:publish sends the message to the topic and returns its MessageId', async () => {
    const sns = new SNSClient({ ...sfn.h.cloud.clientConfig(), maxAttempts: 1 });
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'conformance' }));
    sns.destroy();
    const before = sfn.h.cloud.sns.messages().length;
    const run = await sfn.run(
      single({
        Type: 'Task',
        Resource: 'arn:aws:states:::sns:publish',
        Parameters: { TopicArn, 'Message.$': '$.m', Subject: 'conformance' },
      }),
      { m: 'hello' },
    );
    // AWS adds SdkHttpMetadata and SdkResponseMetadata, which the local cloud leaves out (README).
    expect(run.output).toMatchObject({ MessageId: expect.any(String) });
    const sent = sfn.h.cloud.sns.messages().slice(before);
    expect(sent.map((m) => m.message)).toEqual(['hello']);
  });

  it('events:putEvents puts the entries on the bus and returns the result', async () => {
    const run = await sfn.run(
      single({
        Type: 'Task',
        Resource: 'arn:aws:states:::events:putEvents',
        Parameters: { Entries: [{ Source: 'conformance', DetailType: 'Tested', 'Detail.$': '$' }] },
      }),
      { a: 1 },
    );
    expect(run.output).toEqual({ Entries: [{ EventId: expect.any(String) }], FailedEntryCount: 0 });
  });
});
