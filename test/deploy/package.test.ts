/**
 * `serverless package` offline (osls + serverless-step-functions + serverless-esbuild), twice:
 * into a VPC with interface endpoints, customer KMS keys for the secrets and the alerts topic and a
 * non-default log retention, and with no params at all. The
 * generated CloudFormation is checked against serverless.yml's own catalog, so new entries are
 * covered without editing this file, and cfn-lint must find no error in either template.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { loadCatalog } from '../../local/catalog';
import { loadStackIam } from '../../local/iam/template';
import { cfnLintErrors } from './cfn-lint';
import { monitoringChecks } from './monitoring';
import { osls, root } from './osls';
import {
  allowStatements,
  type Resource,
  resolveConditions,
  resolveIntrinsics,
  roleOf,
  type Template,
} from './template';

const exec = promisify(execFile);
const out = path.join(root, '.serverless');
const bare = mkdtempSync(path.join(os.tmpdir(), 'credflow-package-'));

const SUBNETS = ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'];
const GROUPS = ['sg-0123456789abcdef0', 'sg-00112233445566778'];
const KMS_KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
/** The alerts topic's key: another key, so a grant on the wrong one shows. */
const ALERTS_KMS_KEY = 'arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d';
/** A retention other than serverless.yml's default (30), for the VPC run. */
const LOG_RETENTION_DAYS = 7;
/** The roles that publish to the alerts topic (sns:Publish on it): the repair and deletion machines. */
const ALERT_PUBLISHERS = [
  'OnDeletionStateMachineRole',
  'OnRotationFailureStateMachineRole',
  'ReconcileRotationsStateMachineRole',
];

/**
 * Every function that opens a database connection (src/: an engine login, directly or as the
 * master): these, and only these, run in the VPC with the runtime's CA bundle.
 */
const DATABASE_FUNCTIONS = [
  'setSecret',
  'testSecret',
  'rotationLambda',
  'verifyCredentials',
  'diagnoseRotation',
  'testMasterLogin',
  'createDatabaseUser',
  'validateUserLogin',
  'cleanUpUserSecret',
  'checkConnectivity',
  'adoptSecret',
];

/** Actions that take no resource ARN, the only ones allowed on "*". */
const UNSCOPABLE = [
  'secretsmanager:GetRandomPassword',
  'secretsmanager:ListSecrets',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  // Step Functions logging (vended log delivery) and X-Ray tracing: resources/monitoring.yml.
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
];

async function packaged(dir: string, params: string[]): Promise<Template> {
  await osls(
    [
      'package',
      '--stage',
      'ci',
      '--region',
      'us-east-1',
      '--package',
      dir,
      ...params.map((p) => `--param=${p}`),
      // A busy machine packages 32 functions in minutes.
    ],
    900_000,
  );
  const file = path.join(dir, 'cloudformation-template-update-stack.json');
  return resolveConditions(JSON.parse(readFileSync(file, 'utf8')) as Template);
}

let vpc: Template;
let none: Template;
/** The VPC template's resources, as deployed. */
let resources: Record<string, Resource>;
/** A role's Allow statements. */
const statements = (role: Resource) => allowStatements(role);

// One after the other, bare first: packaging cleans the service's .serverless/ as it starts.
beforeAll(async () => {
  none = await packaged(bare, []);
  vpc = await packaged(out, [
    `subnetIds=${SUBNETS.join(',')}`,
    `securityGroupIds=${GROUPS.join(',')}`,
    'vpcId=vpc-0123456789abcdef0',
    'vpcEndpoints=secretsmanager,rds',
    `kmsKeyArn=${KMS_KEY}`,
    `alertsKmsKeyArn=${ALERTS_KMS_KEY}`,
    `logRetentionInDays=${LOG_RETENTION_DAYS}`,
  ]);
  resources = vpc.Resources;
}, 1_800_000);

afterAll(() => rmSync(bare, { recursive: true, force: true }));

const catalog = loadCatalog(root, 'ci');

/**
 * Every string in a template that names a partition (`arn:aws:`, `arn:aws-cn:`...) instead of
 * building it with `${AWS::Partition}`, by its path; parameter defaults (the deployer's input) aside.
 */
function hardCodedPartitions(template: Record<string, unknown>): string[] {
  const found: string[] = [];
  const walk = (v: unknown, at: string): void => {
    if (typeof v === 'string') {
      for (const m of v.match(/arn:aws(-[a-z-]+)?:[^"\\\s]*/g) ?? []) found.push(`${at}: ${m}`);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, `${at}/${k}`);
    }
  };
  for (const [section, body] of Object.entries(template)) {
    if (section === 'Parameters') continue;
    walk(body, section);
  }
  return found;
}
const logical = (key: string) => `${key[0]?.toUpperCase()}${key.slice(1)}LambdaFunction`;
const of = (t: Template, type: string) => Object.entries(t.Resources).filter(([, r]) => r.Type === type);
const fn = (t: Template, key: string) => t.Resources[logical(key)] as Resource;
const roleStatements = (t: Template, r: Resource, prop: 'Role' | 'RoleArn') =>
  allowStatements(t.Resources[roleOf(t, r, prop)] as Resource);

describe('serverless package (offline)', () => {
  it.each(catalog.stateMachines.map((m) => [m.key, m] as const))(
    'state machine %s: definition wired to its functions',
    (_k, m) => {
      const sm = vpc.Resources[m.id];
      expect(sm?.Type).toBe('AWS::StepFunctions::StateMachine');
      expect(sm?.Properties['StateMachineName']).toBe(m.name);
      const text = JSON.stringify(sm?.Properties['DefinitionString']);
      const wanted = new Set(
        (JSON.stringify(m.definition).match(/"Fn::GetAtt":\["(\w+)","Arn"\]/g) ?? []).map(
          (x) => x.split('"')[3] as string,
        ),
      );
      for (const f of wanted) {
        expect(text).toContain(logical(f));
        expect(vpc.Resources[logical(f)]?.Type).toBe('AWS::Lambda::Function');
      }
      // Its role may invoke exactly the functions it uses.
      const invoke = roleStatements(vpc, sm as Resource, 'RoleArn').filter((s) =>
        s.Action.includes('lambda:InvokeFunction'),
      );
      const invoked = new Set(
        JSON.stringify(invoke.map((s) => s.Resource)).match(/\w+LambdaFunction/g) ?? [],
      );
      expect([...invoked].sort()).toEqual([...wanted].map(logical).sort());
    },
  );

  it('each rule carries the pattern from events/ and targets its state machine', () => {
    const rules = of(vpc, 'AWS::Events::Rule');
    for (const m of catalog.stateMachines) {
      for (const r of m.rules) {
        const match = rules.find(([, x]) =>
          r.kind === 'pattern'
            ? JSON.stringify(x.Properties['EventPattern']) === JSON.stringify(r.pattern)
            : x.Properties['ScheduleExpression'] === r.expression,
        );
        expect(match).toBeDefined();
        const targets = match?.[1].Properties['Targets'] as { Arn: { Ref: string } }[];
        expect(targets.map((t) => t.Arn.Ref)).toContain(m.id);
      }
    }
  });

  const both = [['with VPC and keys', () => vpc] as const, ['with no params', () => none] as const];

  it.each([
    [`with logRetentionInDays=${LOG_RETENTION_DAYS}`, () => vpc, LOG_RETENTION_DAYS],
    ['with no params (the default, 30)', () => none, 30],
  ] as const)('%s: every log group expires its logs after logRetentionInDays', (_n, t, days) => {
    const groups = of(t(), 'AWS::Logs::LogGroup');
    // One per function, plus the state machines' group.
    expect(groups.length).toBe(catalog.functions.length + 1);
    // A --param is a string: the state machines' group gets "7", which CloudFormation takes as 7.
    for (const [id, g] of groups)
      expect({ id, days: Number(g.Properties['RetentionInDays']) }).toEqual({ id, days });
  });

  it.each(both)(
    '%s: every EventBridge rule target retries for a day, then dead-letters to the events queue',
    (_n, t) => {
      const rules = of(t(), 'AWS::Events::Rule');
      const expected = catalog.stateMachines.reduce((n, m) => n + m.rules.length, 0);
      expect(rules.length).toBe(expected);
      for (const [id, r] of rules) {
        for (const target of r.Properties['Targets'] as Record<string, unknown>[]) {
          expect({ id, retry: target['RetryPolicy'], dlq: target['DeadLetterConfig'] }).toEqual({
            id,
            retry: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
            dlq: { Arn: { 'Fn::GetAtt': ['EventsDeadLetterQueue', 'Arn'] } },
          });
          expect(target['Arn']).toBeDefined();
          expect(target['RoleArn']).toBeDefined();
        }
      }
      const queue = t().Resources['EventsDeadLetterQueue'] as Resource;
      expect(queue.Type).toBe('AWS::SQS::Queue');
      expect(queue.Properties['SqsManagedSseEnabled']).toBe(true);
      // Only EventBridge, and only for this stage's rules, may put dead letters there.
      const policy = t().Resources['EventsDeadLetterQueuePolicy'] as Resource;
      const doc = policy.Properties['PolicyDocument'] as { Statement: Record<string, unknown>[] };
      expect(doc.Statement).toEqual([
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: { 'Fn::GetAtt': ['EventsDeadLetterQueue', 'Arn'] },
          Condition: {
            ArnLike: {
              'aws:SourceArn': {
                // CloudFormation's Fn::Sub syntax, not a template literal.
                // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation substitutes it
                'Fn::Sub': 'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/credflow-ci-*',
              },
            },
          },
        }),
      ]);
      const alarm = of(t(), 'AWS::CloudWatch::Alarm').find(([id]) => id === 'EventsDeadLetterAlarm');
      expect(alarm?.[1].Properties).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        AlarmActions: [{ Ref: 'AlertsTopic' }],
      });
    },
  );

  it('encrypts the alerts topic with the alertsKmsKeyArn param, and leaves it as SNS makes it without', () => {
    expect(vpc.Resources['AlertsTopic']?.Properties['KmsMasterKeyId']).toEqual({ Ref: 'AlertsKmsKeyArn' });
    expect(vpc.Parameters?.['AlertsKmsKeyArn']?.Default).toBe(ALERTS_KMS_KEY);
    expect(none.Resources['AlertsTopic']?.Properties).not.toHaveProperty('KmsMasterKeyId');
  });

  it("with alertsKmsKeyArn lets exactly the topic's publishers use its key, only through SNS; without it grants nothing on it", () => {
    const publishers = (t: Template) =>
      of(t, 'AWS::IAM::Role')
        .filter(([, r]) => allowStatements(r).some((s) => s.Action.includes('sns:Publish')))
        .map(([id]) => id)
        .sort();
    expect(publishers(vpc)).toEqual(ALERT_PUBLISHERS);
    expect(publishers(none)).toEqual(ALERT_PUBLISHERS);
    const onAlertsKey = (r: Resource) =>
      allowStatements(r).filter((s) => JSON.stringify(s.Resource).includes('AlertsKmsKeyArn'));
    for (const [id, role] of of(vpc, 'AWS::IAM::Role')) {
      expect({ id, grants: onAlertsKey(role) }).toEqual({
        id,
        grants: ALERT_PUBLISHERS.includes(id)
          ? [
              {
                Effect: 'Allow',
                // SNS makes the message's data key as the publisher (and decrypts it to check it).
                Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
                Resource: { Ref: 'AlertsKmsKeyArn' },
                Condition: {
                  // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation substitutes it
                  StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'sns.${AWS::Region}.amazonaws.com' } },
                },
              },
            ]
          : [],
      });
    }
    // No alerts key: the condition drops the statement from every role.
    for (const [id, role] of of(none, 'AWS::IAM::Role'))
      expect({ id, grants: onAlertsKey(role) }).toEqual({ id, grants: [] });
  });

  it('grants no Resource "*" where the action takes a narrower one, and no action *', () => {
    for (const t of [vpc, none]) {
      const roles = of(t, 'AWS::IAM::Role');
      expect(roles.length).toBeGreaterThan(10);
      for (const [name, role] of roles) {
        for (const s of allowStatements(role)) {
          expect(s.Action.filter((a) => a === '*' || a.endsWith(':*'))).toEqual([]);
          const star = [s.Resource].flat().includes('*');
          if (star)
            expect({ role: name, actions: s.Action.filter((a) => !UNSCOPABLE.includes(a)) }).toEqual({
              role: name,
              actions: [],
            });
          if (s.Action.some((a) => a.startsWith('secretsmanager:') && !UNSCOPABLE.includes(a))) {
            // Adoption reads (and tags) secrets credflow did not create, whatever their names.
            if (name === 'AdoptFunctionRole') expect(JSON.stringify(s.Resource)).toMatch(/secret:\*/);
            else if (/secret:\*"/.test(JSON.stringify(s.Resource))) {
              // Adopted secrets keep their names: any secret, only while credflow's managed tag is on it;
              // verify tags them with its drift tag alone.
              const managedOnly = { StringEquals: { 'secretsmanager:ResourceTag/credflow:managed': 'true' } };
              const tagging = s.Action.some((a) => /^secretsmanager:(Un)?[Tt]agResource$/.test(a));
              expect({ role: name, condition: (s as { Condition?: unknown }).Condition }).toEqual({
                role: name,
                condition:
                  name === 'VerifyFunctionRole' && tagging
                    ? {
                        ...managedOnly,
                        'ForAllValues:StringEquals': { 'aws:TagKeys': ['credflow:drift'] },
                        Null: { 'aws:TagKeys': 'false' },
                      }
                    : managedOnly,
              });
            } else expect(JSON.stringify(s.Resource)).toMatch(/secret:(credflow\/\*|rds!\*)/);
          }
        }
      }
    }
  });

  it('scopes rotate-fleet and rotate-fleet-page to the machines they start, their executions and the managed rule of .sync', () => {
    const on = (machine: string, action: string) =>
      roleStatements(vpc, vpc.Resources[machine] as Resource, 'RoleArn')
        .filter((s) => s.Action.includes(action))
        .map((s) => s.Resource);
    const fleetByName = (kind: string) =>
      `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:${kind}:credflow-ci-rotate-fleet`;
    expect(on('RotateFleetStateMachine', 'states:StartExecution')).toEqual([
      [{ Ref: 'RotateFleetPageStateMachine' }, { 'Fn::Sub': fleetByName('stateMachine') }],
    ]);
    expect(on('RotateFleetPageStateMachine', 'states:StartExecution')).toEqual([
      [{ Ref: 'RotateSecretStateMachine' }],
    ]);
    for (const a of ['states:DescribeExecution', 'states:StopExecution']) {
      const fleet = JSON.stringify(on('RotateFleetStateMachine', a));
      expect(fleet).toContain(`:execution:\${RotateFleetPageStateMachine.Name}:*`);
      expect(fleet).toContain(':execution:credflow-ci-rotate-fleet:*');
      expect(JSON.stringify(on('RotateFleetPageStateMachine', a))).toContain(
        `:execution:\${RotateSecretStateMachine.Name}:*`,
      );
    }
    for (const machine of ['RotateFleetStateMachine', 'RotateFleetPageStateMachine'])
      for (const a of ['events:PutTargets', 'events:PutRule', 'events:DescribeRule']) {
        expect(JSON.stringify(on(machine, a))).toMatch(
          /^\[\[\{"Fn::Sub":"arn:\$\{AWS::Partition\}:events:\$\{AWS::Region\}:\$\{AWS::AccountId\}:rule\/StepFunctionsGetEventsForStepFunctionsExecutionRule"\}\]\]$/,
        );
      }
  });

  it('lets the repair workflows publish to the alerts topic, and no role anywhere else', () => {
    for (const id of ['OnRotationFailureStateMachine', 'OnDeletionStateMachine']) {
      const publish = roleStatements(vpc, resources[id] as Resource, 'RoleArn').filter((s) =>
        s.Action.includes('sns:Publish'),
      );
      expect(publish.map((s) => s.Resource)).toEqual([[{ Ref: 'AlertsTopic' }]]);
    }
    for (const [name, role] of of(vpc, 'AWS::IAM::Role')) {
      for (const s of statements(role).filter((x) => x.Action.includes('sns:Publish'))) {
        expect({ role: name, topic: [s.Resource].flat() }).toEqual({
          role: name,
          topic: [{ Ref: 'AlertsTopic' }],
        });
      }
    }
  });

  it('puts exactly the database functions in the VPC, with the runtime CA bundle', () => {
    for (const f of catalog.functions) {
      const props = fn(vpc, f.key).Properties;
      const env = (props['Environment'] as { Variables: Record<string, unknown> }).Variables;
      if (DATABASE_FUNCTIONS.includes(f.key)) {
        expect({ fn: f.key, vpc: props['VpcConfig'] }).toEqual({
          fn: f.key,
          vpc: { SubnetIds: SUBNETS, SecurityGroupIds: GROUPS },
        });
        expect({ fn: f.key, ca: env['NODE_EXTRA_CA_CERTS'] }).toEqual({
          fn: f.key,
          ca: '/var/runtime/ca-cert.pem',
        });
      } else {
        expect({ fn: f.key, vpc: props['VpcConfig'] }).toEqual({ fn: f.key, vpc: undefined });
        expect({ fn: f.key, ca: env['NODE_EXTRA_CA_CERTS'] }).toEqual({ fn: f.key, ca: undefined });
      }
      // Without VPC params no function is in a VPC, and the database functions still trust RDS.
      expect(fn(none, f.key).Properties['VpcConfig']).toBeUndefined();
    }
    expect(catalog.functions.map((f) => f.key)).toEqual(expect.arrayContaining(DATABASE_FUNCTIONS));
  });

  it('gives the network-interface permissions only to the roles of VPC functions, scoped to the stage', () => {
    const vpcRoles = new Set(DATABASE_FUNCTIONS.map((k) => roleOf(vpc, fn(vpc, k), 'Role')));
    for (const t of [vpc, none]) {
      for (const [name, role] of of(t, 'AWS::IAM::Role')) {
        const eni = allowStatements(role).filter((s) => s.Action.some((a) => a.startsWith('ec2:')));
        const actions = eni.flatMap((s) => s.Action).sort();
        if (t === vpc && vpcRoles.has(name)) {
          expect({ role: name, actions }).toEqual({
            role: name,
            actions: [
              'ec2:AssignPrivateIpAddresses',
              'ec2:CreateNetworkInterface',
              'ec2:DeleteNetworkInterface',
              'ec2:DescribeNetworkInterfaces',
              'ec2:DescribeSubnets',
              'ec2:UnassignPrivateIpAddresses',
            ],
          });
          const create = JSON.stringify(
            eni.find((s) => s.Action.includes('ec2:CreateNetworkInterface'))?.Resource,
          );
          for (const id of [
            ...SUBNETS.map((s) => `subnet/${s}`),
            ...GROUPS.map((g) => `security-group/${g}`),
          ]) {
            expect(create).toContain(id);
          }
        } else {
          expect({ role: name, actions }).toEqual({ role: name, actions: [] });
        }
      }
    }
    // The functions outside the VPC share those roles; the state machine roles never have them.
    expect([...vpcRoles].sort()).toEqual([
      'AdoptFunctionRole',
      'DatabaseFunctionRole',
      'PreflightFunctionRole',
      'RotationFunctionRole',
      'UserFunctionRole',
      'VerifyFunctionRole',
    ]);
  });

  it('creates the interface endpoints when asked: private DNS, their own group open to the functions on 443', () => {
    const group = vpc.Resources['VpcEndpointSecurityGroup'];
    expect(group?.Properties['SecurityGroupIngress']).toEqual(
      GROUPS.map((g) =>
        expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, SourceSecurityGroupId: g }),
      ),
    );
    for (const [id, service] of [
      ['SecretsManagerVpcEndpoint', 'secretsmanager'],
      ['RdsVpcEndpoint', 'rds'],
    ] as const) {
      expect(vpc.Resources[id]?.Properties).toEqual({
        VpcEndpointType: 'Interface',
        ServiceName: { 'Fn::Sub': `com.amazonaws.\${AWS::Region}.${service}` },
        VpcId: { Ref: 'VpcId' },
        SubnetIds: SUBNETS,
        SecurityGroupIds: [{ Ref: 'VpcEndpointSecurityGroup' }],
        PrivateDnsEnabled: true,
      });
      expect(none.Resources[id]).toBeUndefined();
    }
    expect(vpc.Parameters?.['VpcId']?.Default).toBe('vpc-0123456789abcdef0');
    expect(none.Resources['VpcEndpointSecurityGroup']).toBeUndefined();
  });

  it('with a customer KMS key grants exactly the KMS actions needed, each only via Secrets Manager or RDS', () => {
    const kms = (t: Template) =>
      of(t, 'AWS::IAM::Role').flatMap(([name, r]) =>
        allowStatements(r)
          .filter((s) => s.Action.some((a) => a.startsWith('kms:')))
          // The alerts topic's key: checked above.
          .filter((s) => !JSON.stringify(s.Resource).includes('AlertsKmsKeyArn'))
          .map((s) => ({ name, s })),
      );
    const granted: Record<string, string[]> = {};
    for (const { name, s } of kms(vpc)) {
      const via = JSON.stringify(
        (s.Condition as Record<string, Record<string, unknown>>)?.['StringEquals']?.['kms:ViaService'],
      );
      if (s.Resource === '*' || JSON.stringify(s.Resource).includes('key/*')) {
        // Secrets Manager's own key, described by RDS: only that alias.
        expect(s).toMatchObject({
          Action: ['kms:DescribeKey'],
          Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/aws/secretsmanager' } },
        });
        continue;
      }
      expect(s.Resource).toEqual({ Ref: 'KmsKeyArn' });
      expect(via).toContain(`secretsmanager.\${AWS::Region}.amazonaws.com`);
      granted[name] = [...(granted[name] ?? []), ...s.Action].sort();
    }
    expect(granted).toEqual({
      RotationFunctionRole: ['kms:Decrypt', 'kms:GenerateDataKey'],
      UserFunctionRole: ['kms:Decrypt', 'kms:GenerateDataKey'],
      DatabaseFunctionRole: ['kms:CreateGrant', 'kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey'],
      PreflightFunctionRole: ['kms:Decrypt'],
      VerifyFunctionRole: ['kms:Decrypt'],
      AdoptFunctionRole: ['kms:Decrypt'],
    });
    expect(vpc.Parameters?.['KmsKeyArn']?.Default).toBe(KMS_KEY);
    // No key: no statement on any key but Secrets Manager's own.
    expect(kms(none).every(({ s }) => JSON.stringify(s.Resource).includes('key/*'))).toBe(true);
  });

  it('lets RDS create and rotate the managed master secret as the database role, and nothing else do so', () => {
    const db = allowStatements(vpc.Resources['DatabaseFunctionRole'] as Resource);
    const create = db.filter((s) => s.Action.includes('secretsmanager:CreateSecret'));
    expect(create).toEqual([
      expect.objectContaining({
        Action: ['secretsmanager:CreateSecret', 'secretsmanager:TagResource', 'secretsmanager:RotateSecret'],
        Condition: { Bool: { 'aws:ViaAWSService': 'true' } },
      }),
    ]);
    expect(JSON.stringify(create[0]?.Resource)).toContain('secret:rds!*');
    expect(db.some((s) => s.Action.includes('secretsmanager:PutSecretValue'))).toBe(false);
  });

  it('lets Secrets Manager invoke the rotation function, from this account only', () => {
    expect(vpc.Resources['RotationLambdaInvokePermission']?.Properties).toEqual({
      FunctionName: { 'Fn::GetAtt': ['RotationLambdaLambdaFunction', 'Arn'] },
      Action: 'lambda:InvokeFunction',
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
  });

  it('runs every function on nodejs24.x, bundled for node24', () => {
    const yml = parse(readFileSync(path.join(root, 'serverless.yml'), 'utf8')) as {
      provider: { runtime: string };
      custom: { esbuild: { target: string } };
    };
    expect(yml.provider.runtime).toBe('nodejs24.x');
    expect(yml.custom.esbuild.target).toBe(`node${yml.provider.runtime.replace(/^nodejs|\.x$/g, '')}`);
    for (const [, f] of of(vpc, 'AWS::Lambda::Function')) expect(f.Properties['Runtime']).toBe('nodejs24.x');
  });

  it('offers a policy that denies setting, changing or removing credflow:* tags, CreateSecret Tags included', () => {
    const policy = vpc.Resources['ProtectCredflowBindingTagsPolicy'];
    expect(policy?.Type).toBe('AWS::IAM::ManagedPolicy');
    const doc = policy?.Properties['PolicyDocument'] as { Statement: Record<string, unknown>[] } | undefined;
    const [deny] = doc?.Statement ?? [];
    expect(deny).toMatchObject({
      Effect: 'Deny',
      Action: expect.arrayContaining([
        'secretsmanager:CreateSecret',
        'secretsmanager:TagResource',
        'secretsmanager:UntagResource',
      ]),
      Condition: { 'ForAnyValue:StringLike': { 'aws:TagKeys': 'credflow:*' } },
    });
  });

  it('writes no ARN with a hard-coded partition anywhere in either packaged template', () => {
    // Everything `serverless package` emits: both templates of both runs, every property, the
    // state machines' definitions and the rules' event patterns included. Only the parameters'
    // defaults (the ARNs the deployer passed in) may name a partition.
    for (const dir of [out, bare]) {
      const files = readdirSync(dir).filter((f) => /^cloudformation-template-.*\.json$/.test(f));
      expect(files.sort()).toEqual([
        'cloudformation-template-create-stack.json',
        'cloudformation-template-update-stack.json',
      ]);
      for (const file of files) {
        const template = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>;
        expect({ file, literals: hardCodedPartitions(template) }).toEqual({ file, literals: [] });
      }
    }
  });

  it('writes no ARN with a hard-coded partition in any IAM policy', () => {
    for (const t of [vpc, none]) {
      for (const [name, r] of of(t, 'AWS::IAM::Role').concat(of(t, 'AWS::IAM::ManagedPolicy'))) {
        expect({ name, literal: JSON.stringify(r.Properties).match(/arn:aws:/g) ?? [] }).toEqual({
          name,
          literal: [],
        });
      }
    }
  });

  it('gives each function and state machine the role resources/iam.yml names, the one the local cloud enforces', () => {
    // The local cloud reads serverless.yml itself (local/iam/template.ts): the same roles, the same
    // statements as the packaged template, so what it allows is what AWS would.
    const stack = loadStackIam(root, { region: 'us-east-1', accountId: '123456789012', stage: 'ci' });
    for (const f of catalog.functions)
      expect(roleOf(none, fn(none, f.key), 'Role')).toBe(stack.functionRoles.get(f.key));
    for (const m of catalog.stateMachines)
      expect(roleOf(none, none.Resources[m.id] as Resource, 'RoleArn')).toBe(
        stack.stateMachineRoles.get(m.key),
      );
    const packagedRoles = of(none, 'AWS::IAM::Role')
      .map(([id]) => id)
      .sort();
    expect([...stack.roles.keys()].sort()).toEqual(packagedRoles);
    // Whole statements, Resource and Condition included, with the packaged template's Ref, GetAtt
    // and Sub resolved here independently of the local cloud's own reading of serverless.yml.
    const place = { partition: 'aws', region: 'us-east-1', accountId: '123456789012', stage: 'ci' };
    const canon = (statements: unknown): string[] =>
      [statements]
        .flat()
        .map((st) => {
          const o = st as Record<string, unknown>;
          const out: Record<string, unknown> = {};
          for (const k of Object.keys(o).sort()) {
            if (k === 'Sid') continue;
            const v = o[k];
            out[k] = ['Action', 'NotAction', 'Resource', 'NotResource'].includes(k)
              ? [v].flat().map(String).sort()
              : v;
          }
          return JSON.stringify(out);
        })
        .sort();
    for (const [id, role] of of(none, 'AWS::IAM::Role')) {
      const local = stack.roles.get(id);
      const packagedInline = ((role.Properties['Policies'] ?? []) as { PolicyDocument: unknown }[]).flatMap(
        (p) => (resolveIntrinsics(p.PolicyDocument, none, place) as { Statement: unknown }).Statement,
      );
      const localInline = (local?.policies ?? [])
        .filter((p) => !p.name.startsWith('arn:'))
        .flatMap((p) => p.document.Statement);
      expect({ id, statements: canon(localInline) }).toEqual({ id, statements: canon(packagedInline) });
      const attached = (
        resolveIntrinsics(role.Properties['ManagedPolicyArns'] ?? [], none, place) as string[]
      )
        .map(String)
        .sort();
      expect({
        id,
        attached: (local?.policies ?? [])
          .filter((p) => p.name.startsWith('arn:'))
          .map((p) => p.name)
          .sort(),
      }).toEqual({
        id,
        attached,
      });
      // Who may assume it (the local cloud checks a passed role's trust as Step Functions and
      // EventBridge do): the same service principals as the packaged trust policy.
      const trusted = (doc: unknown) =>
        ([(doc as { Statement: unknown }).Statement].flat() as { Principal?: { Service?: unknown } }[])
          .flatMap((st) => [st.Principal?.Service ?? []].flat())
          .map((svc) =>
            typeof svc === 'string'
              ? svc
              : String((svc as { 'Fn::Sub'?: string })['Fn::Sub']).replace(/\$\{AWS::Region\}/, 'us-east-1'),
          )
          .sort();
      expect({ id, trust: trusted(local?.trust) }).toEqual({
        id,
        trust: trusted(role.Properties['AssumeRolePolicyDocument']),
      });
    }
    for (const [id, policy] of of(none, 'AWS::IAM::ManagedPolicy')) {
      const doc = resolveIntrinsics(policy.Properties['PolicyDocument'], none, place) as {
        Statement: unknown;
      };
      expect({ id, statements: canon(stack.managedPolicies.get(id)?.document.Statement) }).toEqual({
        id,
        statements: canon(doc.Statement),
      });
    }
    // The functions' resource policies: each AWS::Lambda::Permission, as the statement it adds.
    const permissions = of(none, 'AWS::Lambda::Permission').map(([, p]) => {
      const r = resolveIntrinsics(p.Properties, none, place) as Record<string, string>;
      return JSON.stringify([
        r['FunctionName'],
        r['Action'],
        r['Principal'],
        r['SourceAccount'] ?? null,
        r['SourceArn'] ?? null,
      ]);
    });
    const localPermissions = [...stack.functionPolicies.entries()].flatMap(([fnArn, doc]) =>
      [doc.Statement].flat().map((st) => {
        const c = (st.Condition ?? {}) as Record<string, Record<string, string>>;
        const principal = (st.Principal as { Service?: string } | undefined)?.Service;
        return JSON.stringify([
          fnArn,
          [st.Action].flat()[0],
          principal,
          c['StringEquals']?.['AWS:SourceAccount'] ?? null,
          c['ArnLike']?.['AWS:SourceArn'] ?? null,
        ]);
      }),
    );
    expect(localPermissions.sort()).toEqual(permissions.sort());
  });

  it('gives each function a role for its group only', () => {
    const actionsOf = (key: string) =>
      new Set(roleStatements(vpc, fn(vpc, key), 'Role').flatMap((s) => s.Action));
    // The functions that only compute over their input make no AWS call and may make none.
    const pure = [
      'classifyDeletion',
      'tallyFleetPage',
      'describeRotationFailure',
      'summarizeFleetRotation',
      'tallyReconcilePage',
    ];
    for (const f of catalog.functions)
      expect({ fn: f.key, any: actionsOf(f.key).size > 0 }).toEqual({
        fn: f.key,
        any: !pure.includes(f.key),
      });
    // testSecret and verify-credentials write nothing but verify's drift tag (its condition is
    // checked above: that key only, on managed secrets).
    for (const key of ['testSecret', 'verifyCredentials'])
      expect(
        [...actionsOf(key)].filter(
          (a) => !/:(Describe|Get|List)/.test(a) && !a.startsWith('ec2:') && a !== 'kms:Decrypt',
        ),
      ).toEqual(['secretsmanager:TagResource', 'secretsmanager:UntagResource']);
    // enableRotation's RotateSecret: Secrets Manager checks that its caller may invoke the rotation function.
    expect(actionsOf('enableRotation').has('lambda:InvokeFunction')).toBe(true);
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
    // ...the database handlers cannot write secret values...
    expect(actionsOf('createDatabase').has('secretsmanager:PutSecretValue')).toBe(false);
    expect(actionsOf('createDatabase').has('rds:CreateDBInstance')).toBe(true);
    // ...user management cannot touch databases...
    expect(actionsOf('prepareDatabaseUser').has('rds:ModifyDBInstance')).toBe(false);
    expect(actionsOf('prepareDatabaseUser').has('secretsmanager:CreateSecret')).toBe(true);
    // ...and the preflight only reads.
    expect(
      [...actionsOf('checkConnectivity')]
        .filter((a) => !a.startsWith('ec2:') && !a.startsWith('kms:'))
        .sort(),
    ).toEqual(['rds:DescribeDBClusters', 'rds:DescribeDBInstances', 'secretsmanager:GetSecretValue']);
    // Adoption never writes a secret value, and tags only with credflow's keys.
    for (const a of ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage']) {
      expect(actionsOf('adoptSecret').has(a)).toBe(false);
    }
    const tagging = roleStatements(vpc, fn(vpc, 'adoptSecret'), 'Role').filter((s) =>
      s.Action.includes('secretsmanager:TagResource'),
    );
    expect(tagging.map((s) => s.Condition)).toEqual([
      { 'ForAllValues:StringLike': { 'aws:TagKeys': ['credflow:*'] } },
    ]);
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
    // credflow's own secrets, and adopted ones (any name) only while they carry the managed tag.
    const versionReads = statements(fnRole).filter((st) =>
      [st.Action].flat().includes('secretsmanager:ListSecretVersionIds'),
    );
    expect(
      versionReads.map((st) => [JSON.stringify(st.Resource).replace(/.*:secret:/, 'secret:'), st.Condition]),
    ).toEqual([
      ['secret:credflow/*"}]', undefined],
      ['secret:*"}]', { StringEquals: { 'secretsmanager:ResourceTag/credflow:managed': 'true' } }],
    ]);
    expect(byAction['states:ListExecutions']).toContain('RotateSecretStateMachine');
    expect(byAction['states:DescribeExecution']).toContain('execution:credflow-ci-rotate-secret:*');
    const sm = resources['ReconcileRotationsStateMachine'] as Resource;
    const smRole = resources[
      (sm.Properties['RoleArn'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]
    ] as Resource;
    for (const st of statements(smRole)) expect(JSON.stringify(st.Resource)).not.toContain('"*"');
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
    for (const key of ['setSecret', 'verifyCredentials', 'selectFleetPage']) {
      const { stdout } = await exec('unzip', ['-p', path.join(out, `${key}.zip`)], {
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

describe('cfn-lint', () => {
  const haveCfnLint = (() => {
    try {
      execFileSync('cfn-lint', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  if (!haveCfnLint) {
    const reason = 'cfn-lint is not installed here (scripts/setup.sh installs it where pip works)';
    console.warn(`skipped: cfn-lint: ${reason}; the templates were not linted`);
    it.skip(`finds no error in either template (skipped: ${reason})`, () => undefined);
    return;
  }
  const lint = (dir: string) => cfnLintErrors(path.join(dir, 'cloudformation-template-update-stack.json'));
  // Both templates at once: cfn-lint takes a core each for a while.
  let both: Promise<Record<string, string[]>> | undefined;
  const findings = () => {
    both ??= Promise.all([lint(out), lint(bare)]).then(([v, b]) => ({ [out]: v, [bare]: b }));
    return both;
  };
  it.each([
    ['in a VPC with endpoints and a KMS key', out],
    ['with no params', bare],
  ])(
    'finds no error in the template %s',
    async (_label, dir) => {
      expect((await findings())[dir]).toEqual([]);
    },
    120_000,
  );
});

monitoringChecks(root, catalog, 'ci', { logRetentionInDays: LOG_RETENTION_DAYS });
