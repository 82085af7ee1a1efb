/**
 * IAM on the local cloud with real principals: the policies serverless.yml deploys (and
 * resources/iam.yml holds) decide what each caller may do, over the real SDK clients. The
 * security claims of the README are checked here as a caller would try them.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { ModifyDBClusterCommand, ModifyDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import {
  CreateStateMachineCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  UpdateStateMachineCommand,
} from '@aws-sdk/client-sfn';
import { LOCAL_STAGE } from '../../local/boot';
import { IAM_DECISIONS_PATH } from '../../local/cloud';
import { Principals, serviceTrust } from '../../local/iam/principals';
import { loadStackIam } from '../../local/iam/template';
import { awsError, startTestCloud, type TestCloud } from '../support/cloud';

let tc: TestCloud;
const ACCOUNT = '000000000000';
const smArn = (name: string) =>
  `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:credflow-${LOCAL_STAGE}-${name}`;

beforeAll(async () => {
  tc = await startTestCloud();
}, 120_000);
afterAll(async () => {
  await tc?.stop();
});

type Keys = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
const cfg = (keys: Keys) => ({
  endpoint: tc.cloud.endpoint,
  region: tc.cloud.region,
  credentials: keys,
  maxAttempts: 1,
});
const secretsAs = (keys: Keys) => new SecretsManagerClient(cfg(keys));
const roleKeys = (role: string, session = 'iam-test') =>
  tc.cloud.iam.principals.issueRoleCredentials(role, session);
/** A user made with `credflow iam create-principal`: one policy of these statements; its keys. */
const userWith = (name: string, statements: object[]) =>
  Principals.create(
    tc.stateDir,
    name,
    { documents: [{ Version: '2012-10-17', Statement: statements as never }] },
    tc.cloud.iam.principals.stack,
  );

describe('IAM as AWS enforces it', () => {
  it('every call of every service is described for the gate (none is let through undescribed)', () => {
    const json = ['secretsmanager', 'AWSStepFunctions', 'AWSEvents'].map((p) =>
      tc.cloud.services.jsonService(p),
    );
    for (const svc of json) {
      expect(svc).toBeDefined();
      for (const op of Object.keys(svc?.operations ?? {}))
        expect(() => tc.cloud.iam.gate.needsOf(svc?.signingName ?? '', op, {})).not.toThrow();
    }
    for (const name of ['rds', 'sns']) {
      const svc = tc.cloud.services.querySigning(name);
      for (const action of Object.keys(svc?.actions ?? {}))
        expect(() => tc.cloud.iam.gate.needsOf(name, action, {})).not.toThrow();
    }
    expect(() => tc.cloud.iam.gate.needsOf('secretsmanager', 'NoSuchCall', {})).toThrow(/no description/);
  });

  it('the secrets administrator with ProtectCredflowBindingTagsPolicy cannot set, change or remove a credflow:* tag', async () => {
    const allSecrets = path.join(tc.stateDir, 'secrets-admin.json');
    writeFileSync(
      allSecrets,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'secretsmanager:*', Resource: '*' }],
      }),
    );
    const keys = Principals.create(
      tc.stateDir,
      'secrets-admin',
      {
        documents: [JSON.parse(readFileSync(allSecrets, 'utf8'))],
        managed: ['ProtectCredflowBindingTagsPolicy'],
      },
      tc.cloud.iam.principals.stack,
    );
    const sm = secretsAs(keys);
    // Through CreateSecret's Tags: refused, and nothing is made.
    const e = await awsError(
      () =>
        sm.send(
          new CreateSecretCommand({
            Name: 'credflow/iam/forged',
            SecretString: '{}',
            Tags: [{ Key: 'credflow:user', Value: 'postgres' }],
          }),
        ),
      'AccessDeniedException',
    );
    expect(e.message).toBe(
      `User: arn:aws:iam::${ACCOUNT}:user/secrets-admin is not authorized to perform: secretsmanager:CreateSecret on resource: arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:credflow/iam/forged-?????? with an explicit deny in an identity-based policy`,
    );
    expect(e.$metadata?.httpStatusCode).toBe(400);
    await awsError(
      () => sm.send(new DescribeSecretCommand({ SecretId: 'credflow/iam/forged' })),
      'ResourceNotFoundException',
    );
    // Without credflow's tags the same administrator works as usual.
    await sm.send(
      new CreateSecretCommand({
        Name: 'credflow/iam/plain',
        SecretString: '{}',
        Tags: [{ Key: 'team', Value: 'a' }],
      }),
    );
    await sm.send(
      new TagResourceCommand({ SecretId: 'credflow/iam/plain', Tags: [{ Key: 'owner', Value: 'b' }] }),
    );
    // A secret credflow bound (made here by the stack's administrator key): its tags stay as they are.
    await tc.clients.secrets.send(
      new CreateSecretCommand({
        Name: 'credflow/iam/bound',
        SecretString: '{}',
        Tags: [{ Key: 'credflow:user', Value: 'app' }],
      }),
    );
    for (const call of [
      () =>
        sm.send(
          new TagResourceCommand({
            SecretId: 'credflow/iam/plain',
            Tags: [{ Key: 'credflow:db', Value: 'x' }],
          }),
        ),
      () =>
        sm.send(
          new TagResourceCommand({
            SecretId: 'credflow/iam/bound',
            Tags: [{ Key: 'credflow:user', Value: 'postgres' }],
          }),
        ),
      () => sm.send(new UntagResourceCommand({ SecretId: 'credflow/iam/bound', TagKeys: ['credflow:user'] })),
      () =>
        sm.send(
          new TagResourceCommand({
            SecretId: 'credflow/iam/bound',
            Tags: [{ Key: 'credflow:anything', Value: '1' }],
          }),
        ),
    ])
      await expect(call()).rejects.toMatchObject({ name: 'AccessDeniedException' });
    const bound = await tc.clients.secrets.send(
      new DescribeSecretCommand({ SecretId: 'credflow/iam/bound' }),
    );
    expect(bound.Tags).toEqual([{ Key: 'credflow:user', Value: 'app' }]);
  });

  it('an application principal reads its own secret and no other', async () => {
    const mine = await tc.clients.secrets.send(
      new CreateSecretCommand({ Name: 'credflow/iam/app-mine', SecretString: 'a' }),
    );
    await tc.clients.secrets.send(
      new CreateSecretCommand({ Name: 'credflow/iam/app-other', SecretString: 'b' }),
    );
    const keys = userWith('orders-app', [
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: String(mine.ARN) },
    ]);
    const sm = secretsAs(keys);
    expect(
      (await sm.send(new GetSecretValueCommand({ SecretId: 'credflow/iam/app-mine' }))).SecretString,
    ).toBe('a');
    const e = await awsError(
      () => sm.send(new GetSecretValueCommand({ SecretId: 'credflow/iam/app-other' })),
      'AccessDeniedException',
    );
    expect(e.message).toMatch(
      new RegExp(
        `^User: arn:aws:iam::${ACCOUNT}:user/orders-app is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:credflow/iam/app-other-\\w{6} because no identity-based policy allows the secretsmanager:GetSecretValue action$`,
      ),
    );
    await awsError(
      () => sm.send(new DescribeSecretCommand({ SecretId: 'credflow/iam/app-mine' })),
      'AccessDeniedException',
    );
  });

  it('the rotation role cannot delete a secret or modify a database (RDS answers AccessDenied, 403)', async () => {
    const keys = roleKeys('RotationFunctionRole', 'credflow-local-setSecret');
    await tc.clients.secrets.send(
      new CreateSecretCommand({ Name: 'credflow/iam/rotating', SecretString: 'x' }),
    );
    const sm = secretsAs(keys);
    // It may read it...
    await sm.send(new DescribeSecretCommand({ SecretId: 'credflow/iam/rotating' }));
    // ...but not delete it.
    const del = await awsError(
      () =>
        sm.send(
          new DeleteSecretCommand({ SecretId: 'credflow/iam/rotating', ForceDeleteWithoutRecovery: true }),
        ),
      'AccessDeniedException',
    );
    expect(del.message).toContain(
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/credflow-local-RotationFunctionRole/credflow-local-setSecret is not authorized to perform: secretsmanager:DeleteSecret`,
    );
    const rds = new RDSClient(cfg(keys));
    const e = await awsError(
      () =>
        rds.send(
          new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'anything', DeletionProtection: false }),
        ),
      'AccessDenied',
    );
    expect(e.$metadata?.httpStatusCode).toBe(403);
    expect(e.message).toBe(
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/credflow-local-RotationFunctionRole/credflow-local-setSecret is not authorized to perform: rds:ModifyDBInstance on resource: arn:aws:rds:us-east-1:${ACCOUNT}:db:anything because no identity-based policy allows the rds:ModifyDBInstance action`,
    );
  });

  it('the verify role may set and remove the drift tag on a managed secret, and no other tag, nor on any other secret', async () => {
    const sm = secretsAs(roleKeys('VerifyFunctionRole', 'credflow-local-verifyCredentials'));
    const managed = await tc.clients.secrets.send(
      new CreateSecretCommand({
        Name: 'adopted/iam/drifting',
        SecretString: 'x',
        Tags: [{ Key: 'credflow:managed', Value: 'true' }],
      }),
    );
    const plain = await tc.clients.secrets.send(
      new CreateSecretCommand({ Name: 'credflow/iam/unmanaged', SecretString: 'x' }),
    );
    const drift = { Key: 'credflow:drift', Value: 'grants 2026-12-07T13:00:00Z' };
    await sm.send(new TagResourceCommand({ SecretId: managed.ARN, Tags: [drift] }));
    await sm.send(new UntagResourceCommand({ SecretId: managed.ARN, TagKeys: ['credflow:drift'] }));
    // Any other key, alone or beside the drift tag, is refused: it cannot rebind or unmanage a secret.
    for (const tags of [
      [{ Key: 'credflow:user', Value: 'someone' }],
      [drift, { Key: 'credflow:rotation-status', Value: 'ok' }],
    ])
      await awsError(
        () => sm.send(new TagResourceCommand({ SecretId: managed.ARN, Tags: tags })),
        'AccessDeniedException',
      );
    await awsError(
      () => sm.send(new UntagResourceCommand({ SecretId: managed.ARN, TagKeys: ['credflow:managed'] })),
      'AccessDeniedException',
    );
    // A secret without credflow's managed tag is not the verify role's to tag, whatever its name.
    await awsError(
      () => sm.send(new TagResourceCommand({ SecretId: plain.ARN, Tags: [drift] })),
      'AccessDeniedException',
    );
  });

  it('temporary credentials without their session token are refused', async () => {
    const { sessionToken: _dropped, ...keys } = roleKeys('VerifyFunctionRole');
    await awsError(
      () => secretsAs(keys).send(new DescribeSecretCommand({ SecretId: 'credflow/iam/rotating' })),
      'UnrecognizedClientException',
    );
  });

  it('a state machine cannot start a machine outside its grant', async () => {
    const iam = tc.cloud.iam;
    const page = iam.stateMachine(smArn('rotate-fleet-page'));
    // Its grant: rotate-secret.
    expect(() =>
      iam.requireCall(page, 'states', 'StartExecution', { stateMachineArn: smArn('rotate-secret') }),
    ).not.toThrow();
    expect(() =>
      iam.requireCall(page, 'states', 'StartExecution', { stateMachineArn: smArn('decommission-database') }),
    ).toThrow(
      /assumed-role\/credflow-local-RotateFleetPageStateMachineRole\/.* is not authorized to perform: states:StartExecution/,
    );
    // The same through the API with the role's credentials.
    const sfn = new SFNClient(cfg(roleKeys('RotateFleetPageStateMachineRole')));
    await awsError(
      () =>
        sfn.send(new StartExecutionCommand({ stateMachineArn: smArn('decommission-database'), input: '{}' })),
      'AccessDeniedException',
    );
  });

  it('RotateSecret is authorized twice: the secret, and lambda:InvokeFunction of the rotation function', async () => {
    await tc.clients.secrets.send(
      new CreateSecretCommand({ Name: 'credflow/iam/rotate-twice', SecretString: 'x' }),
    );
    const keys = userWith('rotator-without-invoke', [
      { Effect: 'Allow', Action: 'secretsmanager:RotateSecret', Resource: '*' },
    ]);
    const e = await awsError(
      () =>
        secretsAs(keys).send(
          new RotateSecretCommand({
            SecretId: 'credflow/iam/rotate-twice',
            RotationLambdaARN: tc.rotationLambdaArn,
            RotateImmediately: false,
          }),
        ),
      'AccessDeniedException',
    );
    expect(e.message).toBe(
      `User: arn:aws:iam::${ACCOUNT}:user/rotator-without-invoke is not authorized to perform: lambda:InvokeFunction on resource: ${tc.rotationLambdaArn} because no identity-based policy allows the lambda:InvokeFunction action`,
    );
    // UserFunctionRole (enableRotation) has both.
    const user = tc.cloud.iam.principals.roleSession('UserFunctionRole', 'credflow-local-enableRotation');
    expect(
      tc.cloud.iam.gate.decide(user, { action: 'lambda:InvokeFunction', resource: tc.rotationLambdaArn })
        .allowed,
    ).toBe(true);
    // Secrets Manager may invoke it (the function's resource policy), for this account only.
    const svc = tc.cloud.iam.service('secretsmanager.amazonaws.com');
    const invoke = (account: string) =>
      tc.cloud.iam.gate.decide(svc, {
        action: 'lambda:InvokeFunction',
        resource: tc.rotationLambdaArn,
        context: { 'aws:SourceAccount': account },
        resourcePolicy: tc.cloud.iam.principals.stack?.functionPolicies.get(tc.rotationLambdaArn),
      }).allowed;
    expect(invoke(ACCOUNT)).toBe(true);
    expect(invoke('111122223333')).toBe(false);
  });

  it('CreateSecret with Tags also needs secretsmanager:TagResource, with the request tags', async () => {
    const creator = (name: string, actions: string[]) =>
      secretsAs(
        userWith(name, [
          {
            Effect: 'Allow',
            Action: actions,
            Resource: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:credflow/iam/tagged-*`,
          },
        ]),
      );
    const untagging = creator('creator-no-tag', ['secretsmanager:CreateSecret']);
    // Without tags CreateSecret alone is enough.
    await untagging.send(new CreateSecretCommand({ Name: 'credflow/iam/tagged-none', SecretString: 'x' }));
    const e = await awsError(
      () =>
        untagging.send(
          new CreateSecretCommand({
            Name: 'credflow/iam/tagged-one',
            SecretString: 'x',
            Tags: [{ Key: 'team', Value: 'a' }],
          }),
        ),
      'AccessDeniedException',
    );
    expect(e.message).toBe(
      `User: arn:aws:iam::${ACCOUNT}:user/creator-no-tag is not authorized to perform: secretsmanager:TagResource on resource: arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:credflow/iam/tagged-one-?????? because no identity-based policy allows the secretsmanager:TagResource action`,
    );
    await awsError(
      () => tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: 'credflow/iam/tagged-one' })),
      'ResourceNotFoundException',
    );
    const tagging = creator('creator-tag', ['secretsmanager:CreateSecret', 'secretsmanager:TagResource']);
    await tagging.send(
      new CreateSecretCommand({
        Name: 'credflow/iam/tagged-one',
        SecretString: 'x',
        Tags: [{ Key: 'team', Value: 'a' }],
      }),
    );
    // TagResource is checked with the request's tags: a Deny by aws:TagKeys on TagResource alone holds.
    const d = tc.cloud.iam.gate.needsOf('secretsmanager', 'CreateSecret', {
      Name: 'credflow/iam/x',
      Tags: [{ Key: 'credflow:user', Value: 'u' }],
    });
    expect(d.map((n) => [n.action, n.context?.['aws:TagKeys']])).toEqual([
      ['secretsmanager:CreateSecret', ['credflow:user']],
      ['secretsmanager:TagResource', ['credflow:user']],
    ]);
  });

  it('RequireManagedMasterPasswordPolicy: turning management off in a Modify is refused, a plain Modify is not', async () => {
    // The stage that enforces it (serverless deploy --param="enforceManagedMasterPassword=true").
    const root = path.resolve(__dirname, '../..');
    const target = { region: tc.cloud.region, accountId: ACCOUNT, stage: LOCAL_STAGE };
    const enforcing = loadStackIam(root, { ...target, params: { enforceManagedMasterPassword: 'true' } });
    tc.cloud.iam.useStack(enforcing);
    try {
      const keys = Principals.create(
        tc.stateDir,
        'db-operator',
        {
          documents: [
            {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Action: ['rds:CreateDBInstance', 'rds:ModifyDBInstance', 'rds:ModifyDBCluster'],
                  Resource: '*',
                },
              ],
            },
          ],
          managed: ['RequireManagedMasterPasswordPolicy'],
        },
        enforcing,
      );
      const rds = new RDSClient(cfg(keys));
      for (const call of [
        () =>
          rds.send(
            new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'shop-db', ManageMasterUserPassword: false }),
          ),
        () =>
          rds.send(
            new ModifyDBInstanceCommand({
              DBInstanceIdentifier: 'shop-db',
              ManageMasterUserPassword: false,
              MasterUserPassword: 'chosen-by-hand-1',
            }),
          ),
        () =>
          rds.send(
            new ModifyDBClusterCommand({ DBClusterIdentifier: 'shop-cl', ManageMasterUserPassword: false }),
          ),
      ]) {
        const e = await awsError(call, 'AccessDenied');
        expect(e.$metadata?.httpStatusCode).toBe(403);
        expect(e.message).toMatch(
          new RegExp(
            `^User: arn:aws:iam::${ACCOUNT}:user/db-operator is not authorized to perform: rds:ModifyDB(Instance|Cluster) on resource: arn:aws:rds:us-east-1:${ACCOUNT}:(db:shop-db|cluster:shop-cl) with an explicit deny in an identity-based policy$`,
          ),
        );
      }
      // The statement that denied: the managed policy's.
      expect(tc.cloud.iam.gate.log({ principal: 'db-operator', limit: 1 })[0]?.by).toBe(
        `arn:aws:iam::${ACCOUNT}:policy/credflow-${LOCAL_STAGE}-RequireManagedMasterPasswordPolicy #2`,
      );
      // Modifications that do not turn management off pass IAM (RDS then answers: no such database).
      for (const input of [
        { DBInstanceIdentifier: 'shop-db', DeletionProtection: true },
        { DBInstanceIdentifier: 'shop-db', ManageMasterUserPassword: true },
        { DBInstanceIdentifier: 'shop-db', RotateMasterUserPassword: true, ApplyImmediately: true },
      ])
        await awsError(() => rds.send(new ModifyDBInstanceCommand(input)), 'DBInstanceNotFoundFault');
    } finally {
      tc.cloud.iam.useStack(loadStackIam(root, target));
    }
  });

  it('BatchGetSecretValue returns only the secrets its caller may GetSecretValue; the others are in Errors', async () => {
    const a = await tc.clients.secrets.send(
      new CreateSecretCommand({ Name: 'credflow/iam/batch-a', SecretString: 'value-a' }),
    );
    const b = await tc.clients.secrets.send(
      new CreateSecretCommand({ Name: 'credflow/iam/batch-b', SecretString: 'value-b' }),
    );
    const reader = (name: string, batchActions: string[]) =>
      secretsAs(
        userWith(name, [
          ...(batchActions.length > 0 ? [{ Effect: 'Allow', Action: batchActions, Resource: '*' }] : []),
          { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: String(a.ARN) },
        ]),
      );
    const byId = { SecretIdList: ['credflow/iam/batch-a', String(b.ARN)] };
    // Without secretsmanager:BatchGetSecretValue the whole call is refused.
    const refused = await awsError(
      () => reader('batch-none', []).send(new BatchGetSecretValueCommand(byId)),
      'AccessDeniedException',
    );
    expect(refused.message).toBe(
      `User: arn:aws:iam::${ACCOUNT}:user/batch-none is not authorized to perform: secretsmanager:BatchGetSecretValue because no identity-based policy allows the secretsmanager:BatchGetSecretValue action`,
    );
    const sm = reader('batch-one', ['secretsmanager:BatchGetSecretValue']);
    const out = await sm.send(new BatchGetSecretValueCommand(byId));
    expect(out.SecretValues?.map((v) => [v.Name, v.SecretString])).toEqual([
      ['credflow/iam/batch-a', 'value-a'],
    ]);
    expect(out.Errors).toEqual([
      {
        SecretId: String(b.ARN),
        ErrorCode: 'AccessDeniedException',
        Message: `User: arn:aws:iam::${ACCOUNT}:user/batch-one is not authorized to perform: secretsmanager:GetSecretValue on resource: ${b.ARN} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
      },
    ]);
    // With filters the caller also needs ListSecrets; then the same per-secret answer.
    const filtered = { Filters: [{ Key: 'name' as const, Values: ['credflow/iam/batch-'] }] };
    await awsError(() => sm.send(new BatchGetSecretValueCommand(filtered)), 'AccessDeniedException');
    const lister = reader('batch-lister', [
      'secretsmanager:BatchGetSecretValue',
      'secretsmanager:ListSecrets',
    ]);
    const page = await lister.send(new BatchGetSecretValueCommand(filtered));
    expect(page.SecretValues?.map((v) => v.SecretString)).toEqual(['value-a']);
    expect(page.Errors?.map((e) => [e.SecretId, e.ErrorCode])).toEqual([[b.ARN, 'AccessDeniedException']]);
    // The administrator reads both.
    const all = await tc.clients.secrets.send(new BatchGetSecretValueCommand(byId));
    expect(all.SecretValues?.map((v) => v.SecretString).sort()).toEqual(['value-a', 'value-b']);
    expect(all.Errors).toEqual([]);
  });

  it('the policy log lists decisions, denied first, filterable by principal', async () => {
    const res = await fetch(`${tc.cloud.endpoint}${IAM_DECISIONS_PATH}?principal=orders-app`, {
      headers: { authorization: `Bearer ${tc.cloud.token}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      enabled: boolean;
      decisions: { principal: string; allowed: boolean; by?: string }[];
    };
    expect(body.enabled).toBe(true);
    expect(body.decisions.length).toBeGreaterThanOrEqual(3);
    expect(body.decisions.every((d) => d.principal.endsWith(':user/orders-app'))).toBe(true);
    expect(body.decisions[0]?.allowed).toBe(false);
    expect(body.decisions.find((d) => d.allowed)?.by).toMatch(/orders-app\/inline-0 #0/);
  });

  it('changing a statement in resources/iam.yml changes what the local cloud allows', async () => {
    // A copy of the project whose UserFunctionRole lost RotateSecret's lambda:InvokeFunction.
    const root = path.resolve(__dirname, '../..');
    const copy = mkdtempSync(path.join(os.tmpdir(), 'credflow-iam-yml-'));
    try {
      cpSync(path.join(root, 'serverless.yml'), path.join(copy, 'serverless.yml'));
      cpSync(path.join(root, 'resources'), path.join(copy, 'resources'), { recursive: true });
      const yml = readFileSync(path.join(copy, 'resources/iam.yml'), 'utf8');
      const grant = `              - Effect: Allow
                Action:
                  - lambda:InvokeFunction
                Resource:
                  - Fn::GetAtt: [RotationLambdaLambdaFunction, Arn]
`;
      expect(yml).toContain(grant);
      writeFileSync(path.join(copy, 'resources/iam.yml'), yml.replace(grant, ''));
      const target = { region: tc.cloud.region, accountId: ACCOUNT, stage: LOCAL_STAGE };
      const changed = loadStackIam(copy, target);
      const original = loadStackIam(root, target);
      const enableRotation = async () => {
        const keys = roleKeys('UserFunctionRole', 'credflow-local-enableRotation');
        return secretsAs(keys).send(
          new RotateSecretCommand({
            SecretId: 'credflow/iam/rotate-twice',
            RotationLambdaARN: tc.rotationLambdaArn,
            RotateImmediately: false,
          }),
        );
      };
      tc.cloud.iam.useStack(changed);
      await expect(enableRotation()).rejects.toMatchObject({
        name: 'AccessDeniedException',
        message: expect.stringContaining('lambda:InvokeFunction'),
      });
      tc.cloud.iam.useStack(original);
      // Allowed again (what Secrets Manager then makes of the secret is not IAM's business).
      const after = await enableRotation().catch((err: Error) => err);
      expect((after as Error).name).not.toBe('AccessDeniedException');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  describe('passing a role: iam:PassRole, and the role must trust the service', () => {
    const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
    const stackRole = (id: string) => String(tc.cloud.iam.principals.stack?.roles.get(id)?.arn);
    const PASS_MACHINE = {
      StartAt: 'Done',
      States: { Done: { Type: 'Pass', Result: { ok: true }, End: true } },
    };
    /** A user with these statements, and its Step Functions and EventBridge clients. */
    const user = (name: string, statements: object[]) => {
      const keys = userWith(name, statements);
      return { sfn: new SFNClient(cfg(keys)), events: new EventBridgeClient(cfg(keys)) };
    };
    const create = (sfn: SFNClient, name: string, role: string) =>
      sfn.send(
        new CreateStateMachineCommand({ name, roleArn: role, definition: JSON.stringify(PASS_MACHINE) }),
      );

    /** A role an operator makes that only `service` may assume; the same grant for every one. */
    const operatorRole = (name: string, service: string) =>
      Principals.create(
        tc.stateDir,
        name,
        {
          role: true,
          trust: serviceTrust([service]),
          documents: [
            {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Action: 'states:StartExecution',
                  Resource: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:iam-pass-*`,
                },
              ],
            },
          ],
        },
        tc.cloud.iam.principals.stack,
      );

    beforeAll(() => {
      // One Step Functions may assume, one only EventBridge may: only the trust tells them apart.
      operatorRole('machine-role', 'states.amazonaws.com');
      operatorRole('target-role', 'events.amazonaws.com');
    });

    it('CreateStateMachine and UpdateStateMachine need iam:PassRole on the role, passed to states.amazonaws.com', async () => {
      const { sfn } = user('machine-maker-no-pass', [
        {
          Effect: 'Allow',
          Action: ['states:CreateStateMachine', 'states:UpdateStateMachine', 'states:StartExecution'],
          Resource: '*',
        },
      ]);
      // The attack: a machine running as the rotation role, whose aws-sdk tasks read master secrets.
      for (const role of [stackRole('RotationFunctionRole'), roleArn('machine-role')]) {
        const e = await awsError(() => create(sfn, 'iam-pass-a', role), 'AccessDeniedException');
        expect(e.message).toBe(
          `User: arn:aws:iam::${ACCOUNT}:user/machine-maker-no-pass is not authorized to perform: iam:PassRole on resource: ${role} because no identity-based policy allows the iam:PassRole action`,
        );
      }
      // Nothing was made.
      await awsError(
        () =>
          tc.clients.sfn.send(
            new ListExecutionsCommand({
              stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:iam-pass-a`,
            }),
          ),
        'StateMachineDoesNotExist',
      );
      // A grant to pass roles to another service does not cover Step Functions.
      const { sfn: toEvents } = user('machine-maker-pass-to-events', [
        { Effect: 'Allow', Action: 'states:CreateStateMachine', Resource: '*' },
        {
          Effect: 'Allow',
          Action: 'iam:PassRole',
          Resource: '*',
          Condition: { StringEquals: { 'iam:PassedToService': 'events.amazonaws.com' } },
        },
      ]);
      await awsError(() => create(toEvents, 'iam-pass-a', roleArn('machine-role')), 'AccessDeniedException');
      // UpdateStateMachine to another role: the same need.
      await create(tc.clients.sfn, 'iam-pass-update', roleArn('machine-role'));
      const e = await awsError(
        () =>
          sfn.send(
            new UpdateStateMachineCommand({
              stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:iam-pass-update`,
              roleArn: stackRole('RotationFunctionRole'),
            }),
          ),
        'AccessDeniedException',
      );
      expect(e.message).toContain('is not authorized to perform: iam:PassRole on resource:');
    });

    it('Step Functions refuses a role whose trust policy does not allow it, whoever passes it', async () => {
      const { sfn } = user('machine-maker', [
        {
          Effect: 'Allow',
          Action: ['states:CreateStateMachine', 'states:UpdateStateMachine'],
          Resource: '*',
        },
        {
          Effect: 'Allow',
          Action: 'iam:PassRole',
          Resource: '*',
          Condition: { StringEquals: { 'iam:PassedToService': 'states.amazonaws.com' } },
        },
      ]);
      const refusal =
        'Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.';
      // Trusted by Lambda only, by EventBridge only, or no such role: refused, also for the administrator.
      for (const role of [stackRole('RotationFunctionRole'), roleArn('target-role'), roleArn('nobody')])
        for (const client of [sfn, tc.clients.sfn]) {
          const e = await awsError(() => create(client, 'iam-pass-b', role), 'AccessDeniedException');
          expect(e.message).toBe(refusal);
          expect(e.$metadata?.httpStatusCode).toBe(400);
        }
      const e = await awsError(
        () =>
          sfn.send(
            new UpdateStateMachineCommand({
              stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:iam-pass-update`,
              roleArn: stackRole('VerifyFunctionRole'),
            }),
          ),
        'AccessDeniedException',
      );
      expect(e.message).toBe(refusal);
      // A role that trusts Step Functions (the regional principal, as the stack's roles do, or the global one).
      await create(sfn, 'iam-pass-c', roleArn('machine-role'));
      await create(sfn, 'iam-pass-c2', stackRole('VerifyCredentialsStateMachineRole'));
      await sfn.send(
        new UpdateStateMachineCommand({
          stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:iam-pass-c`,
          roleArn: stackRole('RotateSecretStateMachineRole'),
        }),
      );
      // A role whose trust changes afterwards: the machine no longer acts as it.
      const machine = `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:iam-pass-c2`;
      const iam = tc.cloud.iam;
      expect(iam.stateMachine(machine).principal.roleArn).toBe(
        stackRole('VerifyCredentialsStateMachineRole'),
      );
      const root = path.resolve(__dirname, '../..');
      const target = { region: tc.cloud.region, accountId: ACCOUNT, stage: LOCAL_STAGE };
      const changed = loadStackIam(root, target);
      const role = changed.roles.get('VerifyCredentialsStateMachineRole');
      if (role) role.trust = serviceTrust(['lambda.amazonaws.com']);
      iam.useStack(changed);
      try {
        expect(iam.stateMachine(machine).principal).toEqual({
          arn: `arn:aws:sts::${ACCOUNT}:assumed-role/credflow-${LOCAL_STAGE}-VerifyCredentialsStateMachineRole/iam-pass-c2`,
          accountId: ACCOUNT,
          kind: 'assumed-role',
        });
        expect(() => iam.requireCall(iam.stateMachine(machine), 'events', 'PutEvents', {})).toThrow(
          /because no identity-based policy allows the events:PutEvents action/,
        );
      } finally {
        iam.useStack(loadStackIam(root, target));
      }
      expect(iam.stateMachine(machine).principal.roleArn).toBe(
        stackRole('VerifyCredentialsStateMachineRole'),
      );
      expect(() => iam.requireCall(iam.stateMachine(machine), 'events', 'PutEvents', {})).not.toThrow();
    });

    it('PutTargets with a RoleArn needs iam:PassRole passed to events.amazonaws.com; EventBridge starts a target only as a role that trusts it', async () => {
      const { events } = user('rule-maker', [
        { Effect: 'Allow', Action: ['events:PutRule', 'events:PutTargets'], Resource: '*' },
      ]);
      const target = (id: string, machine: string, role: string) => ({
        Id: id,
        Arn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:${machine}`,
        RoleArn: role,
      });
      const pattern = JSON.stringify({ source: ['iam.test'], 'detail-type': ['PassRole'] });
      await events.send(new PutRuleCommand({ Name: 'iam-pass-rule', EventPattern: pattern }));
      const e = await awsError(
        () =>
          events.send(
            new PutTargetsCommand({
              Rule: 'iam-pass-rule',
              Targets: [target('t', 'iam-pass-trusted', roleArn('target-role'))],
            }),
          ),
        'AccessDeniedException',
      );
      expect(e.message).toBe(
        `User: arn:aws:iam::${ACCOUNT}:user/rule-maker is not authorized to perform: iam:PassRole on resource: ${roleArn('target-role')} because no identity-based policy allows the iam:PassRole action`,
      );
      // With PassRole: accepted whatever the role trusts (EventBridge checks when it delivers).
      const { events: passer } = user('rule-maker-pass', [
        { Effect: 'Allow', Action: ['events:PutRule', 'events:PutTargets'], Resource: '*' },
        {
          Effect: 'Allow',
          Action: 'iam:PassRole',
          Resource: '*',
          Condition: { StringEquals: { 'iam:PassedToService': 'events.amazonaws.com' } },
        },
      ]);
      await create(tc.clients.sfn, 'iam-pass-trusted', roleArn('machine-role'));
      await create(tc.clients.sfn, 'iam-pass-untrusted', roleArn('machine-role'));
      await passer.send(
        new PutTargetsCommand({
          Rule: 'iam-pass-rule',
          Targets: [
            target('trusted', 'iam-pass-trusted', roleArn('target-role')),
            // machine-role trusts Step Functions only: EventBridge cannot assume it.
            target('untrusted', 'iam-pass-untrusted', roleArn('machine-role')),
          ],
        }),
      );
      await tc.clients.events.send(
        new PutEventsCommand({ Entries: [{ Source: 'iam.test', DetailType: 'PassRole', Detail: '{}' }] }),
      );
      const executions = async (machine: string) =>
        (
          await tc.clients.sfn.send(
            new ListExecutionsCommand({
              stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:${machine}`,
            }),
          )
        ).executions ?? [];
      for (let i = 0; i < 50 && (await executions('iam-pass-trusted')).length === 0; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(await executions('iam-pass-trusted')).toHaveLength(1);
      expect(await executions('iam-pass-untrusted')).toHaveLength(0);
    });
  });
});
