import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  UpdateStateMachineCommand,
} from '@aws-sdk/client-sfn';
import { LocalCloud } from '../../local/cloud';
import { silentLogger } from '../../local/log';
import { awsCli, haveAwsCli } from '../support/aws-cli';
import { awsError, type Harness, startLocalCloud } from '../support/cloud';
import { itWhen } from '../support/skip';

let h: Harness;
let sfn: SFNClient;
let seq = 0;
const role = 'arn:aws:iam::000000000000:role/test';

beforeAll(async () => {
  h = await startLocalCloud();
  sfn = new SFNClient({ ...h.cloud.clientConfig(), maxAttempts: 1 });
});
afterAll(async () => {
  sfn.destroy();
  await h.stop();
});

async function machine(definition: unknown): Promise<string> {
  seq++;
  const out = await sfn.send(
    new CreateStateMachineCommand({ name: `m${seq}`, definition: JSON.stringify(definition), roleArn: role }),
  );
  return out.stateMachineArn!;
}

async function runToEnd(arn: string, input: unknown = {}, name?: string) {
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: arn,
      input: JSON.stringify(input),
      ...(name ? { name } : {}),
    }),
  );
  await h.cloud.stepFunctions.awaitExecution(executionArn!);
  return sfn.send(new DescribeExecutionCommand({ executionArn }));
}

/** Every history event, following nextToken as a client must. */
async function history(executionArn: string, maxResults?: number): Promise<HistoryEvent[]> {
  const all: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        ...(maxResults ? { maxResults } : {}),
        ...(nextToken ? { nextToken } : {}),
      }),
    );
    all.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return all;
}

const fnArn = (name: string) => h.cloud.lambdas.arn(name);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Step Functions on the local cloud, through the real SDK', () => {
  it('runs Pass, Choice, Wait, Map and Lambda Tasks to the right output', async () => {
    h.cloud.lambdas.register('double', async (e: unknown) => ({ n: (e as { n: number }).n * 2 }));
    const arn = await machine({
      StartAt: 'Start',
      States: {
        Start: { Type: 'Pass', Result: [1, 2, 3], ResultPath: '$.items', Next: 'IsBig' },
        IsBig: {
          Type: 'Choice',
          Choices: [{ Variable: '$.big', BooleanEquals: true, Next: 'Nap' }],
          Default: 'Each',
        },
        Nap: { Type: 'Wait', Seconds: 0, Next: 'Each' },
        Each: {
          Type: 'Map',
          ItemsPath: '$.items',
          ItemSelector: { 'n.$': '$$.Map.Item.Value' },
          ItemProcessor: {
            StartAt: 'Double',
            States: { Double: { Type: 'Task', Resource: fnArn('double'), End: true } },
          },
          ResultPath: '$.doubled',
          End: true,
        },
      },
    });
    const d = await runToEnd(arn, { big: true });
    expect(d.status).toBe('SUCCEEDED');
    expect(JSON.parse(d.output!).doubled).toEqual([{ n: 2 }, { n: 4 }, { n: 6 }]);

    const types = (await history(d.executionArn!)).map((e) => e.type);
    expect(types.slice(0, 7)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'WaitStateEntered',
      'WaitStateExited',
    ]);
    expect(types.slice(7, 9)).toEqual(['MapStateEntered', 'MapStateStarted']);
    expect(types.filter((t) => t === 'MapIterationStarted')).toHaveLength(3);
    expect(types.filter((t) => t === 'MapIterationSucceeded')).toHaveLength(3);
    expect(types.filter((t) => t === 'LambdaFunctionSucceeded')).toHaveLength(3);
    expect(types.slice(-3)).toEqual(['MapStateSucceeded', 'MapStateExited', 'ExecutionSucceeded']);
    const started = (await history(d.executionArn!)).find((e) => e.type === 'MapStateStarted');
    expect(started?.mapStateStartedEventDetails?.length).toBe(3);
  });

  it('retries a TransientError, then succeeds; catches the rest into a Fail with ErrorPath', async () => {
    let calls = 0;
    h.cloud.lambdas.register('flaky', async () => {
      calls++;
      if (calls < 3) throw Object.assign(new Error('connection refused'), { name: 'TransientError' });
      return { ok: true };
    });
    h.cloud.lambdas.register('denied', async () => {
      throw Object.assign(new Error('password authentication failed'), { name: 'AuthenticationError' });
    });
    const task = (fn: string) => ({
      Type: 'Task',
      Resource: fnArn(fn),
      Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 0, MaxAttempts: 3 }],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Failed' }],
      End: true,
    });
    const failed = { Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' };
    const ok = await runToEnd(await machine({ StartAt: 'T', States: { T: task('flaky'), Failed: failed } }));
    expect(ok.status).toBe('SUCCEEDED');
    expect(calls).toBe(3);
    // Each attempt is in the history, the two failures with the handler's error name.
    const attempts = (await history(ok.executionArn!)).filter((e) => e.type?.startsWith('LambdaFunction'));
    expect(attempts.map((e) => e.type)).toEqual([
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionFailed',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionFailed',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
    ]);
    expect(attempts[2]?.lambdaFunctionFailedEventDetails).toEqual({
      error: 'TransientError',
      cause: 'connection refused',
    });

    const bad = await runToEnd(
      await machine({ StartAt: 'T', States: { T: task('denied'), Failed: failed } }),
    );
    expect(bad).toMatchObject({
      status: 'FAILED',
      error: 'AuthenticationError',
      cause: 'password authentication failed',
    });
    const types = (await history(bad.executionArn!)).map((e) => e.type);
    expect(types.slice(-3)).toEqual(['TaskStateExited', 'FailStateEntered', 'ExecutionFailed']);
  });

  it('writes AWS history events in order, with ids, details and paging both ways', async () => {
    h.cloud.lambdas.register('echo', async (e: unknown) => e);
    const arn = await machine({
      StartAt: 'P',
      States: {
        P: { Type: 'Pass', Next: 'Direct' },
        Direct: { Type: 'Task', Resource: fnArn('echo'), Next: 'ViaInvoke' },
        ViaInvoke: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: fnArn('echo'), 'Payload.$': '$' },
          OutputPath: '$.Payload',
          End: true,
        },
      },
    });
    const d = await runToEnd(arn, { a: 1 });
    expect(JSON.parse(d.output!)).toEqual({ a: 1 });
    const events = await history(d.executionArn!, 3);
    expect(events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    expect(events.map((e) => e.id)).toEqual(events.map((_e, i) => i + 1));
    // Each event follows the one before it, except the first state's entry, which AWS records as
    // following no event (previousEventId 0).
    expect(events.map((e) => e.previousEventId)).toEqual(events.map((_e, i) => (i === 1 ? 0 : i)));
    expect(events.every((e) => e.timestamp instanceof Date)).toBe(true);
    expect(events[0]?.executionStartedEventDetails).toMatchObject({ input: '{"a":1}', roleArn: role });
    expect(events[1]?.stateEnteredEventDetails).toMatchObject({ name: 'P', input: '{"a":1}' });
    expect(events[4]?.lambdaFunctionScheduledEventDetails).toMatchObject({
      resource: fnArn('echo'),
      input: '{"a":1}',
    });
    expect(events[9]?.taskScheduledEventDetails).toMatchObject({
      resourceType: 'lambda',
      resource: 'invoke',
      region: 'us-east-1',
    });
    expect(events[13]?.executionSucceededEventDetails?.output).toBe('{"a":1}');

    const rev = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: d.executionArn, reverseOrder: true, maxResults: 2 }),
    );
    expect(rev.events?.map((e) => e.type)).toEqual(['ExecutionSucceeded', 'TaskStateExited']);
    const rest = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn: d.executionArn,
        reverseOrder: true,
        nextToken: rev.nextToken,
      }),
    );
    expect(rest.events?.at(-1)?.type).toBe('ExecutionStarted');
    expect(rest.nextToken).toBeUndefined();
  });

  it('treats the execution name as an idempotency key, then StopExecution aborts it', async () => {
    const arn = await machine({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 5, End: true } } });
    const a = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'once', input: '{"x":1}' }),
    );
    const b = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'once', input: '{"x":1}' }),
    );
    expect(b.executionArn).toBe(a.executionArn);
    await awsError(
      () => sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'once', input: '{"x":2}' })),
      'ExecutionAlreadyExists',
    );
    const s = await sfn.send(
      new StopExecutionCommand({ executionArn: a.executionArn, error: 'Stopped', cause: 'test' }),
    );
    expect(s.stopDate).toBeInstanceOf(Date);
    await h.cloud.stepFunctions.awaitExecution(a.executionArn!);
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: a.executionArn }));
    expect(d).toMatchObject({ status: 'ABORTED', error: 'Stopped', cause: 'test' });
    expect((await history(a.executionArn!)).at(-1)).toMatchObject({
      type: 'ExecutionAborted',
      executionAbortedEventDetails: { error: 'Stopped', cause: 'test' },
    });
    // A closed execution's name stays taken, even for the same input (as on AWS).
    await awsError(
      () => sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'once', input: '{"x":1}' })),
      'ExecutionAlreadyExists',
    );
    const list = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'ABORTED' }));
    expect(list.executions?.map((e) => e.name)).toEqual(['once']);
    const running = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'RUNNING' }),
    );
    expect(running.executions).toEqual([]);
  });

  it('creates, updates, lists, describes and deletes state machines', async () => {
    const def = (v: number) =>
      JSON.stringify({ StartAt: 'P', States: { P: { Type: 'Pass', Result: v, End: true } } });
    const created = await sfn.send(
      new CreateStateMachineCommand({ name: 'crud', definition: def(1), roleArn: role }),
    );
    // The same definition again is idempotent; another one is a conflict.
    const again = await sfn.send(
      new CreateStateMachineCommand({ name: 'crud', definition: def(1), roleArn: role }),
    );
    expect(again.stateMachineArn).toBe(created.stateMachineArn);
    await awsError(
      () => sfn.send(new CreateStateMachineCommand({ name: 'crud', definition: def(2), roleArn: role })),
      'StateMachineAlreadyExists',
    );
    expect((await runToEnd(created.stateMachineArn!)).output).toBe('1');
    await sfn.send(
      new UpdateStateMachineCommand({ stateMachineArn: created.stateMachineArn, definition: def(2) }),
    );
    expect((await runToEnd(created.stateMachineArn!)).output).toBe('2');
    const described = await sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn: created.stateMachineArn }),
    );
    expect(described).toMatchObject({ name: 'crud', status: 'ACTIVE', definition: def(2), roleArn: role });

    const names: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(
        new ListStateMachinesCommand({ maxResults: 2, ...(nextToken ? { nextToken } : {}) }),
      );
      expect(page.stateMachines!.length).toBeLessThanOrEqual(2);
      names.push(...page.stateMachines!.map((m) => m.name!));
      nextToken = page.nextToken;
    } while (nextToken);
    expect(names).toContain('crud');
    expect(names).toEqual([...names].sort());

    await sfn.send(new DeleteStateMachineCommand({ stateMachineArn: created.stateMachineArn }));
    await awsError(
      () => sfn.send(new DescribeStateMachineCommand({ stateMachineArn: created.stateMachineArn })),
      'StateMachineDoesNotExist',
    );
  });

  it('rejects invalid definitions, names, inputs and unknown ARNs with AWS error codes', async () => {
    await awsError(
      () =>
        sfn.send(
          new CreateStateMachineCommand({
            name: 'bad',
            definition: '{"StartAt":"X","States":{}}',
            roleArn: role,
          }),
        ),
      'InvalidDefinition',
    );
    await awsError(
      () => sfn.send(new CreateStateMachineCommand({ name: 'bad', definition: 'not json', roleArn: role })),
      'InvalidDefinition',
    );
    const arn = await machine({ StartAt: 'P', States: { P: { Type: 'Pass', End: true } } });
    await awsError(
      () => sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'no spaces allowed' })),
      'InvalidName',
    );
    await awsError(
      () => sfn.send(new StartExecutionCommand({ stateMachineArn: arn, input: '{not json' })),
      'InvalidExecutionInput',
    );
    await awsError(
      () =>
        sfn.send(
          new StartExecutionCommand({
            stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:none',
          }),
        ),
      'StateMachineDoesNotExist',
    );
    await awsError(
      () =>
        sfn.send(
          new DescribeExecutionCommand({
            executionArn: 'arn:aws:states:us-east-1:000000000000:execution:m:x',
          }),
        ),
      'ExecutionDoesNotExist',
    );
  });

  it('fails a Task that runs past its TimeoutSeconds with States.Timeout', async () => {
    h.cloud.lambdas.register('slow', async () => {
      await sleep(1500);
      return {};
    });
    const arn = await machine({
      StartAt: 'Slow',
      States: { Slow: { Type: 'Task', Resource: fnArn('slow'), TimeoutSeconds: 1, End: true } },
    });
    const d = await runToEnd(arn);
    expect(d).toMatchObject({ status: 'FAILED', error: 'States.Timeout' });
    expect((await history(d.executionArn!)).map((e) => e.type)).toContain('LambdaFunctionTimedOut');
  });

  it('calls Secrets Manager through aws-sdk:secretsmanager with Java member names and error names', async () => {
    await h.sm.send(new CreateSecretCommand({ Name: 'sfn/sdk-task', SecretString: '{"a":1}' }));
    const arn = await machine({
      StartAt: 'Describe',
      States: {
        Describe: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:secretsmanager:describeSecret',
          Parameters: { SecretId: 'sfn/sdk-task' },
          ResultSelector: { 'name.$': '$.Name', 'arn.$': '$.Arn' },
          ResultPath: '$.secret',
          Next: 'Missing',
        },
        Missing: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:secretsmanager:getSecretValue',
          Parameters: { SecretId: 'sfn/none' },
          Catch: [
            {
              ErrorEquals: ['SecretsManager.ResourceNotFoundException'],
              ResultPath: '$.caught',
              Next: 'Done',
            },
          ],
          Next: 'Done',
        },
        Done: { Type: 'Succeed' },
      },
    });
    const d = await runToEnd(arn);
    expect(d.status).toBe('SUCCEEDED');
    const out = JSON.parse(d.output!);
    expect(out.secret).toEqual({
      name: 'sfn/sdk-task',
      arn: expect.stringMatching(/:secret:sfn\/sdk-task-/),
    });
    expect(out.caught.Error).toBe('SecretsManager.ResourceNotFoundException');
    const types = (await history(d.executionArn!)).map((e) => e.type);
    expect(types).toContain('TaskFailed');
  });

  it('calls RDS through aws-sdk:rds on the real SDK client, and Step Functions through aws-sdk:sfn', async () => {
    const arn = await machine({
      StartAt: 'ListDbs',
      States: {
        ListDbs: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:rds:describeDBInstances',
          Parameters: { Filters: [{ Name: 'engine', Values: ['postgres'] }] },
          ResultSelector: { 'count.$': 'States.ArrayLength($.DbInstances)' },
          ResultPath: '$.dbs',
          Next: 'OneDb',
        },
        OneDb: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:rds:describeDBInstances',
          Parameters: { DbInstanceIdentifier: 'no-such-db' },
          Catch: [
            { ErrorEquals: ['Rds.DbInstanceNotFoundException'], ResultPath: '$.missing', Next: 'Self' },
          ],
          Next: 'Self',
        },
        Self: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:sfn:describeStateMachine',
          Parameters: { 'StateMachineArn.$': '$$.StateMachine.Id' },
          ResultSelector: { 'name.$': '$.Name', 'status.$': '$.Status' },
          ResultPath: '$.self',
          End: true,
        },
      },
    });
    const d = await runToEnd(arn);
    expect(d.status).toBe('SUCCEEDED');
    const out = JSON.parse(d.output!);
    expect(out.dbs).toEqual({ count: 0 });
    expect(out.missing.Error).toBe('Rds.DbInstanceNotFoundException');
    expect(out.self).toEqual({ name: arn.split(':').at(-1), status: 'ACTIVE' });
  });

  it('starts children through startExecution, .sync (text Output) and .sync:2 (JSON Output)', async () => {
    const child = await machine({
      StartAt: 'C',
      States: { C: { Type: 'Pass', Parameters: { 'got.$': '$.v' }, End: true } },
    });
    const arn = await machine({
      StartAt: 'FireAndForget',
      States: {
        FireAndForget: {
          Type: 'Task',
          Resource: 'arn:aws:states:::states:startExecution',
          Parameters: { StateMachineArn: child, Input: { v: 0 } },
          ResultSelector: { 'arn.$': '$.ExecutionArn' },
          ResultPath: '$.async',
          Next: 'V1',
        },
        V1: {
          Type: 'Task',
          Resource: 'arn:aws:states:::states:startExecution.sync',
          Parameters: { StateMachineArn: child, Input: { v: 1 } },
          ResultSelector: { 'out.$': '$.Output', 'status.$': '$.Status' },
          ResultPath: '$.v1',
          Next: 'V2',
        },
        V2: {
          Type: 'Task',
          Resource: 'arn:aws:states:::states:startExecution.sync:2',
          Parameters: { StateMachineArn: child, Input: { v: 2 } },
          ResultSelector: { 'out.$': '$.Output', 'status.$': '$.Status' },
          ResultPath: '$.v2',
          End: true,
        },
      },
    });
    const d = await runToEnd(arn);
    expect(d.status).toBe('SUCCEEDED');
    const out = JSON.parse(d.output!);
    expect(out.v1).toEqual({ out: '{"got":1}', status: 'SUCCEEDED' });
    expect(out.v2).toEqual({ out: { got: 2 }, status: 'SUCCEEDED' });
    expect(out.async.arn).toMatch(/:execution:m\d+:/);
    const children = await sfn.send(new ListExecutionsCommand({ stateMachineArn: child }));
    expect(children.executions).toHaveLength(3);
  });

  it('stops a .sync child when its parent is stopped', async () => {
    const child = await machine({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 30, End: true } } });
    const parent = await machine({
      StartAt: 'Run',
      States: {
        Run: {
          Type: 'Task',
          Resource: 'arn:aws:states:::states:startExecution.sync:2',
          Parameters: { StateMachineArn: child, Input: {} },
          End: true,
        },
      },
    });
    const p = await sfn.send(new StartExecutionCommand({ stateMachineArn: parent }));
    let childArn: string | undefined;
    for (let i = 0; i < 100 && !childArn; i++) {
      childArn = (await sfn.send(new ListExecutionsCommand({ stateMachineArn: child }))).executions?.[0]
        ?.executionArn;
      if (!childArn) await sleep(10);
    }
    expect(childArn).toBeDefined();
    await sfn.send(new StopExecutionCommand({ executionArn: p.executionArn }));
    await h.cloud.stepFunctions.awaitIdle();
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn: p.executionArn }))).status).toBe(
      'ABORTED',
    );
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn: childArn }))).status).toBe('ABORTED');
  });

  it('publishes every execution status change to the event bus', async () => {
    const arn = await machine({
      StartAt: 'F',
      States: { F: { Type: 'Fail', Error: 'Boom', Cause: 'on purpose' } },
    });
    const d = await runToEnd(arn, { why: 'test' });
    const evs = h.cloud.events
      .list({ source: 'aws.states' })
      .filter((e) => e.detail['executionArn'] === d.executionArn);
    expect(evs.map((e) => [e['detail-type'], e.detail['status'], e.detail['error'] ?? null])).toEqual([
      ['Step Functions Execution Status Change', 'RUNNING', null],
      ['Step Functions Execution Status Change', 'FAILED', 'Boom'],
    ]);
    expect(evs[1]?.resources).toEqual([d.executionArn]);
    expect(evs[1]?.detail).toMatchObject({
      stateMachineArn: arn,
      name: d.name,
      input: '{"why":"test"}',
      output: null,
      cause: 'on purpose',
      startDate: d.startDate!.getTime(),
      stopDate: d.stopDate!.getTime(),
    });
  });

  it('runs 200 executions at once, each to its own complete history (sanity, not a benchmark)', async () => {
    for (const n of ['createS', 'setS', 'testS', 'finishS'])
      h.cloud.lambdas.register(n, async (e: unknown) => e);
    const task = (fn: string, next?: string) => ({
      Type: 'Task',
      Resource: fnArn(fn),
      Retry: [{ ErrorEquals: ['TransientError'], MaxAttempts: 3 }],
      ...(next ? { Next: next } : { End: true }),
    });
    const arn = await machine({
      StartAt: 'CreateS',
      States: {
        CreateS: task('createS', 'SetS'),
        SetS: task('setS', 'TestS'),
        TestS: task('testS', 'FinishS'),
        FinishS: task('finishS'),
      },
    });
    const arns = await Promise.all(
      Array.from({ length: 200 }, (_v, i) =>
        sfn
          .send(new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify({ i }) }))
          .then((r) => r.executionArn!),
      ),
    );
    await h.cloud.stepFunctions.awaitIdle();
    const done = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'SUCCEEDED', maxResults: 1000 }),
    );
    expect(done.executions).toHaveLength(200);
    const one = await history(arns[123]!);
    expect(one).toHaveLength(1 + 4 * 5 + 1);
    expect(JSON.parse(one.at(-1)!.executionSucceededEventDetails!.output!)).toEqual({ i: 123 });
  });
});

describe('persistence', () => {
  it('keeps executions and history across a restart, and fails the ones a crash interrupted', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'credflow-sfn-'));
    let cloud = await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger });
    let client = new SFNClient({ ...cloud.clientConfig(), maxAttempts: 1 });
    const sm = await client.send(
      new CreateStateMachineCommand({
        name: 'p',
        roleArn: role,
        definition: JSON.stringify({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 30, End: true } } }),
      }),
    );
    const quick = await client.send(
      new CreateStateMachineCommand({
        name: 'q',
        roleArn: role,
        definition: JSON.stringify({ StartAt: 'P', States: { P: { Type: 'Pass', End: true } } }),
      }),
    );
    const done = await client.send(new StartExecutionCommand({ stateMachineArn: quick.stateMachineArn }));
    await cloud.stepFunctions.awaitExecution(done.executionArn!);
    const long = await client.send(
      new StartExecutionCommand({ stateMachineArn: sm.stateMachineArn, input: '{"n":1}' }),
    );
    client.destroy();
    await cloud.stop(10);
    cloud = await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger });
    client = new SFNClient({ ...cloud.clientConfig(), maxAttempts: 1 });
    try {
      expect(
        (await client.send(new DescribeExecutionCommand({ executionArn: done.executionArn }))).status,
      ).toBe('SUCCEEDED');
      const hist = await client.send(new GetExecutionHistoryCommand({ executionArn: done.executionArn }));
      expect(hist.events?.map((e) => e.type)).toEqual([
        'ExecutionStarted',
        'PassStateEntered',
        'PassStateExited',
        'ExecutionSucceeded',
      ]);
      expect(
        (await client.send(new DescribeExecutionCommand({ executionArn: long.executionArn }))).status,
      ).toBe('RUNNING');
      expect(cloud.stepFunctions.recoverInterrupted()).toBe(1);
      expect(
        await client.send(new DescribeExecutionCommand({ executionArn: long.executionArn })),
      ).toMatchObject({
        status: 'FAILED',
        error: 'States.Runtime',
        cause: expect.stringContaining('local cloud restarted'),
      });
      const interrupted = await client.send(
        new GetExecutionHistoryCommand({ executionArn: long.executionArn }),
      );
      // What ran before the stop is kept, then the failure the restart recorded.
      expect(interrupted.events?.map((e) => [e.id, e.type])).toEqual([
        [1, 'ExecutionStarted'],
        [2, 'WaitStateEntered'],
        [3, 'ExecutionFailed'],
      ]);
      expect(interrupted.events?.[0]?.executionStartedEventDetails?.input).toBe('{"n":1}');
      const failedEvent = cloud.events
        .list({ source: 'aws.states' })
        .find((e) => e.detail['executionArn'] === long.executionArn && e.detail['status'] === 'FAILED');
      expect(failedEvent?.detail['error']).toBe('States.Runtime');
      expect(cloud.stepFunctions.recoverInterrupted()).toBe(0);
    } finally {
      client.destroy();
      await cloud.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

itWhen(haveAwsCli, 'the AWS CLI v2 is not installed (scripts/setup.sh installs it)')(
  'the AWS CLI v2 starts and describes an execution',
  async () => {
    const arn = await machine({
      StartAt: 'P',
      States: { P: { Type: 'Pass', Result: { hello: 'cli' }, End: true } },
    });
    const started = await awsCli(
      h.cloud,
      'stepfunctions',
      'start-execution',
      '--state-machine-arn',
      arn,
      '--name',
      'from-cli',
      '--input',
      '{"x":1}',
    );
    expect(String(started['executionArn'])).toMatch(/:execution:m\d+:from-cli$/);
    await h.cloud.stepFunctions.awaitExecution(String(started['executionArn']));
    const d = await awsCli(
      h.cloud,
      'stepfunctions',
      'describe-execution',
      '--execution-arn',
      String(started['executionArn']),
    );
    expect(d).toMatchObject({ status: 'SUCCEEDED', input: '{"x":1}', output: '{"hello":"cli"}' });
  },
);
