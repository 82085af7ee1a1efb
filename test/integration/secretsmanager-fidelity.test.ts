/**
 * The local Secrets Manager answers as AWS does where it used to differ (issue 14): each test is
 * named after the AWS behaviour and cites the API reference page it follows
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_<Operation>.html).
 */
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteResourcePolicyCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretCommand,
  ValidateResourcePolicyCommand,
} from '@aws-sdk/client-secrets-manager';
import { awsError, type Harness, startLocalCloud, token } from '../support/cloud';
import { signedJson } from '../support/signed';

let h: Harness;
let seq = 0;
const unique = (prefix = 'fidelity') => `${prefix}/f${++seq}-${Date.now()}`;

beforeAll(async () => {
  h = await startLocalCloud();
});
afterAll(async () => {
  await h?.stop();
});

async function create(extra: Record<string, unknown> = {}) {
  const name = unique();
  const out = await h.sm.send(new CreateSecretCommand({ Name: name, SecretString: 'value', ...extra }));
  return { name, arn: out.ARN as string };
}

const ACCOUNT = '000000000000';
const policy = (statement: Record<string, unknown>) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
const readBy = (principal: unknown, extra: Record<string, unknown> = {}) =>
  policy({
    Effect: 'Allow',
    Principal: principal,
    Action: 'secretsmanager:GetSecretValue',
    Resource: '*',
    ...extra,
  });

describe('Secrets Manager as AWS answers', () => {
  // DescribeSecret, PrimaryRegion: "The Region the secret is in. If a secret is replicated to other
  // Regions, ..." — AWS sends the member only for a replicated secret; none is here.
  it('DescribeSecret and ListSecrets have no PrimaryRegion for a secret that is not replicated', async () => {
    const { name, arn } = await create();
    expect((await h.sm.send(new DescribeSecretCommand({ SecretId: arn }))).PrimaryRegion).toBeUndefined();
    const listed = await h.sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [name] }] }));
    expect(listed.SecretList).toHaveLength(1);
    expect(listed.SecretList?.[0]?.PrimaryRegion).toBeUndefined();
  });

  // The service's error shapes (ResourceNotFoundException etc.) carry `Message`; the SDK reads the
  // modelled member, so a body with `message` loses the text in some SDKs.
  it('error bodies carry Message, as the service model names it', async () => {
    const res = await signedJson(h.cloud, 'secretsmanager', 'secretsmanager.DescribeSecret', {
      SecretId: unique('missing'),
    });
    expect(res.status).toBe(400);
    expect(res.body['__type']).toBe('ResourceNotFoundException');
    expect(res.body['Message']).toBe("Secrets Manager can't find the specified secret.");
    expect(res.body).not.toHaveProperty('message');
  });

  // Name / SecretId: "The name can contain ASCII letters, numbers, and the following characters:
  // /_+=.@-"; AWS refuses anything else with ValidationException on every operation.
  it('an id that cannot be a secret name is a ValidationException on every operation', async () => {
    const bad = 'bad name!';
    const calls: (() => Promise<unknown>)[] = [
      () => h.sm.send(new CreateSecretCommand({ Name: bad, SecretString: 'x' })),
      () => h.sm.send(new GetSecretValueCommand({ SecretId: bad })),
      () => h.sm.send(new DescribeSecretCommand({ SecretId: bad })),
      () => h.sm.send(new PutSecretValueCommand({ SecretId: bad, SecretString: 'x' })),
      () => h.sm.send(new DeleteSecretCommand({ SecretId: bad })),
      () => h.sm.send(new TagResourceCommand({ SecretId: bad, Tags: [{ Key: 'k', Value: 'v' }] })),
    ];
    for (const call of calls) {
      const e = await awsError(call, 'ValidationException');
      expect(e.message).toMatch(/^Invalid name\. Must be a valid name containing alphanumeric characters/);
    }
  });

  // ClientRequestToken (CreateSecret, PutSecretValue, UpdateSecret, RotateSecret): "If you use the
  // AWS CLI or one of the AWS SDKs to call this operation, then you can leave this parameter empty
  // ... If you don't use the SDK and instead generate a raw HTTP request ... then you must
  // generate a ClientRequestToken".
  it('a raw request without a ClientRequestToken is refused where AWS requires one, and changes nothing', async () => {
    const { arn } = await create();
    const res = await signedJson(h.cloud, 'secretsmanager', 'secretsmanager.PutSecretValue', {
      SecretId: arn,
      SecretString: 'raw',
    });
    expect(res.status).toBe(400);
    expect(res.body['__type']).toBe('InvalidRequestException');
    expect(res.body['Message']).toMatch(/ClientRequestToken/);
    const created = await signedJson(h.cloud, 'secretsmanager', 'secretsmanager.CreateSecret', {
      Name: unique('raw'),
      SecretString: 'x',
    });
    expect(created.body['__type']).toBe('InvalidRequestException');
    expect((await h.sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe('value');
    // With a token the same raw request works.
    const ok = await signedJson(h.cloud, 'secretsmanager', 'secretsmanager.PutSecretValue', {
      SecretId: arn,
      SecretString: 'raw',
      ClientRequestToken: token(),
    });
    expect(ok.status).toBe(200);
  });

  // UpdateSecret, Description; DescribeSecret leaves out members that have no value.
  it('after UpdateSecret with an empty Description, DescribeSecret has no Description', async () => {
    const { arn } = await create({ Description: 'first' });
    await h.sm.send(new UpdateSecretCommand({ SecretId: arn, Description: '' }));
    const d = await h.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(d).not.toHaveProperty('Description');
  });

  // UntagResource / DescribeSecret, Tags: a secret whose tags were all removed answers `Tags: []`;
  // one never tagged has no Tags.
  it('after untagging every tag DescribeSecret answers Tags: [], and a never-tagged secret has none', async () => {
    const { arn } = await create({ Tags: [{ Key: 'team', Value: 'db' }] });
    await h.sm.send(new UntagResourceCommand({ SecretId: arn, TagKeys: ['team'] }));
    expect((await h.sm.send(new DescribeSecretCommand({ SecretId: arn }))).Tags).toEqual([]);
    const never = await create();
    expect((await h.sm.send(new DescribeSecretCommand({ SecretId: never.arn }))).Tags).toBeUndefined();
  });

  // GetSecretValue, errors: InvalidRequestException for a VersionStage that the VersionId lacks.
  it('GetSecretValue with a VersionId and a VersionStage not on it is an InvalidRequestException', async () => {
    const { arn } = await create();
    const current = (await h.sm.send(new GetSecretValueCommand({ SecretId: arn }))).VersionId;
    const e = await awsError(
      () =>
        h.sm.send(
          new GetSecretValueCommand({ SecretId: arn, VersionId: current, VersionStage: 'AWSPREVIOUS' }),
        ),
      'InvalidRequestException',
    );
    expect(e.message).toBe('You provided a VersionStage that is not associated to the provided VersionId.');
  });

  // BatchGetSecretValue: "If Secrets Manager encounters errors such as AccessDeniedException while
  // attempting to retrieve any of the secrets, you can see the errors in Errors in the response";
  // SecretIdList or Filters, up to 20 secrets. (Per-secret IAM: test/integration/iam.test.ts.)
  it('BatchGetSecretValue returns the secrets it can read and reports the others in Errors', async () => {
    const a = await create();
    const b = await create({ SecretString: 'other' });
    const missing = unique('never-was');
    const out = await h.sm.send(new BatchGetSecretValueCommand({ SecretIdList: [a.name, b.arn, missing] }));
    expect(out.SecretValues?.map((v) => [v.ARN, v.Name, v.SecretString, v.VersionStages])).toEqual([
      [a.arn, a.name, 'value', ['AWSCURRENT']],
      [b.arn, b.name, 'other', ['AWSCURRENT']],
    ]);
    expect(out.Errors?.map((e) => [e.SecretId, e.ErrorCode])).toEqual([
      [missing, 'ResourceNotFoundException'],
    ]);
    // Through ListSecrets' filters, a page at a time.
    const first = await h.sm.send(
      new BatchGetSecretValueCommand({ Filters: [{ Key: 'name', Values: [a.name, b.name] }], MaxResults: 1 }),
    );
    expect(first.SecretValues).toHaveLength(1);
    expect(first.NextToken).toBeDefined();
    const second = await h.sm.send(
      new BatchGetSecretValueCommand({
        Filters: [{ Key: 'name', Values: [a.name, b.name] }],
        MaxResults: 1,
        NextToken: first.NextToken,
      }),
    );
    expect([...(first.SecretValues ?? []), ...(second.SecretValues ?? [])].map((v) => v.Name).sort()).toEqual(
      [a.name, b.name].sort(),
    );
    // Neither or both: refused.
    for (const input of [{}, { SecretIdList: [a.name], Filters: [{ Key: 'name' as const, Values: ['x'] }] }])
      await awsError(() => h.sm.send(new BatchGetSecretValueCommand(input)), 'InvalidParameterException');
  });

  // DeleteSecret, ForceDeleteWithoutRecovery: "If you use this parameter and the secret does not
  // exist, Secrets Manager ... the operation succeeds" (no ResourceNotFoundException).
  it('DeleteSecret with ForceDeleteWithoutRecovery on a secret that does not exist succeeds', async () => {
    const name = unique('never-was');
    const out = await h.sm.send(
      new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }),
    );
    expect(out.Name).toBe(name);
    expect(out.ARN).toMatch(new RegExp(`:secret:${name.replace(/\//g, '\\/')}-[A-Za-z0-9]{6}$`));
    expect(out.DeletionDate).toBeInstanceOf(Date);
    // Nothing came into being.
    await awsError(
      () => h.sm.send(new DescribeSecretCommand({ SecretId: name })),
      'ResourceNotFoundException',
    );
    // Without the flag it is still an error.
    await awsError(() => h.sm.send(new DeleteSecretCommand({ SecretId: name })), 'ResourceNotFoundException');
  });

  // ListSecrets, Filter: the API reference says "description: Prefix match, not case-sensitive";
  // AWS, recorded, matches more: the value is broken into words and each must begin a word of the
  // description, in any order. Recorded: "a secret" finds "a secret" and "an secret", not
  // "asecret" or "thesecret"; "a" finds all but "thesecret"; "!a" only "thesecret"; "!c" all.
  // The local cloud does what AWS does.
  it('AWS matches a ListSecrets description filter word by word: "a secret" finds "an secret"', async () => {
    const tag = `desc${Date.now()}`;
    const made: Record<string, string> = {};
    for (const d of ['a secret', 'an secret', 'asecret', 'thesecret', 'Primary Orders database'])
      made[d] = (await create({ Description: d, Tags: [{ Key: tag, Value: 'x' }] })).name;
    const find = async (value: string) => {
      const out = await h.sm.send(
        new ListSecretsCommand({
          Filters: [
            { Key: 'tag-key', Values: [tag] },
            { Key: 'description', Values: [value] },
          ],
        }),
      );
      return (out.SecretList ?? []).map((s) => s.Name).sort();
    };
    const names = (...ds: string[]) => ds.map((d) => made[d]).sort();
    expect(await find('a secret')).toEqual(names('a secret', 'an secret'));
    expect(await find('a')).toEqual(names('a secret', 'an secret', 'asecret'));
    expect(await find('!a')).toEqual(names('thesecret', 'Primary Orders database'));
    expect(await find('!c')).toEqual(
      names('a secret', 'an secret', 'asecret', 'thesecret', 'Primary Orders database'),
    );
    expect(await find('orders')).toEqual(names('Primary Orders database'));
    expect(await find('primary ord')).toEqual(names('Primary Orders database'));
    expect(await find('database primary')).toEqual(names('Primary Orders database'));
    expect(await find('rders')).toEqual([]);
    // name stays a plain case-sensitive prefix: recorded, "testing1 one" finds nothing.
    const byName = await h.sm.send(
      new ListSecretsCommand({
        Filters: [{ Key: 'name', Values: [`${made['a secret']?.split('/')[0]} a`] }],
      }),
    );
    expect(byName.SecretList ?? []).toEqual([]);
  });

  // RotateSecret, ClientRequestToken: a raw request must carry one, as for the other operations
  // that make a version, but AWS, recorded, answers RotateSecret with InvalidParameterException
  // (CreateSecret, PutSecretValue and UpdateSecret: InvalidRequestException), in the same words,
  // before it looks the secret up.
  it('AWS refuses a raw RotateSecret without a ClientRequestToken with InvalidParameterException', async () => {
    const { arn } = await create();
    for (const id of [arn, unique('never-was')]) {
      const res = await signedJson(h.cloud, 'secretsmanager', 'secretsmanager.RotateSecret', {
        SecretId: id,
        RotationRules: { AutomaticallyAfterDays: 30 },
        RotateImmediately: false,
      });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        __type: 'InvalidParameterException',
        Message: 'You must provide a ClientRequestToken value. We recommend a UUID-type value.',
      });
    }
    // Nothing changed.
    expect((await h.sm.send(new DescribeSecretCommand({ SecretId: arn }))).RotationEnabled).toBeFalsy();
    const update = await signedJson(h.cloud, 'secretsmanager', 'secretsmanager.UpdateSecret', {
      SecretId: arn,
      SecretString: 'raw',
    });
    expect(update.body).toEqual({
      __type: 'InvalidRequestException',
      Message: 'You must provide a ClientRequestToken value. We recommend a UUID-type value.',
    });
  });
});

describe('resource policies as AWS keeps them', () => {
  // PutResourcePolicy / GetResourcePolicy / DeleteResourcePolicy: stored as sent and returned.
  it('PutResourcePolicy stores the policy, GetResourcePolicy returns it, DeleteResourcePolicy removes it', async () => {
    const { name, arn } = await create();
    const text = readBy({ AWS: `arn:aws:iam::${ACCOUNT}:role/reader` });
    expect(await h.sm.send(new GetResourcePolicyCommand({ SecretId: arn }))).not.toHaveProperty(
      'ResourcePolicy',
    );
    const put = await h.sm.send(new PutResourcePolicyCommand({ SecretId: name, ResourcePolicy: text }));
    expect(put).toMatchObject({ ARN: arn, Name: name });
    const got = await h.sm.send(new GetResourcePolicyCommand({ SecretId: arn }));
    expect(got).toMatchObject({ ARN: arn, Name: name, ResourcePolicy: text });
    const del = await h.sm.send(new DeleteResourcePolicyCommand({ SecretId: arn }));
    expect(del).toMatchObject({ ARN: arn, Name: name });
    expect(await h.sm.send(new GetResourcePolicyCommand({ SecretId: arn }))).not.toHaveProperty(
      'ResourcePolicy',
    );
  });

  // PutResourcePolicy, errors: MalformedPolicyDocumentException for a policy with a syntax error.
  it('PutResourcePolicy refuses a malformed policy and keeps the one attached', async () => {
    const { arn } = await create();
    const good = readBy({ AWS: `arn:aws:iam::${ACCOUNT}:root` });
    await h.sm.send(new PutResourcePolicyCommand({ SecretId: arn, ResourcePolicy: good }));
    for (const bad of ['{not json', '[]', policy({ Effect: 'Maybe', Principal: '*', Action: '*' })]) {
      await awsError(
        () => h.sm.send(new PutResourcePolicyCommand({ SecretId: arn, ResourcePolicy: bad })),
        'MalformedPolicyDocumentException',
      );
    }
    expect((await h.sm.send(new GetResourcePolicyCommand({ SecretId: arn }))).ResourcePolicy).toBe(good);
  });

  // PutResourcePolicy, BlockPublicPolicy: "Specifies whether to block resource-based policies that
  // allow broad access to the secret, for example those that use a wildcard for the principal.";
  // errors: PublicPolicyException.
  it('BlockPublicPolicy refuses a wildcard principal (PublicPolicyException) and accepts it narrowed to an account', async () => {
    const { arn } = await create();
    for (const open of [readBy('*'), readBy({ AWS: '*' })]) {
      await awsError(
        () =>
          h.sm.send(
            new PutResourcePolicyCommand({ SecretId: arn, ResourcePolicy: open, BlockPublicPolicy: true }),
          ),
        'PublicPolicyException',
      );
    }
    expect(await h.sm.send(new GetResourcePolicyCommand({ SecretId: arn }))).not.toHaveProperty(
      'ResourcePolicy',
    );
    const narrowed = readBy('*', { Condition: { StringEquals: { 'aws:PrincipalAccount': ACCOUNT } } });
    await h.sm.send(
      new PutResourcePolicyCommand({ SecretId: arn, ResourcePolicy: narrowed, BlockPublicPolicy: true }),
    );
    // Without BlockPublicPolicy a broad policy is the caller's choice.
    await h.sm.send(new PutResourcePolicyCommand({ SecretId: arn, ResourcePolicy: readBy('*') }));
    expect((await h.sm.send(new GetResourcePolicyCommand({ SecretId: arn }))).ResourcePolicy).toBe(
      readBy('*'),
    );
  });

  // ValidateResourcePolicy: "The policy is valid JSON ... The policy does not lock out a caller
  // [and] does not grant broad access"; answers PolicyValidationPassed and ValidationErrors.
  it('ValidateResourcePolicy checks the JSON grammar and broad access without attaching anything', async () => {
    const { arn } = await create();
    const ok = await h.sm.send(
      new ValidateResourcePolicyCommand({
        SecretId: arn,
        ResourcePolicy: readBy({ AWS: `arn:aws:iam::${ACCOUNT}:role/reader` }),
      }),
    );
    expect(ok).toMatchObject({ PolicyValidationPassed: true, ValidationErrors: [] });
    const open = await h.sm.send(new ValidateResourcePolicyCommand({ ResourcePolicy: readBy('*') }));
    expect(open.PolicyValidationPassed).toBe(false);
    expect(open.ValidationErrors?.[0]?.CheckName).toBe('PUBLIC_ACCESS');
    const notJson = await h.sm.send(new ValidateResourcePolicyCommand({ ResourcePolicy: '{"Statement": ' }));
    expect(notJson.PolicyValidationPassed).toBe(false);
    expect(notJson.ValidationErrors?.[0]?.CheckName).toBe('SYNTAX');
    expect(await h.sm.send(new GetResourcePolicyCommand({ SecretId: arn }))).not.toHaveProperty(
      'ResourcePolicy',
    );
    await awsError(
      () =>
        h.sm.send(
          new ValidateResourcePolicyCommand({ SecretId: unique('missing'), ResourcePolicy: readBy('*') }),
        ),
      'ResourceNotFoundException',
    );
  });
});
