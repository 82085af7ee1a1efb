/**
 * The local Secrets Manager through the real SDK v3 client over HTTP: every operation, its
 * errors as AWS names them, and the staging-label rules.
 */
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  RotateSecretCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { awsError, type Harness, startLocalCloud, token } from '../support/cloud';

let h: Harness;
let seq = 0;
const unique = (prefix = 'test') => `${prefix}/s${++seq}-${Date.now()}`;

beforeAll(async () => {
  h = await startLocalCloud();
});
afterAll(async () => {
  await h?.stop();
});

async function stages(secretId: string): Promise<Record<string, string[]>> {
  const d = await h.sm.send(new DescribeSecretCommand({ SecretId: secretId }));
  return d.VersionIdsToStages ?? {};
}

async function create(value = 'v1', extra: Record<string, unknown> = {}) {
  const name = unique();
  const v1 = token();
  const out = await h.sm.send(
    new CreateSecretCommand({ Name: name, SecretString: value, ClientRequestToken: v1, ...extra }),
  );
  return { name, arn: out.ARN!, v1 };
}

describe('CreateSecret', () => {
  it('creates a string secret with the token as its first AWSCURRENT version and an AWS-shaped ARN', async () => {
    const name = unique('app');
    const t = token();
    const out = await h.sm.send(
      new CreateSecretCommand({ Name: name, SecretString: 's3cr3t', ClientRequestToken: t }),
    );
    expect(out.Name).toBe(name);
    expect(out.VersionId).toBe(t);
    expect(out.ARN).toMatch(
      new RegExp(
        `^arn:aws:secretsmanager:us-east-1:000000000000:secret:${name.replace(/\//g, '\\/')}-[A-Za-z0-9]{6}$`,
      ),
    );
    expect(await stages(name)).toEqual({ [t]: ['AWSCURRENT'] });
  });

  it('stores a binary secret and gives the same bytes back', async () => {
    const name = unique();
    const bytes = new Uint8Array([0, 1, 2, 250, 255, 10]);
    await h.sm.send(new CreateSecretCommand({ Name: name, SecretBinary: bytes }));
    const got = await h.sm.send(new GetSecretValueCommand({ SecretId: name }));
    expect(got.SecretString).toBeUndefined();
    expect(Buffer.from(got.SecretBinary!)).toEqual(Buffer.from(bytes));
  });

  it('without a value creates no version, and GetSecretValue finds none', async () => {
    const name = unique();
    const out = await h.sm.send(new CreateSecretCommand({ Name: name, Description: 'empty' }));
    expect(out.VersionId).toBeUndefined();
    const e = await awsError(
      () => h.sm.send(new GetSecretValueCommand({ SecretId: name })),
      'ResourceNotFoundException',
    );
    expect(e.message).toBe(
      "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
    );
  });

  it('refuses both SecretString and SecretBinary', async () => {
    const e = await awsError(
      () =>
        h.sm.send(
          new CreateSecretCommand({ Name: unique(), SecretString: 'a', SecretBinary: new Uint8Array([1]) }),
        ),
      'InvalidParameterException',
    );
    expect(e.message).toMatch(/can't specify both a binary secret value and a string secret value/);
    expect(e.$metadata?.httpStatusCode).toBe(400);
  });

  it('refuses a name that exists: ResourceExistsException', async () => {
    const { name } = await create();
    const e = await awsError(
      () => h.sm.send(new CreateSecretCommand({ Name: name, SecretString: 'other' })),
      'ResourceExistsException',
    );
    expect(e.message).toBe(`The operation failed because the secret ${name} already exists.`);
  });

  it('answers a retry with the same token and value as the first call (idempotent)', async () => {
    const name = unique();
    const t = token();
    const first = await h.sm.send(
      new CreateSecretCommand({ Name: name, SecretString: 'x', ClientRequestToken: t }),
    );
    const again = await h.sm.send(
      new CreateSecretCommand({ Name: name, SecretString: 'x', ClientRequestToken: t }),
    );
    expect(again).toMatchObject({ ARN: first.ARN, Name: name, VersionId: t });
    await awsError(
      () => h.sm.send(new CreateSecretCommand({ Name: name, SecretString: 'y', ClientRequestToken: t })),
      'ResourceExistsException',
    );
  });

  it('refuses invalid names, short tokens and aws: tags', async () => {
    await awsError(
      () => h.sm.send(new CreateSecretCommand({ Name: 'bad name!', SecretString: 'x' })),
      'ValidationException',
    );
    const v = await awsError(
      () =>
        h.sm.send(
          new CreateSecretCommand({ Name: unique(), SecretString: 'x', ClientRequestToken: 'short' }),
        ),
      'ValidationException',
    );
    expect(v.message).toMatch(/clientRequestToken.*greater than or equal to 32/);
    await awsError(
      () =>
        h.sm.send(
          new CreateSecretCommand({
            Name: unique(),
            SecretString: 'x',
            Tags: [{ Key: 'aws:owner', Value: 'me' }],
          }),
        ),
      'InvalidParameterException',
    );
  });

  it('shows KmsKeyId only when the secret names a key other than the default', async () => {
    const a = await create('a');
    const b = await create('b', { KmsKeyId: 'alias/credflow-test' });
    expect((await h.sm.send(new DescribeSecretCommand({ SecretId: a.arn }))).KmsKeyId).toBeUndefined();
    expect((await h.sm.send(new DescribeSecretCommand({ SecretId: b.arn }))).KmsKeyId).toBe(
      'alias/credflow-test',
    );
    expect((await h.sm.send(new GetSecretValueCommand({ SecretId: b.arn }))).SecretString).toBe('b');
    const versions = await h.sm.send(new ListSecretVersionIdsCommand({ SecretId: a.arn }));
    expect(versions.Versions?.[0]?.KmsKeyIds).toEqual(['DefaultEncryptionKey']);
  });
});

describe('GetSecretValue', () => {
  it('finds a secret by name, full ARN and partial ARN', async () => {
    const { name, arn } = await create('by-any-id');
    for (const id of [name, arn, arn.slice(0, -7)]) {
      const got = await h.sm.send(new GetSecretValueCommand({ SecretId: id }));
      expect(got).toMatchObject({
        ARN: arn,
        Name: name,
        SecretString: 'by-any-id',
        VersionStages: ['AWSCURRENT'],
      });
      expect(got.CreatedDate).toBeInstanceOf(Date);
    }
  });

  it('reads by VersionId and by VersionStage, and refuses a pair that disagree', async () => {
    const { arn, v1 } = await create('one');
    const v2 = token();
    await h.sm.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: 'two', ClientRequestToken: v2 }),
    );
    expect((await h.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionId: v1 }))).SecretString).toBe(
      'one',
    );
    const prev = await h.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPREVIOUS' }));
    expect(prev).toMatchObject({ VersionId: v1, SecretString: 'one', VersionStages: ['AWSPREVIOUS'] });
    await awsError(
      () =>
        h.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionId: v1, VersionStage: 'AWSCURRENT' })),
      'InvalidRequestException',
    );
  });

  it('names what it cannot find', async () => {
    const e = await awsError(
      () => h.sm.send(new GetSecretValueCommand({ SecretId: 'no/such/secret' })),
      'ResourceNotFoundException',
    );
    expect(e.message).toBe("Secrets Manager can't find the specified secret.");
    const { arn } = await create();
    const missing = token();
    const v = await awsError(
      () => h.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionId: missing })),
      'ResourceNotFoundException',
    );
    expect(v.message).toBe(`Secrets Manager can't find the specified secret value for VersionId: ${missing}`);
    await awsError(
      () => h.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPENDING' })),
      'ResourceNotFoundException',
    );
  });

  it('records LastAccessedDate as the day (midnight UTC)', async () => {
    const { arn } = await create();
    expect((await h.sm.send(new DescribeSecretCommand({ SecretId: arn }))).LastAccessedDate).toBeUndefined();
    await h.sm.send(new GetSecretValueCommand({ SecretId: arn }));
    const d = await h.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    const today = new Date();
    today.setUTCHours(0, 0, 0, 0);
    expect(d.LastAccessedDate?.getTime()).toBe(today.getTime());
  });
});

describe('PutSecretValue', () => {
  it('makes the new version AWSCURRENT and the old one AWSPREVIOUS by default', async () => {
    const { arn, v1 } = await create();
    const v2 = token();
    const out = await h.sm.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: 'v2', ClientRequestToken: v2 }),
    );
    expect(out).toMatchObject({ ARN: arn, VersionId: v2, VersionStages: ['AWSCURRENT'] });
    expect(await stages(arn)).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });
  });

  it('is a no-op for a used token with the same value, and ResourceExistsException with another', async () => {
    const { arn } = await create();
    const t = token();
    const first = await h.sm.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: 'same', ClientRequestToken: t }),
    );
    const before = await stages(arn);
    const again = await h.sm.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: 'same', ClientRequestToken: t }),
    );
    expect(again).toEqual({ ...first, $metadata: again.$metadata });
    expect(await stages(arn)).toEqual(before);
    const e = await awsError(
      () =>
        h.sm.send(
          new PutSecretValueCommand({ SecretId: arn, SecretString: 'different', ClientRequestToken: t }),
        ),
      'ResourceExistsException',
    );
    expect(e.message).toBe("You can't modify an existing version, you can only create a new version.");
    expect((await h.sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe('same');
  });

  it('refuses a call without a value, and a missing secret', async () => {
    const { arn } = await create();
    await awsError(
      () => h.sm.send(new PutSecretValueCommand({ SecretId: arn })),
      'InvalidParameterException',
    );
    await awsError(
      () => h.sm.send(new PutSecretValueCommand({ SecretId: 'nope/nope', SecretString: 'x' })),
      'ResourceNotFoundException',
    );
  });
});

describe('staging labels', () => {
  it('walks v1 CURRENT -> v2 PENDING -> CURRENT moved to v2 -> v3 put with default stages', async () => {
    const { arn, v1 } = await create('value-1');
    const v2 = token('v2-');
    const v3 = token('v3-');

    await h.sm.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: 'value-2',
        ClientRequestToken: v2,
        VersionStages: ['AWSPENDING'],
      }),
    );
    expect(await stages(arn)).toEqual({ [v1]: ['AWSCURRENT'], [v2]: ['AWSPENDING'] });

    await h.sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: v2,
        RemoveFromVersionId: v1,
      }),
    );
    expect(await stages(arn)).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT', 'AWSPENDING'] });

    await h.sm.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: 'value-3', ClientRequestToken: v3 }),
    );
    expect(await stages(arn)).toEqual({ [v2]: ['AWSPREVIOUS'], [v3]: ['AWSCURRENT'] });

    const listed = await h.sm.send(new ListSecretVersionIdsCommand({ SecretId: arn }));
    expect(listed.Versions?.map((v) => v.VersionId).sort()).toEqual([v2, v3].sort());
    const all = await h.sm.send(new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }));
    // A deprecated version has no VersionStages member at all.
    expect(all.Versions?.find((v) => v.VersionId === v1)?.VersionStages).toBeUndefined();
    expect(all.Versions).toHaveLength(3);
    // A deprecated version keeps its value until it is dropped.
    expect((await h.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionId: v1 }))).SecretString).toBe(
      'value-1',
    );
  });

  it('refuses to move a label off a version without naming it in RemoveFromVersionId', async () => {
    const { arn, v1 } = await create();
    const v2 = token();
    await h.sm.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: 'b',
        ClientRequestToken: v2,
        VersionStages: ['AWSPENDING'],
      }),
    );
    const e = await awsError(
      () =>
        h.sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId: arn,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: v2,
          }),
        ),
      'InvalidParameterException',
    );
    expect(e.message).toBe(
      `The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version ${v1}, so you must explicitly reference that version in RemoveFromVersionId.`,
    );
    await awsError(
      () =>
        h.sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId: arn,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: v2,
            RemoveFromVersionId: v2,
          }),
        ),
      'InvalidParameterException',
    );
    expect(await stages(arn)).toEqual({ [v1]: ['AWSCURRENT'], [v2]: ['AWSPENDING'] });
  });

  it('never just removes AWSCURRENT, and names an unknown target version', async () => {
    const { arn, v1 } = await create();
    await awsError(
      () =>
        h.sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId: arn,
            VersionStage: 'AWSCURRENT',
            RemoveFromVersionId: v1,
          }),
        ),
      'InvalidParameterException',
    );
    await awsError(
      () =>
        h.sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId: arn,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: token(),
            RemoveFromVersionId: v1,
          }),
        ),
      'ResourceNotFoundException',
    );
  });

  it('adds and removes custom labels; a version left without labels is deprecated', async () => {
    const { arn, v1 } = await create();
    const v2 = token();
    await h.sm.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: 'b',
        ClientRequestToken: v2,
        VersionStages: ['blue'],
      }),
    );
    await h.sm.send(
      new UpdateSecretVersionStageCommand({ SecretId: arn, VersionStage: 'green', MoveToVersionId: v2 }),
    );
    expect(await stages(arn)).toEqual({ [v1]: ['AWSCURRENT'], [v2]: ['blue', 'green'] });
    await h.sm.send(
      new UpdateSecretVersionStageCommand({ SecretId: arn, VersionStage: 'blue', RemoveFromVersionId: v2 }),
    );
    await h.sm.send(
      new UpdateSecretVersionStageCommand({ SecretId: arn, VersionStage: 'green', RemoveFromVersionId: v2 }),
    );
    expect(await stages(arn)).toEqual({ [v1]: ['AWSCURRENT'] });
    const all = await h.sm.send(new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }));
    expect(all.Versions?.map((v) => v.VersionId)).toContain(v2);
  });

  it('keeps at most 100 versions, dropping the oldest deprecated ones', async () => {
    const { arn, v1 } = await create('first');
    const tokens: string[] = [v1];
    // A day between writes: versions younger than 24 hours are never dropped (test/integration/quotas).
    let day = Date.now();
    try {
      for (let i = 0; i < 104; i++) {
        const t = token();
        tokens.push(t);
        day += 86_400_001;
        h.cloud.secrets.setClock(() => new Date(day));
        await h.sm.send(
          new PutSecretValueCommand({ SecretId: arn, SecretString: `n${i}`, ClientRequestToken: t }),
        );
      }
    } finally {
      h.cloud.secrets.setClock(() => new Date());
    }
    const ids: string[] = [];
    let next: string | undefined;
    do {
      const page = await h.sm.send(
        new ListSecretVersionIdsCommand({
          SecretId: arn,
          IncludeDeprecated: true,
          MaxResults: 30,
          NextToken: next,
        }),
      );
      ids.push(...(page.Versions ?? []).map((v) => v.VersionId!));
      next = page.NextToken;
    } while (next);
    expect(ids).toHaveLength(100);
    expect(ids).not.toContain(tokens[0]);
    expect(ids).toContain(tokens.at(-1));
    expect(ids).toContain(tokens.at(-2));
  });
});

describe('UpdateSecret', () => {
  it('changes metadata only, creating no version', async () => {
    const { arn, v1 } = await create();
    const out = await h.sm.send(new UpdateSecretCommand({ SecretId: arn, Description: 'now described' }));
    expect(out.VersionId).toBeUndefined();
    const d = await h.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(d.Description).toBe('now described');
    expect(d.VersionIdsToStages).toEqual({ [v1]: ['AWSCURRENT'] });
  });

  it('with a value creates an AWSCURRENT version, like PutSecretValue', async () => {
    const { arn, v1 } = await create();
    const t = token();
    const out = await h.sm.send(
      new UpdateSecretCommand({
        SecretId: arn,
        SecretString: 'updated',
        ClientRequestToken: t,
        KmsKeyId: 'alias/other',
      }),
    );
    expect(out.VersionId).toBe(t);
    expect(await stages(arn)).toEqual({ [v1]: ['AWSPREVIOUS'], [t]: ['AWSCURRENT'] });
    expect((await h.sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe('updated');
    expect((await h.sm.send(new DescribeSecretCommand({ SecretId: arn }))).KmsKeyId).toBe('alias/other');
    // The older version is still readable with the key it was sealed with.
    expect((await h.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionId: v1 }))).SecretString).toBe(
      'v1',
    );
  });
});

describe('DescribeSecret and ListSecrets', () => {
  it('describes a secret with its tags, dates and labels', async () => {
    const { arn, name, v1 } = await create('x', {
      Description: 'desc',
      Tags: [{ Key: 'team', Value: 'db' }],
    });
    const d = await h.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(d).toMatchObject({
      ARN: arn,
      Name: name,
      Description: 'desc',
      Tags: [{ Key: 'team', Value: 'db' }],
      VersionIdsToStages: { [v1]: ['AWSCURRENT'] },
    });
    expect(d.CreatedDate).toBeInstanceOf(Date);
    expect(d.LastChangedDate).toBeInstanceOf(Date);
    for (const absent of [
      'RotationEnabled',
      'DeletedDate',
      'NextRotationDate',
      'OwningService',
      'KmsKeyId',
      // Only a replicated secret has a PrimaryRegion.
      'PrimaryRegion',
    ] as const) {
      expect(d[absent]).toBeUndefined();
    }
  });

  it('filters by name, description, tag key, tag value, all, and negation', async () => {
    const tag = `t${Date.now()}`;
    const a = await h.sm.send(
      new CreateSecretCommand({
        Name: `filt/${tag}/alpha`,
        Description: 'Primary Orders database',
        Tags: [{ Key: `${tag}-key`, Value: 'red' }],
      }),
    );
    const b = await h.sm.send(
      new CreateSecretCommand({ Name: `filt/${tag}/beta`, Tags: [{ Key: `${tag}-key`, Value: 'blue' }] }),
    );
    const names = async (Filters: { Key: string; Values: string[] }[]) =>
      ((await h.sm.send(new ListSecretsCommand({ Filters: Filters as never }))).SecretList ?? [])
        .map((s) => s.Name)
        .sort();
    expect(await names([{ Key: 'name', Values: [`filt/${tag}/`] }])).toEqual([a.Name, b.Name].sort());
    expect(await names([{ Key: 'name', Values: [`FILT/${tag}/`] }])).toEqual([]);
    expect(await names([{ Key: 'description', Values: ['primary orders'] }])).toContain(a.Name);
    expect(await names([{ Key: 'tag-key', Values: [tag] }])).toEqual([a.Name, b.Name].sort());
    expect(
      await names([
        { Key: 'tag-key', Values: [tag] },
        { Key: 'tag-value', Values: ['blu'] },
      ]),
    ).toEqual([b.Name]);
    expect(
      await names([
        { Key: 'name', Values: [`filt/${tag}/`] },
        { Key: 'name', Values: [`!filt/${tag}/b`] },
      ]),
    ).toEqual([a.Name]);
    expect(
      await names([
        { Key: 'all', Values: ['orders'] },
        { Key: 'tag-key', Values: [tag] },
      ]),
    ).toEqual([a.Name]);
  });

  it('pages with MaxResults and NextToken, and refuses a bad NextToken', async () => {
    const prefix = `page/${Date.now()}/`;
    for (let i = 0; i < 5; i++) await h.sm.send(new CreateSecretCommand({ Name: `${prefix}${i}` }));
    const seen: string[] = [];
    let next: string | undefined;
    do {
      const page = await h.sm.send(
        new ListSecretsCommand({
          MaxResults: 2,
          NextToken: next,
          Filters: [{ Key: 'name', Values: [prefix] }],
        }),
      );
      expect((page.SecretList ?? []).length).toBeLessThanOrEqual(2);
      seen.push(...(page.SecretList ?? []).map((s) => s.Name!));
      next = page.NextToken;
    } while (next);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4].map((i) => `${prefix}${i}`));
    await awsError(
      () => h.sm.send(new ListSecretsCommand({ NextToken: 'garbage' })),
      'InvalidNextTokenException',
    );
  });

  it('pages from a position: secrets created or deleted between pages neither repeat nor skip the others', async () => {
    const prefix = `pos/${Date.now()}/`;
    for (const s of ['b', 'd', 'f', 'h']) await h.sm.send(new CreateSecretCommand({ Name: `${prefix}${s}` }));
    const list = (NextToken?: string) =>
      h.sm.send(
        new ListSecretsCommand({
          MaxResults: 2,
          NextToken,
          SortBy: 'name',
          SortOrder: 'asc',
          Filters: [{ Key: 'name', Values: [prefix] }],
        }),
      );
    const first = await list();
    expect(first.SecretList?.map((s) => s.Name)).toEqual([`${prefix}b`, `${prefix}d`]);
    // Between pages: one created before the position (an offset would repeat `d`), one after it.
    await h.sm.send(new CreateSecretCommand({ Name: `${prefix}a` }));
    await h.sm.send(new CreateSecretCommand({ Name: `${prefix}e` }));
    const second = await list(first.NextToken);
    expect(second.SecretList?.map((s) => s.Name)).toEqual([`${prefix}e`, `${prefix}f`]);
    // Two listed ones go (an offset would now skip `h`).
    for (const gone of ['b', 'd'])
      await h.sm.send(
        new DeleteSecretCommand({ SecretId: `${prefix}${gone}`, ForceDeleteWithoutRecovery: true }),
      );
    const third = await list(second.NextToken);
    expect(third.SecretList?.map((s) => s.Name)).toEqual([`${prefix}h`]);
    expect(third.NextToken).toBeUndefined();
  });

  it('lists a secret with SecretVersionsToStages', async () => {
    const { name, v1 } = await create();
    const list = await h.sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [name] }] }));
    expect(list.SecretList).toHaveLength(1);
    expect(list.SecretList?.[0]?.SecretVersionsToStages).toEqual({ [v1]: ['AWSCURRENT'] });
  });
});

describe('DeleteSecret and RestoreSecret', () => {
  it('schedules deletion 30 days out by default; the secret is then out of reach until restored', async () => {
    const { arn, name } = await create('kept');
    const before = Date.now();
    const del = await h.sm.send(new DeleteSecretCommand({ SecretId: arn }));
    expect(del.ARN).toBe(arn);
    const days = (del.DeletionDate!.getTime() - before) / 86_400_000;
    expect(days).toBeGreaterThan(29.99);
    expect(days).toBeLessThan(30.01);

    const marked = "You can't perform this operation on the secret because it was marked for deletion.";
    for (const call of [
      () => h.sm.send(new GetSecretValueCommand({ SecretId: arn })),
      () => h.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'x' })),
      () => h.sm.send(new UpdateSecretCommand({ SecretId: arn, Description: 'x' })),
      () => h.sm.send(new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'a', Value: 'b' }] })),
      () => h.sm.send(new DeleteSecretCommand({ SecretId: arn })),
    ]) {
      expect((await awsError(call, 'InvalidRequestException')).message).toBe(marked);
    }
    const d = await h.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(d.DeletedDate).toBeInstanceOf(Date);
    expect(
      (await h.sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [name] }] }))).SecretList,
    ).toEqual([]);
    const planned = await h.sm.send(
      new ListSecretsCommand({ IncludePlannedDeletion: true, Filters: [{ Key: 'name', Values: [name] }] }),
    );
    expect(planned.SecretList?.map((s) => s.Name)).toEqual([name]);
    const created = await awsError(
      () => h.sm.send(new CreateSecretCommand({ Name: name, SecretString: 'again' })),
      'InvalidRequestException',
    );
    expect(created.message).toMatch(/already scheduled for deletion/);

    expect(await h.sm.send(new RestoreSecretCommand({ SecretId: arn }))).toMatchObject({
      ARN: arn,
      Name: name,
    });
    expect((await h.sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe('kept');
    expect((await h.sm.send(new DescribeSecretCommand({ SecretId: arn }))).DeletedDate).toBeUndefined();
  });

  it('validates RecoveryWindowInDays (7-30) and refuses it together with ForceDeleteWithoutRecovery', async () => {
    const { arn } = await create();
    for (const days of [6, 31]) {
      const e = await awsError(
        () => h.sm.send(new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: days })),
        'InvalidParameterException',
      );
      expect(e.message).toMatch(/between 7 and 30 days/);
    }
    const both = await awsError(
      () =>
        h.sm.send(
          new DeleteSecretCommand({
            SecretId: arn,
            RecoveryWindowInDays: 7,
            ForceDeleteWithoutRecovery: true,
          }),
        ),
      'InvalidParameterException',
    );
    expect(both.message).toMatch(/ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays/);
    const seven = await h.sm.send(new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: 7 }));
    expect(Math.round((seven.DeletionDate!.getTime() - Date.now()) / 86_400_000)).toBe(7);
  });

  it('ForceDeleteWithoutRecovery removes the secret at once, and the name is free again', async () => {
    const { arn, name } = await create();
    const del = await h.sm.send(new DeleteSecretCommand({ SecretId: arn, ForceDeleteWithoutRecovery: true }));
    expect(Math.abs(del.DeletionDate!.getTime() - Date.now())).toBeLessThan(60_000);
    await awsError(
      () => h.sm.send(new DescribeSecretCommand({ SecretId: arn })),
      'ResourceNotFoundException',
    );
    await h.sm.send(new CreateSecretCommand({ Name: name, SecretString: 'reborn' }));
  });

  it('purges a secret once its recovery window has passed', async () => {
    const { arn } = await create();
    await h.sm.send(new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: 7 }));
    try {
      h.cloud.secrets.setClock(() => new Date(Date.now() + 8 * 86_400_000));
      await awsError(
        () => h.sm.send(new DescribeSecretCommand({ SecretId: arn })),
        'ResourceNotFoundException',
      );
      await awsError(
        () => h.sm.send(new RestoreSecretCommand({ SecretId: arn })),
        'ResourceNotFoundException',
      );
    } finally {
      h.cloud.secrets.setClock(() => new Date());
    }
  });
});

describe('TagResource and UntagResource', () => {
  it('adds, overwrites and removes tags', async () => {
    const { arn } = await create('x', { Tags: [{ Key: 'a', Value: '1' }] });
    await h.sm.send(
      new TagResourceCommand({
        SecretId: arn,
        Tags: [
          { Key: 'a', Value: '2' },
          { Key: 'b', Value: '3' },
        ],
      }),
    );
    expect((await h.sm.send(new DescribeSecretCommand({ SecretId: arn }))).Tags).toEqual([
      { Key: 'a', Value: '2' },
      { Key: 'b', Value: '3' },
    ]);
    await h.sm.send(new UntagResourceCommand({ SecretId: arn, TagKeys: ['a'] }));
    expect((await h.sm.send(new DescribeSecretCommand({ SecretId: arn }))).Tags).toEqual([
      { Key: 'b', Value: '3' },
    ]);
    await awsError(
      () => h.sm.send(new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'aws:x', Value: '1' }] })),
      'InvalidParameterException',
    );
    await awsError(
      () => h.sm.send(new TagResourceCommand({ SecretId: 'no/such', Tags: [{ Key: 'k', Value: 'v' }] })),
      'ResourceNotFoundException',
    );
  });
});

describe('GetRandomPassword', () => {
  it('gives 32 characters with every type by default, and honours the options', async () => {
    const p = (await h.sm.send(new GetRandomPasswordCommand({}))).RandomPassword!;
    expect(p).toHaveLength(32);
    expect(p).toMatch(/[A-Z]/);
    expect(p).toMatch(/[a-z]/);
    expect(p).toMatch(/[0-9]/);
    expect(p).toMatch(/[^A-Za-z0-9]/);
    const q = (
      await h.sm.send(
        new GetRandomPasswordCommand({
          PasswordLength: 64,
          ExcludePunctuation: true,
          ExcludeCharacters: 'abcABC012',
        }),
      )
    ).RandomPassword!;
    expect(q).toMatch(/^[D-Zd-z3-9]{64}$/);
  });

  it('refuses impossible settings', async () => {
    await awsError(
      () =>
        h.sm.send(
          new GetRandomPasswordCommand({
            ExcludeNumbers: true,
            ExcludePunctuation: true,
            ExcludeUppercase: true,
            ExcludeLowercase: true,
          }),
        ),
      'InvalidParameterException',
    );
    await awsError(
      () => h.sm.send(new GetRandomPasswordCommand({ PasswordLength: 3 })),
      'InvalidParameterException',
    );
    await awsError(
      () => h.sm.send(new GetRandomPasswordCommand({ PasswordLength: 5000 })),
      'ValidationException',
    );
  });
});

describe('secrets owned by RDS', () => {
  it('can be read but not changed, rotated or deleted by clients; RDS itself can', async () => {
    const name = `rds!db-${crypto.randomUUID()}`;
    const created = h.cloud.secrets.createManagedSecret(
      'rds',
      {
        Name: name,
        SecretString: JSON.stringify({ username: 'admin', password: 'managed-pw' }),
        Tags: [{ Key: 'aws:rds:primaryDBInstanceArn', Value: 'arn:aws:rds:us-east-1:000000000000:db:db1' }],
      },
      { rotationRules: { AutomaticallyAfterDays: 7 } },
    );
    const d = await h.sm.send(new DescribeSecretCommand({ SecretId: created.ARN }));
    expect(d.OwningService).toBe('rds');
    expect(d.RotationEnabled).toBe(true);
    expect(d.NextRotationDate).toBeInstanceOf(Date);
    expect(
      JSON.parse((await h.sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString!),
    ).toEqual({
      username: 'admin',
      password: 'managed-pw',
    });
    const refusals = [
      () => h.sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'x' })),
      () => h.sm.send(new UpdateSecretCommand({ SecretId: name, Description: 'x' })),
      () =>
        h.sm.send(
          new RotateSecretCommand({
            SecretId: name,
            RotationLambdaARN: 'arn:aws:lambda:us-east-1:000000000000:function:x',
          }),
        ),
      () => h.sm.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true })),
    ];
    for (const call of refusals) {
      expect((await awsError(call, 'InvalidRequestException')).message).toMatch(/managed by rds/);
    }
    const listed = await h.sm.send(
      new ListSecretsCommand({ Filters: [{ Key: 'owning-service', Values: ['rds'] }] }),
    );
    expect(listed.SecretList?.map((s) => s.Name)).toContain(name);

    h.cloud.secrets.putManagedSecretValue('rds', {
      SecretId: name,
      SecretString: JSON.stringify({ username: 'admin', password: 'rotated-by-rds' }),
    });
    expect((await h.sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toMatch(
      /rotated-by-rds/,
    );
    h.cloud.secrets.deleteManagedSecret('rds', { SecretId: name, ForceDeleteWithoutRecovery: true });
    await awsError(
      () => h.sm.send(new DescribeSecretCommand({ SecretId: name })),
      'ResourceNotFoundException',
    );
  });
});

describe('CloudTrail-shaped events', () => {
  it('records API calls with their parameters and never the value', async () => {
    const since = new Date();
    const value = `event-secret-${crypto.randomUUID()}`;
    const { arn, name } = await create(value);
    await h.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: `${value}-2` }));
    await h.sm.send(new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: 7 }));
    await h.sm.send(new RestoreSecretCommand({ SecretId: arn }));

    const events = h.cloud.events
      .list({ source: 'aws.secretsmanager', detailType: 'AWS API Call via CloudTrail', since })
      .filter((e) => JSON.stringify(e).includes(arn));
    expect(events.map((e) => e.detail['eventName'])).toEqual([
      'CreateSecret',
      'PutSecretValue',
      'DeleteSecret',
      'RestoreSecret',
    ]);
    for (const e of events) {
      expect(e).toMatchObject({
        version: '0',
        account: '000000000000',
        region: 'us-east-1',
        source: 'aws.secretsmanager',
      });
      expect(e.detail['eventSource']).toBe('secretsmanager.amazonaws.com');
      expect(JSON.stringify(e)).not.toContain(value);
    }
    expect(events[0]!.detail['requestParameters']).toMatchObject({ name });
    expect(events[0]!.detail['responseElements']).toMatchObject({ arn });
    expect(events[2]!.detail['requestParameters']).toEqual({ secretId: arn, recoveryWindowInDays: 7 });
    expect(events[2]!.detail['responseElements']).toMatchObject({
      arn,
      name,
      deletionDate: expect.any(String),
    });
  });

  it('delivers published events to subscribers', async () => {
    const got: string[] = [];
    const unsubscribe = h.cloud.events.subscribe((e) => {
      got.push(String(e.detail['eventName']));
    });
    try {
      await create();
      await new Promise((r) => setTimeout(r, 20));
      expect(got).toContain('CreateSecret');
    } finally {
      unsubscribe();
    }
  });
});
