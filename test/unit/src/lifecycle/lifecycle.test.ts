import { ValidationError } from '../../../../src/errors';
import { kindOf, provisionInput, writerOf } from '../../../../src/lifecycle/database';
import { classifyDeletion, parseDeletionCase, parseDeletionEvent } from '../../../../src/lifecycle/deletion';
import { parseFailureEvent } from '../../../../src/lifecycle/repair';
import { userSecretName } from '../../../../src/lifecycle/users';
import { tokenFromExecutionName } from '../../../../src/rotation/input';
import { grantsFingerprint } from '../../../../src/rotation/strategies';
import { executionFailed, smRotationFailed } from '../../../support/aws-events';

describe('on-rotation-failure event parsing', () => {
  it('reads the secret of a Secrets Manager RotationFailed event', () => {
    expect(parseFailureEvent(smRotationFailed)).toEqual({
      secretId: smRotationFailed.detail.additionalEventData.SecretId,
      reason: 'Secrets Manager reported RotationFailed',
    });
  });

  it('reads the secret and the rotation token of a failed rotate-secret execution', () => {
    const r = parseFailureEvent(executionFailed('AuthenticationError'));
    expect(r.secretId).toBe('credflow/db/app');
    expect(r.token).toBe(tokenFromExecutionName('credflow/db/app', 'run-1'));
    expect(r.reason).toContain('AuthenticationError');
  });

  it('refuses an event that names no secret', () => {
    expect(() =>
      parseFailureEvent({ source: 'aws.states', detail: { status: 'FAILED', input: '{}' } }),
    ).toThrow(ValidationError);
    expect(() => parseFailureEvent('nonsense')).toThrow(ValidationError);
  });
});

describe('on-deletion classification', () => {
  it('tells a deleted database from a deleted secret from anything else', () => {
    const classify = (event: unknown, alertTopicArn?: string) =>
      classifyDeletion(alertTopicArn ? { alertTopicArn } : {}, parseDeletionEvent(event));
    expect(
      classify({
        source: 'aws.rds',
        'detail-type': 'RDS DB Instance Event',
        detail: { EventID: 'RDS-EVENT-0003', SourceIdentifier: 'db1' },
      }),
    ).toEqual({ kind: 'database-deleted', identifier: 'db1' });
    expect(
      classify(
        {
          source: 'aws.secretsmanager',
          'detail-type': 'AWS API Call via CloudTrail',
          detail: { eventName: 'DeleteSecret', requestParameters: { secretId: 's1' } },
        },
        'arn:topic',
      ),
    ).toEqual({ kind: 'secret-deleted', secretId: 's1', alertTopicArn: 'arn:topic' });
    expect(classify({ source: 'aws.rds', detail: {} })).toEqual({ kind: 'ignored' });
  });

  it('rejects a case without what it is about', () => {
    expect(() => parseDeletionCase({ kind: 'database-deleted' })).toThrow(ValidationError);
    expect(() => parseDeletionCase({ kind: 'exploded' })).toThrow(ValidationError);
  });
});

describe('provisioning input', () => {
  it('applies defaults and tells instances from clusters', () => {
    const v = provisionInput.parse({ identifier: 'db-1', engine: 'postgres' });
    expect(v).toMatchObject({ dbName: 'appdb', masterUsername: 'dbadmin', deletionProtection: false });
    expect(kindOf('aurora-postgresql')).toBe('cluster');
    expect(kindOf('mysql')).toBe('instance');
    expect(writerOf('c'.repeat(63))).toHaveLength(63);
  });

  it.each([
    ['1db', 'postgres'],
    ['db--1', 'postgres'],
    ['db-', 'postgres'],
    ['db_1', 'postgres'],
    ['d'.repeat(64), 'postgres'],
    ['db1', 'oracle-ee'],
  ])('rejects identifier %s / engine %s', (identifier, engine) => {
    expect(provisionInput.safeParse({ identifier, engine }).success).toBe(false);
  });

  it('asks for a private database unless told, and takes a subnet group and security groups', () => {
    const v = provisionInput.parse({
      identifier: 'db-1',
      engine: 'postgres',
      dbSubnetGroupName: 'credflow private',
      vpcSecurityGroupIds: ['sg-0123456789abcdef0'],
    });
    expect(v).toMatchObject({
      publiclyAccessible: false,
      dbSubnetGroupName: 'credflow private',
      vpcSecurityGroupIds: ['sg-0123456789abcdef0'],
    });
    expect(
      provisionInput.parse({ identifier: 'db-1', engine: 'mysql', publiclyAccessible: true }),
    ).toMatchObject({ publiclyAccessible: true });
  });

  it.each([
    ['a security group that is not an id', { vpcSecurityGroupIds: ['default'] }],
    ['an empty security group list', { vpcSecurityGroupIds: [] }],
    ['six security groups', { vpcSecurityGroupIds: Array(6).fill('sg-0123456789abcdef0') }],
    ['a subnet group with a slash', { dbSubnetGroupName: 'a/b' }],
    ['publiclyAccessible as a string', { publiclyAccessible: 'false' }],
  ])('rejects %s', (_label, extra) => {
    expect(provisionInput.safeParse({ identifier: 'db-1', engine: 'postgres', ...extra }).success).toBe(
      false,
    );
  });
});

describe('user secrets', () => {
  it('names a secret after the database and user, keeping distinct users distinct', () => {
    expect(userSecretName('db1', 'app')).toBe('credflow/db1/app');
    const a = userSecretName('db1', "o'brien");
    const b = userSecretName('db1', 'o"brien');
    expect(a).toMatch(/^credflow\/db1\/o-brien-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
  });

  it('fingerprints grants by content and order', () => {
    expect(grantsFingerprint(['a', 'b'])).toBe(grantsFingerprint(['a', 'b']));
    expect(grantsFingerprint(['a', 'b'])).not.toBe(grantsFingerprint(['a', 'c']));
  });
});
