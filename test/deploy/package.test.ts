/**
 * `serverless package` offline (osls + serverless-step-functions + serverless-esbuild), then the
 * generated CloudFormation, checked against serverless.yml's own catalog so new entries are
 * covered without editing this file.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadCatalog } from '../../local/catalog';
import { monitoringChecks } from './monitoring';

const root = path.resolve(__dirname, '../..');
const out = path.join(root, '.serverless');
type Resource = { Type: string; Properties: Record<string, unknown> };
let resources: Record<string, Resource>;

beforeAll(async () => {
  await promisify(execFile)(
    path.join(root, 'node_modules/.bin/osls'),
    ['package', '--stage', 'ci', '--region', 'us-east-1'],
    {
      cwd: root,
      timeout: 240_000,
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'AKIDOFFLINE',
        AWS_SECRET_ACCESS_KEY: 'offline',
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
      },
    },
  );
  resources = JSON.parse(
    readFileSync(path.join(out, 'cloudformation-template-update-stack.json'), 'utf8'),
  ).Resources;
}, 300_000);

const catalog = loadCatalog(root, 'ci');
const of = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
type Statement = { Action: string | string[]; Resource: unknown };
/** A role's statements; one under `Fn::If` (granted while a condition holds) counts as granted. */
const statements = (role: Resource) =>
  (
    (role.Properties['Policies'] as {
      PolicyDocument: { Statement: (Statement | { 'Fn::If': [string, Statement, unknown] })[] };
    }[]) ?? []
  )
    .flatMap((p) => p.PolicyDocument.Statement)
    .map((st) => ('Fn::If' in st ? st['Fn::If'][1] : st));
/** Log delivery and X-Ray take no resource ARN (Step Functions logging and tracing need them). */
const deliveryOrTrace = (st: Statement) => [st.Action].flat().every((a) => /^(logs|xray):/.test(a));

describe('serverless package (offline)', () => {
  it.each(catalog.stateMachines.map((m) => [m.key, m] as const))(
    'state machine %s: definition wired to its functions',
    (_k, m) => {
      const sm = resources[m.id];
      expect(sm?.Type).toBe('AWS::StepFunctions::StateMachine');
      expect(sm?.Properties['StateMachineName']).toBe(m.name);
      const text = JSON.stringify(sm?.Properties['DefinitionString']);
      const wanted = new Set(
        (JSON.stringify(m.definition).match(/"Fn::GetAtt":\["(\w+)","Arn"\]/g) ?? []).map(
          (x) => x.split('"')[3],
        ),
      );
      for (const fn of wanted) {
        const logical = `${fn![0]!.toUpperCase()}${fn!.slice(1)}LambdaFunction`;
        expect(text).toContain(logical);
        expect(resources[logical]?.Type).toBe('AWS::Lambda::Function');
      }
      // Its role may invoke exactly the functions it uses.
      const roleName = ((sm as Resource).Properties['RoleArn'] as { 'Fn::GetAtt': [string, string] })[
        'Fn::GetAtt'
      ][0];
      const invoke = statements(resources[roleName] as Resource).filter((s) =>
        [s.Action].flat().includes('lambda:InvokeFunction'),
      );
      const invoked = new Set(
        JSON.stringify(invoke.map((s) => s.Resource)).match(/\w+LambdaFunction/g) ?? [],
      );
      expect([...invoked].sort()).toEqual(
        [...wanted].map((f) => `${f![0]!.toUpperCase()}${f!.slice(1)}LambdaFunction`).sort(),
      );
    },
  );

  it('each rule carries the pattern from events/ and targets its state machine', () => {
    const rules = of('AWS::Events::Rule');
    for (const m of catalog.stateMachines) {
      for (const r of m.rules) {
        const match = rules.find(([, x]) =>
          r.kind === 'pattern'
            ? JSON.stringify(x.Properties['EventPattern']) === JSON.stringify(r.pattern)
            : x.Properties['ScheduleExpression'] === r.expression,
        );
        expect(match).toBeDefined();
        const targets = match![1].Properties['Targets'] as { Arn: { Ref: string } }[];
        expect(targets.map((t) => t.Arn.Ref)).toContain(m.id);
      }
    }
  });

  it('grants no wildcard secretsmanager access, and no action * anywhere', () => {
    for (const [, role] of of('AWS::IAM::Role')) {
      for (const s of statements(role)) {
        const actions = [s.Action].flat();
        expect(actions).not.toContain('*');
        expect(actions).not.toContain('secretsmanager:*');
        // GetRandomPassword and ListSecrets take no resource ARN; everything else is scoped.
        const unscopable = ['secretsmanager:GetRandomPassword', 'secretsmanager:ListSecrets'];
        if (actions.some((a) => a.startsWith('secretsmanager:') && !unscopable.includes(a))) {
          expect(s.Resource).not.toBe('*');
          expect(JSON.stringify(s.Resource)).toMatch(/secret:(credflow\/\*|rds!\*)/);
        }
      }
    }
  });

  it('offers a policy that denies setting or removing the binding tags (credflow:user, ...)', () => {
    const policy = resources['ProtectCredflowBindingTagsPolicy'];
    expect(policy?.Type).toBe('AWS::IAM::ManagedPolicy');
    const doc = policy?.Properties['PolicyDocument'] as { Statement: Record<string, unknown>[] } | undefined;
    const [deny] = doc?.Statement ?? [];
    expect(deny).toMatchObject({
      Effect: 'Deny',
      Action: expect.arrayContaining(['secretsmanager:TagResource', 'secretsmanager:UntagResource']),
      Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': expect.arrayContaining(['credflow:user']) } },
    });
  });

  it('gives each function a role for its group only', () => {
    const actionsOf = (fnKey: string) => {
      const fn = resources[`${fnKey[0]!.toUpperCase()}${fnKey.slice(1)}LambdaFunction`] as Resource;
      const roleId = (fn.Properties['Role'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      return new Set(statements(resources[roleId] as Resource).flatMap((st) => [st.Action].flat()));
    };
    for (const f of catalog.functions) expect(actionsOf(f.key).size).toBeGreaterThan(0);
    // The rotation steps cannot create or delete databases or secrets...
    for (const a of [
      'rds:CreateDBInstance',
      'rds:DeleteDBInstance',
      'secretsmanager:DeleteSecret',
      'secretsmanager:CreateSecret',
    ]) {
      expect(actionsOf('setSecret').has(a)).toBe(false);
    }
    expect(actionsOf('setSecret').has('secretsmanager:PutSecretValue')).toBe(true);
    // ...the database handlers cannot write secrets...
    expect(actionsOf('createDatabase').has('secretsmanager:PutSecretValue')).toBe(false);
    expect(actionsOf('createDatabase').has('rds:CreateDBInstance')).toBe(true);
    // ...and user management cannot touch databases.
    expect(actionsOf('prepareDatabaseUser').has('rds:ModifyDBInstance')).toBe(false);
    expect(actionsOf('prepareDatabaseUser').has('secretsmanager:CreateSecret')).toBe(true);
  });

  it('gives reconcile-rotations exactly what it uses, and tags the repair machines for crash reruns', () => {
    const fnRole = resources['ReconcileFunctionRole'] as Resource;
    const byAction = Object.fromEntries(
      statements(fnRole).flatMap((st) => [st.Action].flat().map((a) => [a, JSON.stringify(st.Resource)])),
    );
    expect(Object.keys(byAction).sort()).toEqual([
      'secretsmanager:ListSecretVersionIds',
      'secretsmanager:ListSecrets',
      'states:DescribeExecution',
      'states:ListExecutions',
    ]);
    expect(byAction['secretsmanager:ListSecretVersionIds']).toContain('secret:credflow/*');
    expect(byAction['states:ListExecutions']).toContain('RotateSecretStateMachine');
    expect(byAction['states:DescribeExecution']).toContain('execution:credflow-ci-rotate-secret:*');
    const sm = resources['ReconcileRotationsStateMachine'] as Resource;
    const smRole = resources[
      (sm.Properties['RoleArn'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]
    ] as Resource;
    for (const st of statements(smRole))
      if (!deliveryOrTrace(st)) expect(JSON.stringify(st.Resource)).not.toContain('"*"');
    const smActions = statements(smRole).flatMap((st) => [st.Action].flat());
    expect(smActions).toEqual(expect.arrayContaining(['states:StartExecution', 'sns:Publish']));
    expect(smActions).not.toContain('secretsmanager:PutSecretValue');
    for (const id of ['OnRotationFailureStateMachine', 'ReconcileRotationsStateMachine']) {
      expect(resources[id]?.Properties['Tags']).toContainEqual({
        Key: 'credflow:rerun-interrupted',
        Value: 'true',
      });
    }
    expect(resources['RotateSecretStateMachine']?.Properties['Tags'] ?? []).not.toContainEqual(
      expect.objectContaining({ Key: 'credflow:rerun-interrupted' }),
    );
  });

  it('packages every function as its own bundle', () => {
    for (const f of catalog.functions) {
      const zip = path.join(out, `${f.key}.zip`);
      expect(existsSync(zip)).toBe(true);
      expect(statSync(zip).size).toBeLessThan(5 * 1024 * 1024);
    }
  });

  it('bundles only the SDK clients handlers use (Secrets Manager and RDS)', async () => {
    for (const key of ['setSecret', 'verifyCredentials', 'selectDueSecrets']) {
      const { stdout } = await promisify(execFile)('unzip', ['-p', path.join(out, `${key}.zip`)], {
        maxBuffer: 64 * 1024 * 1024,
      });
      expect(stdout).toContain('node_modules/@aws-sdk/client-secrets-manager/');
      expect(stdout).toContain('node_modules/@aws-sdk/client-rds/');
      for (const unused of ['client-sfn', 'client-eventbridge', 'client-sns']) {
        expect(stdout).not.toContain(`node_modules/@aws-sdk/${unused}/`);
      }
    }
  });
});

monitoringChecks(root, catalog, 'ci');
