/**
 * AWS's quotas on the local cloud, each with the error AWS gives. Secrets Manager: "AWS Secrets
 * Manager quotas" (userguide/reference_limits.html); Step Functions: "Step Functions service
 * quotas" (dg/limits-overview.html) and "Handling errors" (dg/concepts-error-handling.html).
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { quotasOn } from '../../local/quotas';
import { awsError, type Harness, startLocalCloud, token } from '../support/cloud';

let h: Harness;
let sfn: SFNClient;
/** The Secrets Manager buckets' clock, driven by the tests (milliseconds). */
let clock = 0;
let seq = 0;
const role = 'arn:aws:iam::000000000000:role/test';

beforeAll(async () => {
  h = await startLocalCloud(quotasOn());
  h.cloud.secretsQuotas.setClock(() => clock);
  sfn = new SFNClient({ ...h.cloud.clientConfig(), maxAttempts: 1 });
});
afterAll(async () => {
  sfn.destroy();
  await h.stop();
});

async function secret(value = 'v0'): Promise<string> {
  seq++;
  const out = await h.sm.send(new CreateSecretCommand({ Name: `quota/s${seq}`, SecretString: value }));
  return out.ARN!;
}

describe('Secrets Manager request rates (token buckets per API group)', () => {
  it('ThrottlingException "Rate exceeded" once PutSecretValue + UpdateSecretVersionStage pass 50/s', async () => {
    clock += 10_000; // every bucket full again
    const arn = await secret();
    const versions: string[] = [];
    // 50 writes of the shared group: PutSecretValue and UpdateSecretVersionStage draw on one bucket.
    for (let i = 0; i < 25; i++) {
      const v = token(`w${i}-`);
      await h.sm.send(
        new PutSecretValueCommand({
          SecretId: arn,
          SecretString: `v${i}`,
          ClientRequestToken: v,
          VersionStages: ['X'],
        }),
      );
      versions.push(v);
    }
    for (let i = 0; i < 25; i++) {
      await h.sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: `Y${i}`,
          MoveToVersionId: versions[i]!,
        }),
      );
    }
    const err = await awsError(
      () => h.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'one too many' })),
      'ThrottlingException',
    );
    expect(err.message).toBe('Rate exceeded');
    expect(err.$metadata?.httpStatusCode).toBe(400);
    // The SDK's retry strategy takes it for throttling: a client allowed two attempts makes both.
    const retrying = new SecretsManagerClient({ ...h.cloud.clientConfig(), maxAttempts: 2 });
    const before = h.cloud.secretsQuotas.calls.get('PutSecretValue') ?? 0;
    await awsError(
      () => retrying.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'retried' })),
      'ThrottlingException',
    );
    retrying.destroy();
    expect(h.cloud.secretsQuotas.calls.get('PutSecretValue')).toBe(before + 2);

    // Other groups keep their own buckets: reads, tags and describes go on.
    await expect(h.sm.send(new GetSecretValueCommand({ SecretId: arn }))).resolves.toBeDefined();
    await expect(h.sm.send(new DescribeSecretCommand({ SecretId: arn }))).resolves.toBeDefined();
    await expect(
      h.sm.send(new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'k', Value: 'v' }] })),
    ).resolves.toBeDefined();
    // A refused write changed nothing.
    expect((await h.sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe('v0');

    clock += 100; // 5 tokens back at 50/s
    for (let i = 0; i < 5; i++)
      await h.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: `r${i}` }));
    await awsError(
      () => h.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'again' })),
      'ThrottlingException',
    );
  });

  it('TagResource + UntagResource 50/s and CreateSecret 50/s, each its own bucket', async () => {
    clock += 10_000;
    const arn = await secret();
    for (let i = 0; i < 50; i++)
      await h.sm.send(new TagResourceCommand({ SecretId: arn, Tags: [{ Key: `k${i % 5}`, Value: `${i}` }] }));
    await awsError(
      () => h.sm.send(new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'k', Value: 'x' }] })),
      'ThrottlingException',
    );
    // CreateSecret has its own 50/s: one was spent above.
    for (let i = 0; i < 49; i++) await secret();
    await awsError(() => secret(), 'ThrottlingException');
    expect(h.cloud.secretsQuotas.throttled.get('CreateSecret')).toBeGreaterThanOrEqual(1);
  });

  it('counts every call by operation, throttled ones included', () => {
    const calls = h.cloud.secretsQuotas.calls;
    expect(calls.get('PutSecretValue')).toBeGreaterThan(25);
    expect(calls.get('UpdateSecretVersionStage')).toBe(25);
  });

  it('with rates off nothing is throttled', async () => {
    clock += 10_000;
    const arn = await secret();
    h.cloud.quotas.rates = false;
    try {
      for (let i = 0; i < 60; i++)
        await h.sm.send(new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'k', Value: `${i}` }] }));
    } finally {
      h.cloud.quotas.rates = true;
    }
  });
});

describe('Secrets Manager sizes and versions', () => {
  beforeAll(() => {
    h.cloud.quotas.rates = false;
  });
  afterAll(() => {
    h.cloud.quotas.rates = true;
  });

  it('a secret value is at most 65,536 bytes: characters by the API model, UTF-8 bytes by the quota', async () => {
    const arn = await secret();
    await h.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'a'.repeat(65_536) }));
    const tooLong = await awsError(
      () => h.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'a'.repeat(65_537) })),
      'ValidationException',
    );
    expect(tooLong.message).toMatch(/Member must have length less than or equal to 65536/);
    // 30,000 characters, 90,000 bytes: within the model's length, over the value quota.
    const err = await awsError(
      () => h.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: '€'.repeat(30_000) })),
      'LimitExceededException',
    );
    expect(err.message).toMatch(
      /^The request failed because it would exceed one of the Secrets Manager quotas\./,
    );
    await awsError(
      () => h.sm.send(new CreateSecretCommand({ Name: 'quota/too-big', SecretString: '€'.repeat(30_000) })),
      'LimitExceededException',
    );
    // Nothing was stored by the refused calls.
    expect((await h.sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toHaveLength(65_536);
    await awsError(
      () => h.sm.send(new DescribeSecretCommand({ SecretId: 'quota/too-big' })),
      'ResourceNotFoundException',
    );
  });

  it('keeps every version of the last 24 hours: the 101st within a day is LimitExceededException', async () => {
    const arn = await secret('v0');
    for (let i = 1; i < 100; i++)
      await h.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: `v${i}` }));
    const all = await h.sm.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true, MaxResults: 100 }),
    );
    expect(all.Versions).toHaveLength(100);
    const err = await awsError(
      () => h.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'v100' })),
      'LimitExceededException',
    );
    expect(err.message).toMatch(/quotas/);
    expect((await h.sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe('v99');

    // A day later the oldest unlabelled versions may go, and a new one fits.
    const later = Date.now() + 25 * 3_600_000;
    h.cloud.secrets.setClock(() => new Date(later));
    try {
      await h.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'v100' }));
      const after = await h.sm.send(
        new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true, MaxResults: 100 }),
      );
      expect(after.Versions).toHaveLength(100);
    } finally {
      h.cloud.secrets.setClock(() => new Date());
    }
  });
});

async function machine(definition: unknown): Promise<string> {
  seq++;
  const out = await sfn.send(
    new CreateStateMachineCommand({ name: `q${seq}`, definition: JSON.stringify(definition), roleArn: role }),
  );
  return out.stateMachineArn!;
}

async function run(arn: string, input: unknown) {
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify(input) }),
  );
  await h.cloud.stepFunctions.awaitExecution(executionArn!);
  return sfn.send(new DescribeExecutionCommand({ executionArn }));
}

async function history(executionArn: string): Promise<HistoryEvent[]> {
  const all: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, ...(nextToken ? { nextToken } : {}) }),
    );
    all.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return all;
}

describe('Step Functions payloads (256 KiB) and history (25,000 events)', () => {
  const big = 'x'.repeat(150_000);

  it('StartExecution refuses an input over 256 KiB with ValidationException; nothing starts', async () => {
    const arn = await machine({ StartAt: 'P', States: { P: { Type: 'Pass', End: true } } });
    const err = await awsError(
      () =>
        sfn.send(
          new StartExecutionCommand({
            stateMachineArn: arn,
            input: JSON.stringify({ s: 'x'.repeat(262_144) }),
          }),
        ),
      'ValidationException',
    );
    expect(err.message).toMatch(
      /Value at 'input' failed to satisfy constraint: Member must have length less than or equal to 262144/,
    );
  });

  it('a Task result over 256 KiB fails the execution with States.DataLimitExceeded, which States.ALL cannot catch', async () => {
    h.cloud.lambdas.register('bloat', async (e: unknown) => ({ a: e, b: e }));
    const arn = await machine({
      StartAt: 'Bloat',
      States: {
        Bloat: {
          Type: 'Task',
          Resource: h.cloud.lambdas.arn('bloat'),
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Pass', End: true },
      },
    });
    const d = await run(arn, { s: big });
    expect(d.status).toBe('FAILED');
    expect(d.error).toBe('States.DataLimitExceeded');
    expect(d.cause).toBe(
      `The state/task '${h.cloud.lambdas.arn('bloat')}' returned a result with a size exceeding the maximum number of bytes service limit.`,
    );
    const events = await history(d.executionArn!);
    expect(events.map((e) => e.type)).not.toContain('PassStateEntered');
    expect(events.at(-1)?.type).toBe('ExecutionFailed');
  });

  it("a state's output over 256 KiB (a Pass doubling its input) fails the execution the same way", async () => {
    const arn = await machine({
      StartAt: 'Double',
      States: {
        Double: { Type: 'Pass', Parameters: { 'a.$': '$.s', 'b.$': '$.s' }, Next: 'After' },
        After: { Type: 'Pass', End: true },
      },
    });
    const d = await run(arn, { s: big });
    expect(d.status).toBe('FAILED');
    expect(d.error).toBe('States.DataLimitExceeded');
    expect(d.cause).toMatch(/^The state\/task 'Double' returned a result with a size exceeding/);
  });

  it("a Task's input over 256 KiB after Parameters fails before its resource is called", async () => {
    let called = 0;
    h.cloud.lambdas.register('never', async () => {
      called++;
      return {};
    });
    const arn = await machine({
      StartAt: 'Send',
      States: {
        Send: {
          Type: 'Task',
          Resource: h.cloud.lambdas.arn('never'),
          Parameters: { 'a.$': '$.s', 'b.$': '$.s' },
          End: true,
        },
      },
    });
    const d = await run(arn, { s: big });
    expect(d.error).toBe('States.DataLimitExceeded');
    expect(d.cause).toMatch(/'Send' has an input with a size exceeding/);
    expect(called).toBe(0);
  });

  it('an execution whose history reaches 25,000 events fails with States.Runtime, the history ending at 25,000', async () => {
    const arn = await machine({
      StartAt: 'Tick',
      States: {
        Tick: { Type: 'Pass', Next: 'IsDone' },
        IsDone: {
          Type: 'Choice',
          Choices: [{ Variable: '$.done', IsPresent: true, Next: 'Done' }],
          Default: 'Tick',
        },
        Done: { Type: 'Succeed' },
      },
    });
    const d = await run(arn, {});
    expect(d.status).toBe('FAILED');
    expect(d.error).toBe('States.Runtime');
    expect(d.cause).toBe('The execution reached the maximum number of history events (25000).');
    const events = await history(d.executionArn!);
    expect(events).toHaveLength(25_000);
    expect(events.at(-1)?.type).toBe('ExecutionFailed');
  }, 120_000);
});
