import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DeleteRuleCommand,
  DescribeRuleCommand,
  EventBridgeClient,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateSecretCommand, DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  type ExecutionListItem,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { CreateTopicCommand, ListTopicsCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { LocalCloud } from '../../local/cloud';
import { silentLogger } from '../../local/log';
import { awsError, type Harness, startLocalCloud } from '../support/cloud';

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

/** A state machine that only records its input, as a rule target. */
async function recorder(): Promise<string> {
  seq++;
  const out = await sfn.send(
    new CreateStateMachineCommand({
      name: `target${seq}`,
      roleArn: role,
      definition: JSON.stringify({ StartAt: 'P', States: { P: { Type: 'Pass', End: true } } }),
    }),
  );
  return out.stateMachineArn!;
}

/** Inputs of the executions a rule started on `arn`, waiting (bounded) for `count` of them. */
async function startedInputs(arn: string, count = 1): Promise<unknown[]> {
  let execs: ExecutionListItem[] = [];
  for (let i = 0; i < 100; i++) {
    execs = (await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }))).executions ?? [];
    if (execs.length >= count) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  await h.cloud.stepFunctions.awaitIdle();
  const inputs = [];
  for (const e of execs.reverse()) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
    inputs.push(JSON.parse(d.input!));
  }
  return inputs;
}

/** Lets routing finish: publish hands events to rules on the next turn of the loop. */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 20));
  await h.cloud.stepFunctions.awaitIdle();
}

describe('EventBridge rules on the local cloud, through the real SDK', () => {
  it('routes PutEvents through a pattern rule into a state machine, with an InputTransformer', async () => {
    const arn = await recorder();
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
              InputTemplate: '{"amount": <a>, "label": "order <id>", "rule": <aws.events.rule-name>}',
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
          { Source: 'shop', DetailType: 'Order', Detail: '{broken' },
        ],
      }),
    );
    expect(put.FailedEntryCount).toBe(1);
    expect(put.Entries?.[0]?.EventId).toBeDefined();
    expect(put.Entries?.[2]?.ErrorCode).toBe('MalformedDetail');
    expect(await startedInputs(arn)).toEqual([{ amount: 150, label: 'order x1', rule: 'orders' }]);
    await settle();
    expect((await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }))).executions).toHaveLength(1);
  });

  it('starts a state machine with the whole event as its input, in the AWS envelope', async () => {
    const arn = await recorder();
    await eb.send(new PutRuleCommand({ Name: 'whole', EventPattern: '{"source":["whole.test"]}' }));
    await eb.send(new PutTargetsCommand({ Rule: 'whole', Targets: [{ Id: 'sm', Arn: arn, RoleArn: role }] }));
    const time = new Date('2026-03-01T12:00:00Z');
    await eb.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'whole.test',
            DetailType: 'Thing Happened',
            Detail: '{"k":"v"}',
            Resources: ['arn:aws:x:us-east-1:000000000000:thing/1'],
            Time: time,
          },
        ],
      }),
    );
    const [event] = await startedInputs(arn);
    expect(event).toEqual({
      version: '0',
      id: expect.any(String),
      'detail-type': 'Thing Happened',
      source: 'whole.test',
      account: h.cloud.accountId,
      time: '2026-03-01T12:00:00Z',
      region: h.cloud.region,
      resources: ['arn:aws:x:us-east-1:000000000000:thing/1'],
      detail: { k: 'v' },
    });
  });

  it('delivers InputPath and constant Input to Lambda targets; a DISABLED rule delivers nothing', async () => {
    const got: unknown[] = [];
    h.cloud.lambdas.register('sink', async (e: unknown) => {
      got.push(e);
      return null;
    });
    const sink = h.cloud.lambdas.arn('sink');
    await eb.send(new PutRuleCommand({ Name: 'to-lambda', EventPattern: '{"source":["lambda.test"]}' }));
    await eb.send(
      new PutTargetsCommand({
        Rule: 'to-lambda',
        Targets: [
          { Id: 'detail', Arn: sink, InputPath: '$.detail' },
          { Id: 'fixed', Arn: sink, Input: '{"fixed":true}' },
        ],
      }),
    );
    await eb.send(
      new PutRuleCommand({ Name: 'off', EventPattern: '{"source":["lambda.test"]}', State: 'DISABLED' }),
    );
    await eb.send(
      new PutTargetsCommand({ Rule: 'off', Targets: [{ Id: 'x', Arn: sink, Input: '{"off":true}' }] }),
    );
    await eb.send(
      new PutEventsCommand({ Entries: [{ Source: 'lambda.test', DetailType: 't', Detail: '{"n":7}' }] }),
    );
    for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    await settle();
    expect(got).toHaveLength(2);
    expect(got).toEqual(expect.arrayContaining([{ n: 7 }, { fixed: true }]));
  });

  it("routes the local services' own events: DeleteSecret's CloudTrail event starts the target", async () => {
    const arn = await recorder();
    await eb.send(
      new PutRuleCommand({
        Name: 'deleted',
        EventPattern: JSON.stringify({
          source: ['aws.secretsmanager'],
          'detail-type': ['AWS API Call via CloudTrail'],
          detail: { eventName: ['DeleteSecret'] },
        }),
      }),
    );
    await eb.send(
      new PutTargetsCommand({
        Rule: 'deleted',
        Targets: [
          {
            Id: 'sm',
            Arn: arn,
            RoleArn: role,
            InputTransformer: {
              InputPathsMap: { id: '$.detail.requestParameters.secretId' },
              InputTemplate: '{"secretId": <id>}',
            },
          },
        ],
      }),
    );
    await h.sm.send(new CreateSecretCommand({ Name: 'eb/doomed', SecretString: 'x' }));
    await h.sm.send(new DeleteSecretCommand({ SecretId: 'eb/doomed', RecoveryWindowInDays: 7 }));
    expect(await startedInputs(arn)).toEqual([{ secretId: 'eb/doomed' }]);
  });

  it("routes Step Functions' status changes: a FAILED execution starts the failure handler", async () => {
    seq++;
    const failing = await sfn.send(
      new CreateStateMachineCommand({
        name: `failing${seq}`,
        roleArn: role,
        definition: JSON.stringify({
          StartAt: 'F',
          States: { F: { Type: 'Fail', Error: 'Boom', Cause: 'x' } },
        }),
      }),
    );
    const handler = await recorder();
    await eb.send(
      new PutRuleCommand({
        Name: 'on-failure',
        EventPattern: JSON.stringify({
          source: ['aws.states'],
          'detail-type': ['Step Functions Execution Status Change'],
          detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [failing.stateMachineArn] },
        }),
      }),
    );
    await eb.send(
      new PutTargetsCommand({
        Rule: 'on-failure',
        Targets: [{ Id: 'h', Arn: handler, RoleArn: role, InputPath: '$.detail' }],
      }),
    );
    const run = await sfn.send(new StartExecutionCommand({ stateMachineArn: failing.stateMachineArn }));
    const [detail] = await startedInputs(handler);
    expect(detail).toMatchObject({ executionArn: run.executionArn, status: 'FAILED', error: 'Boom' });
  });

  it('fires scheduled rules (rate and cron, UTC) on the injected clock', async () => {
    const arn = await recorder();
    const t0 = Date.UTC(2026, 5, 1, 8, 0, 0);
    let now = t0;
    h.cloud.eventBridge.setClock(() => now);
    try {
      await eb.send(new PutRuleCommand({ Name: 'hourly', ScheduleExpression: 'rate(1 hour)' }));
      await eb.send(new PutRuleCommand({ Name: 'noon', ScheduleExpression: 'cron(0 12 * * ? *)' }));
      await eb.send(
        new PutTargetsCommand({
          Rule: 'hourly',
          Targets: [{ Id: 'sm', Arn: arn, RoleArn: role, Input: '{"which":"hourly"}' }],
        }),
      );
      await eb.send(
        new PutTargetsCommand({
          Rule: 'noon',
          Targets: [
            {
              Id: 'sm',
              Arn: arn,
              RoleArn: role,
              InputTransformer: {
                InputPathsMap: { t: '$.time' },
                InputTemplate: '{"which":"noon","at":<t>}',
              },
            },
          ],
        }),
      );
      expect(h.cloud.eventBridge.tick()).toBe(0);
      now = t0 + 3_600_000;
      expect(h.cloud.eventBridge.tick()).toBe(1);
      expect(h.cloud.eventBridge.tick()).toBe(0);
      now = Date.UTC(2026, 5, 1, 12, 0, 30);
      expect(h.cloud.eventBridge.tick()).toBe(2);
    } finally {
      h.cloud.eventBridge.setClock(Date.now);
    }
    const inputs = await startedInputs(arn, 3);
    expect(inputs).toEqual([
      { which: 'hourly' },
      { which: 'hourly' },
      { which: 'noon', at: '2026-06-01T12:00:30Z' },
    ]);
  });

  it('describes, lists, removes targets and deletes rules; refuses to delete a rule with targets', async () => {
    const arn = await recorder();
    await eb.send(
      new PutRuleCommand({ Name: 'crud-a', EventPattern: '{"source":["a"]}', Description: 'first' }),
    );
    await eb.send(
      new PutRuleCommand({ Name: 'crud-b', ScheduleExpression: 'rate(5 minutes)', State: 'DISABLED' }),
    );
    await eb.send(
      new PutTargetsCommand({ Rule: 'crud-a', Targets: [{ Id: 't1', Arn: arn, RoleArn: role }] }),
    );
    expect(await eb.send(new DescribeRuleCommand({ Name: 'crud-a' }))).toMatchObject({
      Name: 'crud-a',
      Arn: `arn:aws:events:${h.cloud.region}:${h.cloud.accountId}:rule/crud-a`,
      EventPattern: '{"source":["a"]}',
      State: 'ENABLED',
      Description: 'first',
      EventBusName: 'default',
    });
    const listed = await eb.send(new ListRulesCommand({ NamePrefix: 'crud-' }));
    expect(listed.Rules?.map((r) => [r.Name, r.State, r.ScheduleExpression ?? null])).toEqual([
      ['crud-a', 'ENABLED', null],
      ['crud-b', 'DISABLED', 'rate(5 minutes)'],
    ]);
    expect((await eb.send(new ListTargetsByRuleCommand({ Rule: 'crud-a' }))).Targets).toEqual([
      { Id: 't1', Arn: arn, RoleArn: role },
    ]);
    await awsError(() => eb.send(new DeleteRuleCommand({ Name: 'crud-a' })), 'ValidationException');
    await eb.send(new RemoveTargetsCommand({ Rule: 'crud-a', Ids: ['t1'] }));
    await eb.send(new DeleteRuleCommand({ Name: 'crud-a' }));
    await awsError(() => eb.send(new DescribeRuleCommand({ Name: 'crud-a' })), 'ResourceNotFoundException');
    expect((await eb.send(new ListRulesCommand({ NamePrefix: 'crud-' }))).Rules?.map((r) => r.Name)).toEqual([
      'crud-b',
    ]);
  });

  it('TestEventPattern, and AWS errors for bad patterns, schedules, targets and unknown rules', async () => {
    const ev = JSON.stringify({
      id: '1',
      source: 'a',
      'detail-type': 'x',
      account: '1',
      time: '2026-01-01T00:00:00Z',
      region: 'us-east-1',
      resources: [],
      detail: { n: 5, name: 'prod-db' },
    });
    const test = async (pattern: unknown) =>
      (await eb.send(new TestEventPatternCommand({ EventPattern: JSON.stringify(pattern), Event: ev })))
        .Result;
    expect(await test({ detail: { n: [5] } })).toBe(true);
    expect(await test({ detail: { n: [6] } })).toBe(false);
    expect(await test({ detail: { name: [{ prefix: 'prod-' }], n: [{ numeric: ['>=', 5] }] } })).toBe(true);
    expect(await test({ detail: { name: [{ 'anything-but': { prefix: 'prod-' } }] } })).toBe(false);
    await awsError(
      () => eb.send(new TestEventPatternCommand({ EventPattern: '{"source":"a"}', Event: ev })),
      'InvalidEventPatternException',
    );
    await awsError(
      () => eb.send(new PutRuleCommand({ Name: 'bad', EventPattern: '{"source":"not-an-array"}' })),
      'InvalidEventPatternException',
    );
    await awsError(
      () => eb.send(new PutRuleCommand({ Name: 'bad', EventPattern: '{not json' })),
      'InvalidEventPatternException',
    );
    await awsError(
      () => eb.send(new PutRuleCommand({ Name: 'bad', ScheduleExpression: 'rate(1 hours)' })),
      'ValidationException',
    );
    await awsError(() => eb.send(new PutRuleCommand({ Name: 'bad' })), 'ValidationException');
    await awsError(
      () => eb.send(new PutTargetsCommand({ Rule: 'nope', Targets: [{ Id: 'a', Arn: 'x' }] })),
      'ResourceNotFoundException',
    );
    await eb.send(new PutRuleCommand({ Name: 'two-inputs', EventPattern: '{"source":["x"]}' }));
    await awsError(
      () =>
        eb.send(
          new PutTargetsCommand({
            Rule: 'two-inputs',
            Targets: [
              {
                Id: 'a',
                Arn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
                Input: '{}',
                InputPath: '$',
              },
            ],
          }),
        ),
      'ValidationException',
    );
    await awsError(
      () => eb.send(new ListTargetsByRuleCommand({ Rule: 'nope' })),
      'ResourceNotFoundException',
    );
    await awsError(() => eb.send(new DeleteRuleCommand({ Name: 'nope' })), 'ResourceNotFoundException');
  });
});

describe('SNS alerts', () => {
  it('keeps published messages for the CLI, and refuses unknown topics', async () => {
    const sns = new SNSClient({ ...h.cloud.clientConfig(), maxAttempts: 1 });
    try {
      const t = await sns.send(new CreateTopicCommand({ Name: 'alerts' }));
      expect(t.TopicArn).toBe(`arn:aws:sns:${h.cloud.region}:${h.cloud.accountId}:alerts`);
      // CreateTopic is idempotent.
      expect((await sns.send(new CreateTopicCommand({ Name: 'alerts' }))).TopicArn).toBe(t.TopicArn);
      expect((await sns.send(new ListTopicsCommand({}))).Topics).toEqual([{ TopicArn: t.TopicArn }]);
      const p = await sns.send(
        new PublishCommand({ TopicArn: t.TopicArn, Subject: 'hi', Message: 'rotation repaired' }),
      );
      expect(p.MessageId).toBeDefined();
      await awsError(
        () => sns.send(new PublishCommand({ TopicArn: `${t.TopicArn}-nope`, Message: 'x' })),
        'NotFoundException',
      );
      const expected = [
        expect.objectContaining({
          messageId: p.MessageId,
          subject: 'hi',
          message: 'rotation repaired',
          topicArn: t.TopicArn,
        }),
      ];
      expect(h.cloud.sns.messages()).toEqual(expected);
      const res = await fetch(`${h.cloud.endpoint}/_credflow/alerts`, {
        headers: { authorization: `Bearer ${h.cloud.token}` },
      });
      expect(await res.json()).toEqual(expected);
    } finally {
      sns.destroy();
    }
  });

  it('publishes from a workflow through sns:publish', async () => {
    const sns = new SNSClient({ ...h.cloud.clientConfig(), maxAttempts: 1 });
    try {
      const t = await sns.send(new CreateTopicCommand({ Name: 'workflow-alerts' }));
      const sm = await sfn.send(
        new CreateStateMachineCommand({
          name: 'alerter',
          roleArn: role,
          definition: JSON.stringify({
            StartAt: 'Alert',
            States: {
              Alert: {
                Type: 'Task',
                Resource: 'arn:aws:states:::sns:publish',
                Parameters: { TopicArn: t.TopicArn, Subject: 'drift', 'Message.$': '$' },
                End: true,
              },
            },
          }),
        }),
      );
      const run = await sfn.send(
        new StartExecutionCommand({ stateMachineArn: sm.stateMachineArn, input: '{"secret":"app/db"}' }),
      );
      await h.cloud.stepFunctions.awaitExecution(run.executionArn!);
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn: run.executionArn }));
      expect(d.status).toBe('SUCCEEDED');
      expect(JSON.parse(d.output!).MessageId).toBeDefined();
      expect(h.cloud.sns.messages().filter((m) => m.topicArn === t.TopicArn)).toEqual([
        expect.objectContaining({ subject: 'drift', message: '{"secret":"app/db"}' }),
      ]);
    } finally {
      sns.destroy();
    }
  });
});

describe('rules across a restart', () => {
  it('keeps rules and targets, and routes with them after the restart', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'credflow-eb-'));
    let cloud = await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger });
    let ebc = new EventBridgeClient({ ...cloud.clientConfig(), maxAttempts: 1 });
    let sfc = new SFNClient({ ...cloud.clientConfig(), maxAttempts: 1 });
    try {
      const sm = await sfc.send(
        new CreateStateMachineCommand({
          name: 'kept',
          roleArn: role,
          definition: JSON.stringify({ StartAt: 'P', States: { P: { Type: 'Pass', End: true } } }),
        }),
      );
      await ebc.send(new PutRuleCommand({ Name: 'kept', EventPattern: '{"source":["restart.test"]}' }));
      await ebc.send(
        new PutTargetsCommand({
          Rule: 'kept',
          Targets: [{ Id: 'sm', Arn: sm.stateMachineArn, InputPath: '$.detail' }],
        }),
      );
      ebc.destroy();
      sfc.destroy();
      await cloud.stop();
      cloud = await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger });
      ebc = new EventBridgeClient({ ...cloud.clientConfig(), maxAttempts: 1 });
      sfc = new SFNClient({ ...cloud.clientConfig(), maxAttempts: 1 });
      expect((await ebc.send(new ListTargetsByRuleCommand({ Rule: 'kept' }))).Targets).toHaveLength(1);
      await ebc.send(
        new PutEventsCommand({
          Entries: [{ Source: 'restart.test', DetailType: 't', Detail: '{"after":true}' }],
        }),
      );
      let execs: ExecutionListItem[] = [];
      for (let i = 0; i < 100 && execs.length === 0; i++) {
        execs =
          (await sfc.send(new ListExecutionsCommand({ stateMachineArn: sm.stateMachineArn }))).executions ??
          [];
        if (execs.length === 0) await new Promise((r) => setTimeout(r, 10));
      }
      await cloud.stepFunctions.awaitIdle();
      const d = await sfc.send(new DescribeExecutionCommand({ executionArn: execs[0]?.executionArn }));
      expect(JSON.parse(d.input!)).toEqual({ after: true });
    } finally {
      ebc.destroy();
      sfc.destroy();
      await cloud.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
