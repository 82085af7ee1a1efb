// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${...} in plain strings
/**
 * Differential test: credflow's evaluator against `@cloud-copilot/iam-simulate` on random policies
 * and requests over credflow's actions and condition keys. iam-simulate is AGPL-3.0: it is a
 * devDependency used only here, as an oracle, and never imported from code that ships.
 *
 * Where AWS's documentation and iam-simulate part ways the generator stays out of that corner
 * (listed in docs/iam-evaluator.md): NotPrincipal, the root user, KMS key policies, Version
 * 2008-10-17 (no policy variables on AWS), policy variables inside ARN operators' values (the
 * oracle splits the ARN at the variable's own colon) and in NotResource, `0.0.0.0/0` (the oracle matches nothing), a bare address (no prefix length) in NotIpAddress against a request of the other IP family
 * and epoch-seconds dates.
 * Seed and size: IAM_DIFF_SEED, IAM_DIFF_CASES.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import {
  authorize,
  compilePolicySet,
  type NamedPolicy,
  type PolicyDocument,
  type Principal,
  type Statement,
} from '../../../../local/iam';

const A = '111122223333';
const B = '444455556666';
const ROLE = `arn:aws:iam::${A}:role/app/RotationFunctionRole`;
const PRINCIPALS: { weight: number; p: Principal }[] = [
  {
    weight: 6,
    p: {
      arn: `arn:aws:sts::${A}:assumed-role/RotationFunctionRole/credflow-dev-rotate`,
      accountId: A,
      kind: 'assumed-role',
      roleArn: ROLE,
    },
  },
  { weight: 2, p: { arn: `arn:aws:iam::${A}:user/ops/alice`, accountId: A, kind: 'user' } },
  { weight: 2, p: { arn: `arn:aws:iam::${B}:user/bob`, accountId: B, kind: 'user' } },
  {
    weight: 1,
    p: {
      arn: 'secretsmanager.amazonaws.com',
      accountId: '',
      kind: 'service',
      service: 'secretsmanager.amazonaws.com',
    },
  },
];

const SECRET = `arn:aws:secretsmanager:us-east-1:${A}:secret:credflow/app/alice-AbCdEf`;
const OTHER_SECRET = `arn:aws:secretsmanager:us-east-1:${A}:secret:other/thing-XyZ123`;
const RDS_SECRET = `arn:aws:secretsmanager:us-east-1:${A}:secret:rds!db-0a1b2c3d-QwErTy`;
const FUNCTION = `arn:aws:lambda:us-east-1:${A}:function:credflow-dev-rotateSecret`;
const MACHINE = `arn:aws:states:us-east-1:${A}:stateMachine:credflow-dev-rotate-secret`;
const EXECUTION = `arn:aws:states:us-east-1:${A}:execution:credflow-dev-rotate-secret:run-1`;
const DB = `arn:aws:rds:us-east-1:${A}:db:orders`;
const TOPIC = `arn:aws:sns:us-east-1:${A}:credflow-dev-alerts`;

const REQUESTS: [string, string[]][] = [
  ['secretsmanager:GetSecretValue', [SECRET, OTHER_SECRET, RDS_SECRET]],
  ['secretsmanager:PutSecretValue', [SECRET, OTHER_SECRET]],
  ['secretsmanager:DescribeSecret', [SECRET, RDS_SECRET]],
  ['secretsmanager:CreateSecret', [SECRET, OTHER_SECRET]],
  ['secretsmanager:TagResource', [SECRET, OTHER_SECRET]],
  ['secretsmanager:UpdateSecretVersionStage', [SECRET]],
  ['secretsmanager:DeleteSecret', [SECRET, OTHER_SECRET]],
  ['secretsmanager:RotateSecret', [SECRET]],
  ['secretsmanager:ListSecrets', ['*']],
  ['secretsmanager:GetRandomPassword', ['*']],
  ['lambda:InvokeFunction', [FUNCTION]],
  ['states:StartExecution', [MACHINE]],
  ['states:DescribeExecution', [EXECUTION]],
  ['rds:DescribeDBInstances', [DB]],
  ['rds:ModifyDBInstance', [DB]],
  ['sns:Publish', [TOPIC]],
];

const ACTION_PATTERNS = [
  'secretsmanager:GetSecretValue',
  'SecretsManager:getsecretvalue',
  'secretsmanager:*',
  'secretsmanager:Get*',
  'secretsmanager:*Secret*',
  'secretsmanager:?utSecretValue',
  'secretsmanager:DeleteSecret',
  'secretsmanager:CreateSecret',
  'secretsmanager:TagResource',
  'secretsmanager:List*',
  'lambda:InvokeFunction',
  'lambda:*',
  'states:*',
  'states:StartExecution',
  'rds:Describe*',
  'rds:*',
  'sns:Publish',
  '*',
];

const RESOURCE_PATTERNS = [
  '*',
  SECRET,
  OTHER_SECRET,
  'arn:aws:secretsmanager:*:*:secret:credflow/*',
  `arn:aws:secretsmanager:us-east-1:${A}:secret:rds!*`,
  'arn:aws:secretsmanager:us-east-1:*:secret:credflow/app/alice-??????',
  'arn:aws:secretsmanager:*:*:secret:Credflow/*',
  'arn:aws:secretsmanager:*:*:secret:credflow/${aws:PrincipalTag/team}/*',
  "arn:aws:secretsmanager:*:*:secret:credflow/${aws:PrincipalTag/team, 'app'}/*",
  'arn:aws:secretsmanager:*:*:secret:credflow/app/${aws:username}-*',
  `arn:aws:lambda:us-east-1:${A}:function:credflow-*`,
  'arn:aws:states:*:*:stateMachine:*',
  'arn:aws:states:*:*:execution:credflow-dev-rotate-secret:*',
  `arn:aws:rds:us-east-1:${A}:db:*`,
  'arn:aws:sns:*:*:credflow-*',
];

/** The oracle decides a NotResource whose variable has no value segment by segment; AWS documents no rule. */
const NOT_RESOURCE_PATTERNS = RESOURCE_PATTERNS.filter((p) => !p.includes('${'));

/** Condition keys, their kind and the values requests and policies draw from. */
const KEYS: {
  key: string;
  kind: 'string' | 'multi' | 'arn' | 'bool' | 'numeric' | 'date' | 'ip';
  values: string[];
}[] = [
  { key: 'aws:ResourceTag/credflow:managed', kind: 'string', values: ['true', 'false', 'True'] },
  { key: 'aws:RequestTag/credflow:user', kind: 'string', values: ['alice', 'Alice', 'bob', 'app_clone'] },
  { key: 'aws:PrincipalTag/team', kind: 'string', values: ['app', 'ops', 'App'] },
  { key: 'aws:SourceAccount', kind: 'string', values: [A, B] },
  {
    key: 'aws:TagKeys',
    kind: 'multi',
    values: ['credflow:user', 'credflow:managed', 'Name', 'credflow:strategy', 'env'],
  },
  { key: 'aws:CalledVia', kind: 'multi', values: ['secretsmanager.amazonaws.com', 'rds.amazonaws.com'] },
  { key: 'aws:SourceArn', kind: 'arn', values: [SECRET, FUNCTION, MACHINE, OTHER_SECRET] },
  { key: 'aws:PrincipalArn', kind: 'arn', values: [ROLE, `arn:aws:iam::${A}:user/ops/alice`] },
  { key: 'aws:ViaAWSService', kind: 'bool', values: ['true', 'false'] },
  { key: 'aws:SecureTransport', kind: 'bool', values: ['true', 'false'] },
  { key: 'aws:MultiFactorAuthAge', kind: 'numeric', values: ['0', '300', '3600', '86400'] },
  {
    key: 'aws:CurrentTime',
    kind: 'date',
    values: ['2026-01-01T00:00:00Z', '2026-12-07T10:00:00Z', '2027-06-30T12:00:00Z'],
  },
  { key: 'aws:SourceIp', kind: 'ip', values: ['127.0.0.1', '10.1.2.3', '192.0.2.77', '2001:db8::1'] },
];

const OPERATORS: Record<string, string[]> = {
  string: [
    'StringEquals',
    'StringNotEquals',
    'StringEqualsIgnoreCase',
    'StringNotEqualsIgnoreCase',
    'StringLike',
    'StringNotLike',
    'StringEqualsIfExists',
    'StringNotEqualsIfExists',
    'StringLikeIfExists',
    'Null',
  ],
  multi: [
    'ForAnyValue:StringEquals',
    'ForAllValues:StringEquals',
    'ForAnyValue:StringLike',
    'ForAllValues:StringLike',
    'ForAnyValue:StringNotEquals',
    'ForAllValues:StringNotLike',
    'ForAllValues:StringEqualsIfExists',
    'ForAnyValue:StringEqualsIfExists',
    'StringEquals',
    'Null',
  ],
  arn: ['ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike', 'ArnLikeIfExists', 'StringLike', 'Null'],
  bool: ['Bool', 'BoolIfExists', 'Null'],
  numeric: [
    'NumericEquals',
    'NumericNotEquals',
    'NumericLessThan',
    'NumericLessThanEquals',
    'NumericGreaterThan',
    'NumericGreaterThanEquals',
    'NumericLessThanIfExists',
  ],
  date: ['DateEquals', 'DateNotEquals', 'DateLessThan', 'DateGreaterThan', 'DateGreaterThanEqualsIfExists'],
  ip: ['IpAddress', 'NotIpAddress', 'IpAddressIfExists'],
};

const POLICY_VALUES: Record<string, string[]> = {
  string: ['${aws:PrincipalTag/team}', "${aws:PrincipalTag/team, 'app'}", 'al*', '?lice', '*'],
  multi: ['credflow:*', '*'],
  arn: [
    'arn:aws:secretsmanager:*:*:secret:credflow/*',
    `arn:aws:lambda:us-east-1:${A}:function:*`,
    'arn:aws:states:us-east-1:*:stateMachine:credflow-*',
  ],
  numeric: ['0', '3600', '86400'],
  date: ['2026-06-01T00:00:00Z', '2026-12-07T10:00:00Z', '2027-06-30T12:00:00+00:00'],
  ip: [
    '127.0.0.0/8',
    '10.0.0.0/16',
    '192.0.2.77/32',
    '2001:db8::/32',
    '2001:db8::1/128',
    '0.0.0.0/1',
    '::/0',
  ],
};

function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const some = <T>(r: Rand, xs: readonly T[], max: number): T[] => {
  const n = 1 + Math.floor(r() * max);
  return [...new Set(Array.from({ length: n }, () => pick(r, xs)))];
};
const oneOrMany = <T>(xs: T[]): T | T[] => (xs.length === 1 ? (xs[0] as T) : xs);

function condition(r: Rand): Statement['Condition'] {
  const out: NonNullable<Statement['Condition']> = {};
  const n = Math.floor(r() * 3); // 0..2 operators
  for (let i = 0; i < n; i++) {
    const k = pick(r, KEYS);
    const op = pick(r, OPERATORS[k.kind] as string[]);
    let values: string[];
    if (op === 'Null') values = [pick(r, ['true', 'false'])];
    else if (k.kind === 'bool') values = [pick(r, ['true', 'false'])];
    else {
      // The oracle's NotIpAddress fails a request of one family against a bare address of the other.
      const own = k.kind === 'ip' ? [] : k.values;
      values = some(r, [...own, ...(POLICY_VALUES[k.kind] ?? [])], 2);
    }
    out[op] = { ...(out[op] ?? {}), [k.key]: oneOrMany(values) };
  }
  return n === 0 ? undefined : out;
}

function statement(r: Rand, resourcePolicy: boolean): Statement {
  const s: Statement = { Effect: r() < 0.7 ? 'Allow' : 'Deny' };
  if (r() < 0.3) s.Sid = `S${Math.floor(r() * 100)}`;
  const actions = oneOrMany(some(r, ACTION_PATTERNS, 2));
  if (r() < 0.85) s.Action = actions;
  else s.NotAction = actions;
  if (r() < 0.85) s.Resource = oneOrMany(some(r, RESOURCE_PATTERNS, 2));
  else s.NotResource = oneOrMany(some(r, NOT_RESOURCE_PATTERNS, 2));
  if (resourcePolicy) {
    s.Principal = pick(r, [
      '*' as const,
      { AWS: A },
      { AWS: `arn:aws:iam::${A}:root` },
      { AWS: ROLE },
      { AWS: PRINCIPALS[0]?.p.arn as string },
      { AWS: `arn:aws:iam::${A}:user/ops/alice` },
      { AWS: B },
      { AWS: `arn:aws:iam::${B}:user/bob` },
      { Service: 'secretsmanager.amazonaws.com' },
      { AWS: [ROLE, B] },
    ]);
  }
  const c = condition(r);
  if (c) s.Condition = c;
  return s;
}

function policy(r: Rand, name: string, resourcePolicy: boolean, allowBias = false): NamedPolicy {
  const statements = Array.from({ length: 1 + Math.floor(r() * 3) }, () => statement(r, resourcePolicy));
  if (allowBias) statements.push({ Effect: 'Allow', Action: '*', Resource: '*' });
  const document: PolicyDocument = {
    // iam-simulate substitutes variables whatever the Version; AWS only in 2012-10-17.
    Version: '2012-10-17',
    Statement: statements.length === 1 ? (statements[0] as Statement) : statements,
  };
  return { name, document };
}

function context(r: Rand, p: Principal): Record<string, string | string[]> {
  const ctx: Record<string, string | string[]> = {};
  // The keys AWS derives from the caller; iam-simulate wants them spelled out.
  if (p.kind !== 'service') {
    ctx['aws:PrincipalAccount'] = p.accountId;
    ctx['aws:PrincipalArn'] = p.roleArn ?? p.arn;
    ctx['aws:PrincipalType'] = p.kind === 'user' ? 'User' : 'AssumedRole';
    if (p.kind === 'user') ctx['aws:username'] = p.arn.slice(p.arn.lastIndexOf('/') + 1);
  }
  for (const k of KEYS) {
    if (k.key === 'aws:PrincipalArn' || r() < 0.5) continue;
    ctx[k.key] = k.kind === 'multi' ? some(r, k.values, 3) : pick(r, k.values);
  }
  return ctx;
}

const SEED = Number(process.env['IAM_DIFF_SEED'] ?? 20261207);
const CASES = Number(process.env['IAM_DIFF_CASES'] ?? 2000);

describe('evaluator vs iam-simulate (differential, AGPL oracle at test time only)', () => {
  it(`agrees on ${CASES} random policy sets and requests over credflow's actions and condition keys (seed ${SEED})`, async () => {
    const r = prng(SEED);
    const disagreements: string[] = [];
    const tally = { Allowed: 0, ExplicitlyDenied: 0, ImplicitlyDenied: 0 };
    for (let i = 0; i < CASES; i++) {
      const totalWeight = PRINCIPALS.reduce((n, x) => n + x.weight, 0);
      let w = r() * totalWeight;
      let principal = PRINCIPALS[0]?.p as Principal;
      for (const x of PRINCIPALS) {
        w -= x.weight;
        if (w < 0) {
          principal = x.p;
          break;
        }
      }
      const [action, resources] = pick(r, REQUESTS);
      const resource = pick(r, resources);
      const isService = principal.kind === 'service';
      const identity = isService
        ? []
        : Array.from({ length: 1 + Math.floor(r() * 2) }, (_, j) => policy(r, `id${j}`, false, r() < 0.15));
      const resourcePolicy = isService || r() < 0.35 ? policy(r, 'resource', true) : undefined;
      const boundary = !isService && r() < 0.2 ? [policy(r, 'boundary', false, r() < 0.3)] : undefined;
      const ctx = context(r, principal);

      const mine = authorize(
        { principal, action, resource, context: ctx },
        compilePolicySet({
          identity,
          ...(resourcePolicy ? { resource: resourcePolicy } : {}),
          ...(boundary ? { boundary } : {}),
        }),
      );
      const sim = await runSimulation(
        {
          request: {
            principal: principal.arn,
            action,
            // An action without a resource type acts in the caller's own account.
            resource: { resource, accountId: resource === '*' ? principal.accountId || A : A },
            contextVariables: ctx,
          },
          identityPolicies: identity.map((p) => ({ name: p.name, policy: p.document })),
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          resourcePolicy: resourcePolicy?.document,
          ...(boundary
            ? { permissionBoundaryPolicies: boundary.map((p) => ({ name: p.name, policy: p.document })) }
            : {}),
        },
        {},
      );
      if (sim.resultType === 'error')
        throw new Error(`case ${i}: iam-simulate refused the input: ${JSON.stringify(sim.errors)}`);
      const theirs = sim.overallResult as keyof typeof tally;
      tally[theirs]++;
      const ours =
        mine.kind === 'allow'
          ? 'Allowed'
          : mine.kind === 'explicit-deny'
            ? 'ExplicitlyDenied'
            : 'ImplicitlyDenied';
      if (ours !== theirs)
        disagreements.push(
          `case ${i}: ours ${ours}, iam-simulate ${theirs}\n${JSON.stringify({ principal: principal.arn, action, resource, ctx, identity, resourcePolicy, boundary })}`,
        );
    }
    if (process.env['IAM_DIFF_TALLY']) console.log(tally);
    if (process.env['IAM_DIFF_DUMP'])
      require('node:fs').writeFileSync(process.env['IAM_DIFF_DUMP'], disagreements.join('\n'));
    // Both outcomes must be well represented, or the comparison proves little.
    expect(tally.Allowed).toBeGreaterThan(CASES / 10);
    expect(tally.ExplicitlyDenied).toBeGreaterThan(CASES / 40);
    expect(tally.ImplicitlyDenied).toBeGreaterThan(CASES / 10);
    expect(disagreements.slice(0, 3)).toEqual([]);
    expect(disagreements.length).toBe(0);
  });
});
