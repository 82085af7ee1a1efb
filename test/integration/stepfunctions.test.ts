import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateSecretCommand, DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { LocalCloud } from '../../local/cloud';
import { silentLogger } from '../../local/log';
import { awsCli, haveAwsCli } from '../support/aws-cli';
import { awsError, type Harness, startLocalCloud } from '../support/local-cloud';

let h: Harness;
let sfn: SFNClient;
let eb: EventBridgeClient;
let seq = 0;
const role = 'arn:aws:iam::000000000000:role/test';

beforeAll(async () => {
  h = await startLocalCloud();
  sfn = new SFNClient({ ...h.cloud.clientConfig(), maxAttempts: 1 });
  eb = new EventBridgeClient({ ...h.cloud.clientConfig(), maxAttempts: 1 });
});
afterAll(async () => {
  sfn.destroy();
  eb.destroy();
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

const fnArn = (name: string) => h.cloud.lambdas.arn(name);

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
    const bad = await runToEnd(
      await machine({ StartAt: 'T', States: { T: task('denied'), Failed: failed } }),
    );
    expect(bad).toMatchObject({
      status: 'FAILED',
      error: 'AuthenticationError',
      cause: 'password authentication failed',
    });
  });

  it('writes AWS history event types in order', async () => {
    h.cloud.lambdas.register('echo', async (e: unknown) => e);
    const arn = await machine({
      StartAt: 'P',
      States: { P: { Type: 'Pass', Next: 'T' }, T: { Type: 'Task', Resource: fnArn('echo'), End: true } },
    });
    const d = await runToEnd(arn, { a: 1 });
    const h1 = await sfn.send(new GetExecutionHistoryCommand({ executionArn: d.executionArn }));
    expect(h1.events?.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    expect(h1.events?.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const rev = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: d.executionArn, reverseOrder: true, maxResults: 2 }),
    );
    expect(rev.events?.map((e) => e.type)).toEqual(['ExecutionSucceeded', 'TaskStateExited']);
    expect(rev.nextToken).toBeDefined();
  });

  it('treats the execution name as an idempotency key', async () => {
    const arn = await machine({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 1, End: true } } });
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
    expect(s.stopDate).toBeDefined();
    await h.cloud.stepFunctions.awaitExecution(a.executionArn!);
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: a.executionArn }));
    expect(d.status).toBe('ABORTED');
    const list = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'ABORTED' }));
    expect(list.executions?.map((e) => e.name)).toEqual(['once']);
  });

  it('rejects an invalid definition and unknown ARNs with AWS error codes', async () => {
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
      () =>
        sfn.send(
          new DescribeExecutionCommand({
            executionArn: 'arn:aws:states:us-east-1:000000000000:execution:m:x',
          }),
        ),
      'ExecutionDoesNotExist',
    );
  });

  it('calls Secrets Manager through aws-sdk:secretsmanager and a child through startExecution.sync:2', async () => {
    await h.sm.send(new CreateSecretCommand({ Name: 'sfn/sdk-task', SecretString: '{"a":1}' }));
    const child = await machine({
      StartAt: 'C',
      States: { C: { Type: 'Pass', Parameters: { 'got.$': '$.v' }, End: true } },
    });
    const arn = await machine({
      StartAt: 'Describe',
      States: {
        Describe: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:secretsmanager:describeSecret',
          Parameters: { SecretId: 'sfn/sdk-task' },
          ResultSelector: { 'name.$': '$.Name' },
          ResultPath: '$.secret',
          Next: 'Child',
        },
        Child: {
          Type: 'Task',
          Resource: 'arn:aws:states:::states:startExecution.sync:2',
          Parameters: { StateMachineArn: child, Input: { 'v.$': '$.secret.name' } },
          ResultSelector: { 'out.$': '$.Output', 'status.$': '$.Status' },
          End: true,
        },
      },
    });
    const d = await runToEnd(arn);
    expect(d.status).toBe('SUCCEEDED');
    expect(JSON.parse(d.output!)).toEqual({ out: { got: 'sfn/sdk-task' }, status: 'SUCCEEDED' });
    const missing = await machine({
      StartAt: 'D',
      States: {
        D: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:secretsmanager:describeSecret',
          Parameters: { SecretId: 'sfn/none' },
          End: true,
        },
      },
    });
    expect(await runToEnd(missing)).toMatchObject({
      status: 'FAILED',
      error: 'SecretsManager.ResourceNotFoundException',
    });
  });

  it('publishes execution status changes to the event bus', async () => {
    const arn = await machine({
      StartAt: 'F',
      States: { F: { Type: 'Fail', Error: 'Boom', Cause: 'on purpose' } },
    });
    const d = await runToEnd(arn);
    await new Promise((r) => setImmediate(r));
    const evs = h.cloud.events
      .list({ source: 'aws.states' })
      .filter((e) => e.detail['executionArn'] === d.executionArn)
      .map((e) => [e.detail['status'], e.detail['error'] ?? null]);
    expect(evs).toEqual([
      ['RUNNING', null],
      ['FAILED', 'Boom'],
    ]);
  });
});

describe('EventBridge on the local cloud', () => {
  it('routes PutEvents through a pattern rule into a state machine, with an InputTransformer', async () => {
    const arn = await machine({ StartAt: 'P', States: { P: { Type: 'Pass', End: true } } });
    await eb.send(
      new PutRuleCommand({
        Name: 'orders',
        EventPattern: JSON.stringify({ source: ['shop'], detail: { amount: [{ numeric: ['>', 100] }] } }),
      }),
    );
    await eb.send(
      new PutTargetsCommand({
        Rule: 'orders',
        Targets: [
          {
            Id: 'sm',
            Arn: arn,
            RoleArn: role,
            InputTransformer: {
              InputPathsMap: { a: '$.detail.amount', id: '$.detail.id' },
              InputTemplate: '{"amount": <a>, "label": "order <id>"}',
            },
          },
        ],
      }),
    );
    const put = await eb.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'shop', DetailType: 'Order', Detail: JSON.stringify({ amount: 150, id: 'x1' }) },
          { Source: 'shop', DetailType: 'Order', Detail: JSON.stringify({ amount: 5, id: 'x2' }) },
        ],
      }),
    );
    expect(put.FailedEntryCount).toBe(0);
    await h.cloud.eventBridge.stop();
    h.cloud.eventBridge.startScheduler();
    await h.cloud.stepFunctions.awaitIdle();
    const list = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }));
    expect(list.executions).toHaveLength(1);
    const d = await sfn.send(
      new DescribeExecutionCommand({ executionArn: list.executions![0]!.executionArn }),
    );
    expect(JSON.parse(d.input!)).toEqual({ amount: 150, label: 'order x1' });
  });

  it("routes the local services' own events: DeleteSecret's CloudTrail event starts the target", async () => {
    const arn = await machine({ StartAt: 'P', States: { P: { Type: 'Pass', End: true } } });
    await eb.send(
      new PutRuleCommand({
        Name: 'deleted',
        EventPattern: JSON.stringify({
          source: ['aws.secretsmanager'],
          detail: { eventName: ['DeleteSecret'] },
        }),
      }),
    );
    await eb.send(
      new PutTargetsCommand({ Rule: 'deleted', Targets: [{ Id: 'sm', Arn: arn, RoleArn: role }] }),
    );
    await h.sm.send(new CreateSecretCommand({ Name: 'eb/doomed', SecretString: 'x' }));
    await h.sm.send(new DeleteSecretCommand({ SecretId: 'eb/doomed', RecoveryWindowInDays: 7 }));
    for (let i = 0; i < 50; i++) {
      const list = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }));
      if (list.executions?.length) {
        const d = await sfn.send(
          new DescribeExecutionCommand({ executionArn: list.executions[0]!.executionArn }),
        );
        expect(JSON.parse(d.input!)).toMatchObject({
          source: 'aws.secretsmanager',
          detail: { eventName: 'DeleteSecret' },
        });
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('the rule never started its target');
  });

  it('fires a scheduled rule when its time comes', async () => {
    const arn = await machine({ StartAt: 'P', States: { P: { Type: 'Pass', End: true } } });
    await eb.send(new PutRuleCommand({ Name: 'hourly', ScheduleExpression: 'rate(1 hour)' }));
    await eb.send(
      new PutTargetsCommand({
        Rule: 'hourly',
        Targets: [{ Id: 'sm', Arn: arn, RoleArn: role, Input: '{"scheduled":true}' }],
      }),
    );
    expect(h.cloud.eventBridge.tick()).toBe(0);
    h.cloud.eventBridge.setClock(() => Date.now() + 3_600_000 + 1000);
    try {
      expect(h.cloud.eventBridge.tick()).toBe(1);
      expect(h.cloud.eventBridge.tick()).toBe(0);
    } finally {
      h.cloud.eventBridge.setClock(Date.now);
    }
    await new Promise((r) => setTimeout(r, 50));
    await h.cloud.stepFunctions.awaitIdle();
    const list = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }));
    expect(list.executions).toHaveLength(1);
  });

  it('TestEventPattern and its errors', async () => {
    const ev = JSON.stringify({
      id: '1',
      source: 'a',
      'detail-type': 'x',
      account: '1',
      time: '2026-01-01T00:00:00Z',
      region: 'us-east-1',
      resources: [],
      detail: { n: 5 },
    });
    expect(
      (await eb.send(new TestEventPatternCommand({ EventPattern: '{"detail":{"n":[5]}}', Event: ev })))
        .Result,
    ).toBe(true);
    expect(
      (await eb.send(new TestEventPatternCommand({ EventPattern: '{"detail":{"n":[6]}}', Event: ev })))
        .Result,
    ).toBe(false);
    await awsError(
      () => eb.send(new PutRuleCommand({ Name: 'bad', EventPattern: '{"source":"not-an-array"}' })),
      'InvalidEventPatternException',
    );
    await awsError(
      () => eb.send(new PutTargetsCommand({ Rule: 'nope', Targets: [{ Id: 'a', Arn: 'x' }] })),
      'ResourceNotFoundException',
    );
  });

  it('keeps SNS alerts the CLI can read', async () => {
    const sns = new SNSClient({ ...h.cloud.clientConfig(), maxAttempts: 1 });
    const t = await sns.send(new CreateTopicCommand({ Name: 'alerts' }));
    await sns.send(new PublishCommand({ TopicArn: t.TopicArn, Subject: 'hi', Message: 'rotation repaired' }));
    const res = await fetch(`${h.cloud.endpoint}/_credflow/alerts`);
    expect(await res.json()).toEqual([
      expect.objectContaining({ subject: 'hi', message: 'rotation repaired', topicArn: t.TopicArn }),
    ]);
    sns.destroy();
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
    const long = await client.send(new StartExecutionCommand({ stateMachineArn: sm.stateMachineArn }));
    client.destroy();
    await cloud.stop(10);
    cloud = await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger });
    client = new SFNClient({ ...cloud.clientConfig(), maxAttempts: 1 });
    try {
      expect(
        (await client.send(new DescribeExecutionCommand({ executionArn: done.executionArn }))).status,
      ).toBe('SUCCEEDED');
      const hist = await client.send(new GetExecutionHistoryCommand({ executionArn: done.executionArn }));
      expect(hist.events?.at(-1)?.type).toBe('ExecutionSucceeded');
      expect(
        (await client.send(new DescribeExecutionCommand({ executionArn: long.executionArn }))).status,
      ).toBe('RUNNING');
      expect(cloud.stepFunctions.recoverInterrupted()).toBe(1);
      expect(
        await client.send(new DescribeExecutionCommand({ executionArn: long.executionArn })),
      ).toMatchObject({
        status: 'FAILED',
        error: 'States.Runtime',
      });
    } finally {
      client.destroy();
      await cloud.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

(haveAwsCli ? it : it.skip)('the AWS CLI v2 starts and describes an execution', async () => {
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
    '--input',
    '{}',
  );
  await h.cloud.stepFunctions.awaitExecution(String(started['executionArn']));
  const d = await awsCli(
    h.cloud,
    'stepfunctions',
    'describe-execution',
    '--execution-arn',
    String(started['executionArn']),
  );
  expect(d).toMatchObject({ status: 'SUCCEEDED', output: '{"hello":"cli"}' });
});
