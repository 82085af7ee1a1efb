// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${...} in plain strings
/**
 * The IAM evaluator on its own: µs per authorize call for the shapes of request the local cloud's
 * gate decides (an allowed call under tag conditions, an implicit deny, an explicit deny by the
 * binding-tag policy, a service principal through a resource policy), policies compiled once, and
 * the same calls answered from the decision cache. Run alone with `npm run bench -- iam`.
 */
import {
  type AuthzRequest,
  authorize,
  type CompiledPolicySet,
  compilePolicySet,
  DecisionCache,
  type NamedPolicy,
  type PolicySet,
  type Principal,
} from '../local/iam';

const ACCT = '000000000000';
const REGION = 'us-east-1';
const ROLE = `arn:aws:iam::${ACCT}:role/credflow-dev-RotationFunctionRole`;
const SESSION: Principal = {
  arn: `arn:aws:sts::${ACCT}:assumed-role/credflow-dev-RotationFunctionRole/credflow-dev-createSecret`,
  accountId: ACCT,
  kind: 'assumed-role',
  roleArn: ROLE,
};
const SECRET = `arn:aws:secretsmanager:${REGION}:${ACCT}:secret:credflow/app/orders-AbCdEf`;
const FUNCTION = `arn:aws:lambda:${REGION}:${ACCT}:function:credflow-dev-rotationLambda`;

/** A role shaped like credflow's rotation role: an inline policy, a managed policy, the binding-tag Deny. */
const ROLE_POLICIES: NamedPolicy[] = [
  {
    name: 'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: '*',
        },
      ],
    },
  },
  {
    name: 'RotationFunctionRole/inline/credflow',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: [
            'secretsmanager:DescribeSecret',
            'secretsmanager:GetSecretValue',
            'secretsmanager:PutSecretValue',
            'secretsmanager:UpdateSecretVersionStage',
          ],
          Resource: `arn:aws:secretsmanager:${REGION}:${ACCT}:secret:credflow/*`,
          Condition: { StringEquals: { 'aws:ResourceTag/credflow:managed': 'true' } },
        },
        { Effect: 'Allow', Action: 'secretsmanager:GetRandomPassword', Resource: '*' },
        {
          Effect: 'Allow',
          Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
          Resource: `arn:aws:secretsmanager:${REGION}:${ACCT}:secret:rds!*`,
        },
        {
          Effect: 'Allow',
          Action: ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'],
          Resource: [`arn:aws:rds:${REGION}:${ACCT}:db:*`, `arn:aws:rds:${REGION}:${ACCT}:cluster:*`],
        },
        {
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: `arn:aws:kms:${REGION}:${ACCT}:key/*`,
          Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` } },
        },
        {
          Effect: 'Allow',
          Action: 'events:PutEvents',
          Resource: `arn:aws:events:${REGION}:${ACCT}:event-bus/default`,
        },
        {
          Effect: 'Allow',
          Action: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DeleteNetworkInterface',
          ],
          Resource: '*',
        },
      ],
    },
  },
  {
    name: `arn:aws:iam::${ACCT}:policy/ProtectCredflowBindingTagsPolicy`,
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Deny',
          Action: [
            'secretsmanager:CreateSecret',
            'secretsmanager:TagResource',
            'secretsmanager:UntagResource',
          ],
          Resource: '*',
          Condition: {
            'ForAnyValue:StringEquals': {
              'aws:TagKeys': ['credflow:user', 'credflow:db', 'credflow:strategy', 'credflow:managed'],
            },
          },
        },
      ],
    },
  },
];

const FUNCTION_POLICY: NamedPolicy = {
  name: 'credflow-dev-rotationLambda/policy',
  document: {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'RotationLambdaInvokePermission',
        Effect: 'Allow',
        Principal: { Service: 'secretsmanager.amazonaws.com' },
        Action: 'lambda:InvokeFunction',
        Resource: FUNCTION,
        Condition: { StringEquals: { 'AWS:SourceAccount': ACCT } },
      },
    ],
  },
};

interface Case {
  name: string;
  request: AuthzRequest;
  set: CompiledPolicySet;
  expect: 'allow' | 'implicit-deny' | 'explicit-deny';
}

/** CPU µs per call (user + system): on a shared machine wall time mostly measures the neighbours. */
function timeIt(n: number, fn: () => void): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / n;
}

export function benchIam(calls: number): void {
  const rolePolicies: PolicySet = { identity: ROLE_POLICIES };
  const compileUs = timeIt(Math.max(1, Math.floor(calls / 100)), () => compilePolicySet(rolePolicies));
  const roleSet = compilePolicySet(rolePolicies);
  const functionSet = compilePolicySet({ identity: [], resource: FUNCTION_POLICY });
  const tags = { 'aws:ResourceTag/credflow:managed': 'true', 'aws:ResourceTag/credflow:user': 'orders' };
  const cases: Case[] = [
    {
      name: 'allowed: GetSecretValue under a tag condition',
      request: {
        principal: SESSION,
        action: 'secretsmanager:GetSecretValue',
        resource: SECRET,
        context: tags,
      },
      set: roleSet,
      expect: 'allow',
    },
    {
      name: 'implicit deny: DeleteSecret',
      request: { principal: SESSION, action: 'secretsmanager:DeleteSecret', resource: SECRET, context: tags },
      set: roleSet,
      expect: 'implicit-deny',
    },
    {
      name: 'explicit deny: TagResource with a credflow:* key',
      request: {
        principal: SESSION,
        action: 'secretsmanager:TagResource',
        resource: SECRET,
        context: { ...tags, 'aws:TagKeys': ['credflow:user'] },
      },
      set: roleSet,
      expect: 'explicit-deny',
    },
    {
      name: 'service principal: Secrets Manager invokes the rotation function',
      request: {
        principal: {
          arn: 'secretsmanager.amazonaws.com',
          accountId: '',
          kind: 'service',
          service: 'secretsmanager.amazonaws.com',
        },
        action: 'lambda:InvokeFunction',
        resource: FUNCTION,
        context: { 'aws:SourceAccount': ACCT, 'aws:SourceArn': SECRET },
      },
      set: functionSet,
      expect: 'allow',
    },
  ];
  console.log(`\n## IAM evaluator: CPU µs per call (${calls} calls each; policies compiled once)\n`);
  console.log(`Compiling the role's 3 policies (11 statements): ${compileUs.toFixed(1)} µs\n`);
  console.log('| request | decision | authorize µs | cached µs |');
  console.log('|---|---|---|---|');
  for (const c of cases) {
    const d = authorize(c.request, c.set);
    if (d.kind !== c.expect) throw new Error(`${c.name}: expected ${c.expect}, got ${d.kind}: ${d.message}`);
    timeIt(Math.min(calls, 5000), () => authorize(c.request, c.set)); // warm up the JIT
    const us = timeIt(calls, () => authorize(c.request, c.set));
    const cache = new DecisionCache();
    cache.authorize(c.request, c.set);
    const cachedUs = timeIt(calls, () => cache.authorize(c.request, c.set));
    console.log(`| ${c.name} | ${d.kind} | ${us.toFixed(2)} | ${cachedUs.toFixed(2)} |`);
  }
}
