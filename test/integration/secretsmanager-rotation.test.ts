/**
 * RotateSecret on the local cloud with rotation functions written here: a small real one that
 * does the four steps through the SDK against the endpoint, and ones that fail.
 */
import {
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { LocalLambdaContext } from '../../local/lambda/registry';
import { awsError, type Harness, startLocalCloud, token } from '../support/cloud';

let h: Harness;
let seq = 0;

/** Stands in for the database a real rotation function would change: name -> accepted password. */
const fakeDb = new Map<string, string>();

interface RotationEvent {
  Step: string;
  SecretId: string;
  ClientRequestToken: string;
  RotationToken?: string;
}

/** A rotation function in the shape of AWS's templates, talking to the local cloud with the SDK. */
function rotationFunction(sm: SecretsManagerClient, calls: { event: RotationEvent; env: unknown }[]) {
  return async (raw: unknown, context?: unknown) => {
    const event = raw as RotationEvent;
    calls.push({ event, env: (context as LocalLambdaContext | undefined)?.env });
    const { SecretId: arn, ClientRequestToken: tok, Step: step } = event;
    const d = await sm.send(new DescribeSecretCommand({ SecretId: arn }));
    if (!d.RotationEnabled) throw new Error('rotation is not enabled');
    const stages = d.VersionIdsToStages ?? {};
    if (!stages[tok]) throw new Error('token is not a version of the secret');
    if (stages[tok]?.includes('AWSCURRENT')) return;
    if (!stages[tok]?.includes('AWSPENDING')) throw new Error('token is not pending');
    const current = JSON.parse(
      (await sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString!,
    ) as {
      user: string;
      password: string;
    };
    if (step === 'createSecret') {
      try {
        await sm.send(
          new GetSecretValueCommand({ SecretId: arn, VersionId: tok, VersionStage: 'AWSPENDING' }),
        );
      } catch (err) {
        if ((err as Error).name !== 'ResourceNotFoundException') throw err;
        const pw = (await sm.send(new GetRandomPasswordCommand({ ExcludeCharacters: '/@"\'\\' })))
          .RandomPassword!;
        await sm.send(
          new PutSecretValueCommand({
            SecretId: arn,
            ClientRequestToken: tok,
            SecretString: JSON.stringify({ ...current, password: pw }),
            VersionStages: ['AWSPENDING'],
          }),
        );
      }
    } else if (step === 'setSecret' || step === 'testSecret') {
      const pending = JSON.parse(
        (
          await sm.send(
            new GetSecretValueCommand({ SecretId: arn, VersionId: tok, VersionStage: 'AWSPENDING' }),
          )
        ).SecretString!,
      ) as { user: string; password: string };
      if (step === 'setSecret') fakeDb.set(pending.user, pending.password);
      else if (fakeDb.get(pending.user) !== pending.password)
        throw new Error('pending password does not log in');
    } else if (step === 'finishSecret') {
      const currentId = Object.entries(stages).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
      await sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: tok,
          RemoveFromVersionId: currentId,
        }),
      );
    }
  };
}

const calls: { event: RotationEvent; env: unknown }[] = [];
let goodArn: string;
let failingArn: string;

beforeAll(async () => {
  h = await startLocalCloud();
  goodArn = h.cloud.lambdas.register('test-rotator', rotationFunction(h.sm, calls), { MODE: 'test' });
  failingArn = h.cloud.lambdas.register('failing-rotator', async (raw: unknown) => {
    const e = raw as RotationEvent;
    if (e.Step === 'setSecret') throw new Error(`cannot reach the database for ${e.SecretId}`);
    if (e.Step === 'createSecret') {
      await h.sm.send(
        new PutSecretValueCommand({
          SecretId: e.SecretId,
          ClientRequestToken: e.ClientRequestToken,
          SecretString: '{"user":"u","password":"never-used"}',
          VersionStages: ['AWSPENDING'],
        }),
      );
    }
  });
});
afterAll(async () => {
  await h?.stop();
});

async function userSecret() {
  const user = `user${++seq}`;
  const password = `initial-${seq}`;
  fakeDb.set(user, password);
  const v1 = token();
  const out = await h.sm.send(
    new CreateSecretCommand({
      Name: `rot/${Date.now()}/${user}`,
      SecretString: JSON.stringify({ user, password }),
      ClientRequestToken: v1,
    }),
  );
  return { arn: out.ARN!, user, password, v1 };
}

async function stages(arn: string) {
  return (await h.sm.send(new DescribeSecretCommand({ SecretId: arn }))).VersionIdsToStages ?? {};
}

function rotationEvents(arn: string, since: Date) {
  return h.cloud.events
    .list({ source: 'aws.secretsmanager', detailType: 'AWS Service Event via CloudTrail', since })
    .filter((e) => (e.detail['additionalEventData'] as { SecretId?: string })?.SecretId === arn)
    .map((e) => e.detail['eventName']);
}

describe('RotateSecret', () => {
  it('creates the AWSPENDING placeholder, runs the four steps, and ends with the new version current', async () => {
    const since = new Date();
    const s = await userSecret();
    const t = token('rot-');
    calls.length = 0;
    const out = await h.sm.send(
      new RotateSecretCommand({
        SecretId: s.arn,
        ClientRequestToken: t,
        RotationLambdaARN: goodArn,
        RotationRules: { AutomaticallyAfterDays: 30 },
      }),
    );
    expect(out).toMatchObject({ ARN: s.arn, VersionId: t });
    await h.cloud.secrets.awaitIdle(s.arn);

    expect(calls.map((c) => c.event.Step)).toEqual([
      'createSecret',
      'setSecret',
      'testSecret',
      'finishSecret',
    ]);
    for (const c of calls) {
      expect(c.event).toMatchObject({
        SecretId: s.arn,
        ClientRequestToken: t,
        RotationToken: expect.any(String),
      });
      expect(c.env).toEqual({ MODE: 'test' });
    }
    // AWSPENDING is gone once the rotation succeeded; the old version is AWSPREVIOUS.
    expect(await stages(s.arn)).toEqual({ [s.v1]: ['AWSPREVIOUS'], [t]: ['AWSCURRENT'] });
    const current = JSON.parse(
      (await h.sm.send(new GetSecretValueCommand({ SecretId: s.arn }))).SecretString!,
    );
    expect(current.password).not.toBe(s.password);
    expect(fakeDb.get(s.user)).toBe(current.password);

    const d = await h.sm.send(new DescribeSecretCommand({ SecretId: s.arn }));
    expect(d).toMatchObject({
      RotationEnabled: true,
      RotationLambdaARN: goodArn,
      RotationRules: { AutomaticallyAfterDays: 30 },
    });
    expect(d.LastRotatedDate).toBeInstanceOf(Date);
    const days = (d.NextRotationDate!.getTime() - d.LastRotatedDate!.getTime()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThanOrEqual(31);
    expect(rotationEvents(s.arn, since)).toEqual(['RotationStarted', 'RotationSucceeded']);
    const api = h.cloud.events
      .list({ detailType: 'AWS API Call via CloudTrail', since })
      .find((e) => e.detail['eventName'] === 'RotateSecret' && JSON.stringify(e).includes(s.arn));
    expect(api?.detail['requestParameters']).toMatchObject({ secretId: s.arn, rotationLambdaARN: goodArn });
  });

  it('rotates again with the stored configuration when called with the secret id alone', async () => {
    const s = await userSecret();
    await h.sm.send(new RotateSecretCommand({ SecretId: s.arn, RotationLambdaARN: goodArn }));
    await h.cloud.secrets.awaitIdle(s.arn);
    const first = await h.sm.send(new GetSecretValueCommand({ SecretId: s.arn }));
    await h.sm.send(new RotateSecretCommand({ SecretId: s.arn }));
    await h.cloud.secrets.awaitIdle(s.arn);
    const prev = await h.sm.send(new GetSecretValueCommand({ SecretId: s.arn, VersionStage: 'AWSPREVIOUS' }));
    expect(prev.VersionId).toBe(first.VersionId);
    expect(
      Object.values(await stages(s.arn))
        .flat()
        .sort(),
    ).toEqual(['AWSCURRENT', 'AWSPREVIOUS']);
  });

  it('a failing rotation function: RotationFailed, AWSPENDING left on its version, AWSCURRENT untouched', async () => {
    const since = new Date();
    const s = await userSecret();
    const t = token('fail-');
    await h.sm.send(
      new RotateSecretCommand({ SecretId: s.arn, ClientRequestToken: t, RotationLambdaARN: failingArn }),
    );
    await h.cloud.secrets.awaitIdle(s.arn);
    expect(await stages(s.arn)).toEqual({ [s.v1]: ['AWSCURRENT'], [t]: ['AWSPENDING'] });
    expect(rotationEvents(s.arn, since)).toEqual(['RotationStarted', 'RotationFailed']);
    expect((await h.sm.send(new DescribeSecretCommand({ SecretId: s.arn }))).LastRotatedDate).toBeUndefined();

    // The next attempt finds the unfinished one.
    const e = await awsError(
      () => h.sm.send(new RotateSecretCommand({ SecretId: s.arn, RotationLambdaARN: goodArn })),
      'InvalidRequestException',
    );
    expect(e.message).toBe("A previous rotation isn't complete. That rotation will be reattempted.");

    // CancelRotateSecret turns rotation off and names the partial version.
    const cancel = await h.sm.send(new CancelRotateSecretCommand({ SecretId: s.arn }));
    expect(cancel).toMatchObject({ ARN: s.arn, VersionId: t });
    const d = await h.sm.send(new DescribeSecretCommand({ SecretId: s.arn }));
    expect(d.RotationEnabled).toBe(false);
    expect(d.NextRotationDate).toBeUndefined();
  });

  it('refuses a rotation function that is not registered, as AWS does one it cannot invoke', async () => {
    const s = await userSecret();
    const e = await awsError(
      () =>
        h.sm.send(
          new RotateSecretCommand({
            SecretId: s.arn,
            RotationLambdaARN: 'arn:aws:lambda:us-east-1:000000000000:function:nobody-home',
          }),
        ),
      'AccessDeniedException',
    );
    expect(e.message).toMatch(/cannot invoke the specified Lambda function/);
    await awsError(() => h.sm.send(new RotateSecretCommand({ SecretId: s.arn })), 'InvalidRequestException');
    expect(await stages(s.arn)).toEqual({ [s.v1]: ['AWSCURRENT'] });
  });

  // RotateSecret, RotateImmediately: "If you set RotateImmediately to false, Secrets Manager tests
  // the rotation configuration by running the testSecret step of the Lambda rotation function. The
  // test creates an AWSPENDING version of the secret and then removes it."
  // (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html)
  it('RotateImmediately=false runs testSecret on a temporary AWSPENDING version, then only configures the schedule', async () => {
    const s = await userSecret();
    calls.length = 0;
    const out = await h.sm.send(
      new RotateSecretCommand({
        SecretId: s.arn,
        RotationLambdaARN: goodArn,
        RotationRules: { ScheduleExpression: 'cron(0 16 1,15 * ? *)', Duration: '2h' },
        RotateImmediately: false,
      }),
    );
    expect(out.VersionId).toBeUndefined();
    await h.cloud.secrets.awaitIdle(s.arn);
    expect(calls.map((c) => c.event.Step)).toEqual(['testSecret']);
    const d = await h.sm.send(new DescribeSecretCommand({ SecretId: s.arn }));
    expect(d.RotationRules).toEqual({ ScheduleExpression: 'cron(0 16 1,15 * ? *)', Duration: '2h' });
    const next = d.NextRotationDate!;
    expect([1, 15]).toContain(next.getUTCDate());
    expect(next.getUTCHours()).toBe(17);
    expect(next.getUTCMinutes()).toBe(59);
    expect(d.VersionIdsToStages).toEqual({ [s.v1]: ['AWSCURRENT'] });
  });

  it('validates RotationRules', async () => {
    const s = await userSecret();
    for (const RotationRules of [
      { AutomaticallyAfterDays: 7, ScheduleExpression: 'rate(7 days)' },
      { ScheduleExpression: 'every tuesday' },
      { ScheduleExpression: 'rate(2 hours)' },
      { ScheduleExpression: 'cron(0 16 * * * *)' },
      { ScheduleExpression: 'rate(10 days)', Duration: '25h' },
    ]) {
      await awsError(
        () =>
          h.sm.send(new RotateSecretCommand({ SecretId: s.arn, RotationLambdaARN: goodArn, RotationRules })),
        'InvalidParameterException',
      );
    }
    await awsError(
      () =>
        h.sm.send(
          new RotateSecretCommand({
            SecretId: s.arn,
            RotationLambdaARN: goodArn,
            RotationRules: { AutomaticallyAfterDays: 0 },
          }),
        ),
      'ValidationException',
    );
  });

  it('a manual PutSecretValue during a rotation abandons it: AWSPENDING removed, RotationAbandoned', async () => {
    const since = new Date();
    const s = await userSecret();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow = h.cloud.lambdas.register('slow-rotator', async (raw: unknown) => {
      const e = raw as RotationEvent;
      if (e.Step === 'createSecret') {
        await h.sm.send(
          new PutSecretValueCommand({
            SecretId: e.SecretId,
            ClientRequestToken: e.ClientRequestToken,
            SecretString: '{"user":"x","password":"pending"}',
            VersionStages: ['AWSPENDING'],
          }),
        );
        await gate;
      }
      if (e.Step === 'setSecret') throw new Error('token is no longer pending');
    });
    await h.sm.send(new RotateSecretCommand({ SecretId: s.arn, RotationLambdaARN: slow }));
    // Wait until createSecret stored the pending value.
    for (let i = 0; i < 100 && Object.keys(await stages(s.arn)).length < 2; i++)
      await new Promise((r) => setTimeout(r, 10));
    const manual = token('manual-');
    await h.sm.send(
      new PutSecretValueCommand({
        SecretId: s.arn,
        SecretString: '{"user":"x"}',
        ClientRequestToken: manual,
      }),
    );
    release();
    await h.cloud.secrets.awaitIdle(s.arn);
    expect(await stages(s.arn)).toEqual({ [s.v1]: ['AWSPREVIOUS'], [manual]: ['AWSCURRENT'] });
    expect(rotationEvents(s.arn, since)).toEqual(['RotationStarted', 'RotationAbandoned', 'RotationFailed']);
  });

  it('awaitIdle() with no argument waits for every rotation', async () => {
    const a = await userSecret();
    const b = await userSecret();
    await h.sm.send(new RotateSecretCommand({ SecretId: a.arn, RotationLambdaARN: goodArn }));
    await h.sm.send(new RotateSecretCommand({ SecretId: b.arn, RotationLambdaARN: goodArn }));
    await h.cloud.secrets.awaitIdle();
    for (const s of [a, b]) {
      expect(
        (await h.sm.send(new DescribeSecretCommand({ SecretId: s.arn }))).LastRotatedDate,
      ).toBeInstanceOf(Date);
    }
  });
});
