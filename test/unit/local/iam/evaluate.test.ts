import {
  actionExists,
  authorize,
  compilePolicySet,
  type PolicyDocument,
  type PolicySet,
  type Principal,
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
const SECRET = `arn:aws:secretsmanager:us-east-1:${ACCT}:secret:credflow/app-AbCdEf`;

const doc = (...Statement: PolicyDocument['Statement'][]): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: Statement.flat(),
});

function decide(
  set: Partial<PolicySet> & { identity?: PolicySet['identity'] },
  action: string,
  resource: string,
  context: Record<string, string | string[] | boolean | number | undefined> = {},
  principal: Principal = SESSION,
) {
  return authorize({ principal, action, resource, context }, compilePolicySet({ identity: [], ...set }));
}

describe('IAM policy evaluation: the request pipeline of one account', () => {
  it('denies implicitly with AWS message when no identity-based policy allows', () => {
    const d = decide({}, 'secretsmanager:GetSecretValue', SECRET);
    expect(d).toMatchObject({ allowed: false, kind: 'implicit-deny' });
    expect(d.message).toBe(
      `User: ${SESSION.arn} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${SECRET} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
    );
  });

  it('an explicit Deny wins over an Allow', () => {
    const d = decide(
      {
        identity: [
          {
            name: 'RotationFunctionRole/inline/p',
            document: doc(
              { Effect: 'Allow', Action: 'secretsmanager:*', Resource: '*' },
              { Sid: 'NoDelete', Effect: 'Deny', Action: 'secretsmanager:DeleteSecret', Resource: '*' },
            ),
          },
        ],
      },
      'secretsmanager:DeleteSecret',
      SECRET,
    );
    expect(d).toMatchObject({
      allowed: false,
      kind: 'explicit-deny',
      by: { policy: 'RotationFunctionRole/inline/p', sid: 'NoDelete', statement: 1 },
    });
    expect(d.message).toMatch(/with an explicit deny in an identity-based policy$/);
  });

  it('knows the actions of the Service Authorization Reference', () => {
    expect(actionExists('secretsmanager:GetSecretValue')).toBe(true);
    expect(actionExists('secretsmanager:GetSecretValues')).toBe(false);
  });

  it('a cross-account call needs the resource policy too', () => {
    const other: Principal = { arn: `arn:aws:iam::${OTHER}:user/bob`, accountId: OTHER, kind: 'user' };
    const identity = [{ name: 'bob', document: doc({ Effect: 'Allow', Action: '*', Resource: '*' }) }];
    expect(decide({ identity }, 'secretsmanager:GetSecretValue', SECRET, {}, other).message).toMatch(
      /because no resource-based policy allows the secretsmanager:GetSecretValue action$/,
    );
  });
});
