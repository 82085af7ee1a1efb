import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadCatalog } from '../../../local/catalog';
import { matchesPattern, validatePattern } from '../../../local/eventbridge/pattern';
import { executionFailed, smRotationFailed } from '../../support/aws-events';

const root = path.resolve(__dirname, '../../..');
/** A rule's pattern as the stage `stage` deploys it (serverless variables resolved by the catalog). */
const pattern = (file: string, stage = 'local') => {
  const rule = loadCatalog(root, stage)
    .stateMachines.flatMap((m) => m.rules)
    .find((r) => r.kind === 'pattern' && r.file === path.join(root, 'events', file));
  return rule?.kind === 'pattern'
    ? rule.pattern
    : JSON.parse(readFileSync(path.join(root, 'events', file), 'utf8'));
};

describe('rules (events/*.json)', () => {
  it.each([
    'rotation-failed.json',
    'rotate-secret-execution-failed.json',
    'secret-deleted.json',
    'database-deleted.json',
  ])('%s is a valid event pattern', (f) => expect(() => validatePattern(pattern(f))).not.toThrow());

  it('rotation-failed matches Secrets Manager RotationFailed and not RotationSucceeded', () => {
    const p = pattern('rotation-failed.json');
    expect(matchesPattern(p, smRotationFailed)).toBe(true);
    const ok = {
      ...smRotationFailed,
      detail: { ...smRotationFailed.detail, eventName: 'RotationSucceeded' },
    };
    expect(matchesPattern(p, ok)).toBe(false);
    // Another application's secret is not credflow's to repair (its role could not even read it).
    const theirs = {
      ...smRotationFailed,
      detail: {
        ...smRotationFailed.detail,
        additionalEventData: { SecretId: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf' },
      },
    };
    expect(matchesPattern(p, theirs)).toBe(false);
  });

  it("secret-deleted matches DeleteSecret of credflow's secrets only", () => {
    const p = pattern('secret-deleted.json');
    const deleted = (name: string) => ({
      ...smRotationFailed,
      'detail-type': 'AWS API Call via CloudTrail',
      detail: {
        eventSource: 'secretsmanager.amazonaws.com',
        eventName: 'DeleteSecret',
        requestParameters: { secretId: name },
        responseElements: {
          name,
          arn: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-AbCdEf`,
        },
      },
    });
    expect(matchesPattern(p, deleted('credflow/app/orders'))).toBe(true);
    expect(matchesPattern(p, deleted('app/orders'))).toBe(false);
  });

  it('rotate-secret-execution-failed ignores "rotation in progress" losers, so the repair never undoes a running rotation', () => {
    const p = pattern('rotate-secret-execution-failed.json');
    expect(matchesPattern(p, executionFailed('AuthenticationError'))).toBe(true);
    expect(matchesPattern(p, executionFailed('States.Timeout', 'TIMED_OUT'))).toBe(true);
    expect(matchesPattern(p, executionFailed(undefined, 'ABORTED'))).toBe(true);
    expect(matchesPattern(p, executionFailed('RotationInProgressError'))).toBe(false);
    expect(matchesPattern(p, executionFailed(undefined, 'SUCCEEDED'))).toBe(false);
    const other = executionFailed('AuthenticationError');
    other.detail.stateMachineArn =
      'arn:aws:states:us-east-1:000000000000:stateMachine:credflow-local-rotate-fleet';
    expect(matchesPattern(p, other)).toBe(false);
    // Another stage's rotate-secret in the same account is that stage's to repair.
    const staging = executionFailed('AuthenticationError');
    staging.detail.stateMachineArn =
      'arn:aws:states:us-east-1:000000000000:stateMachine:credflow-staging-rotate-secret';
    expect(matchesPattern(p, staging)).toBe(false);
    expect(matchesPattern(pattern('rotate-secret-execution-failed.json', 'staging'), staging)).toBe(true);
  });

  it.each([
    ['aws-cn', 'cn-north-1'],
    ['aws-us-gov', 'us-gov-west-1'],
    ['aws', 'eu-west-1'],
  ])('the ARN-matching rules match in the %s partition (%s) too', (partition, region) => {
    const failed = executionFailed('AuthenticationError');
    failed.region = region;
    failed.detail.stateMachineArn = `arn:${partition}:states:${region}:000000000000:stateMachine:credflow-prod-rotate-secret`;
    expect(matchesPattern(pattern('rotate-secret-execution-failed.json', 'prod'), failed)).toBe(true);
    failed.detail.stateMachineArn = `arn:${partition}:states:${region}:000000000000:stateMachine:credflow-prod-rotate-fleet`;
    expect(matchesPattern(pattern('rotate-secret-execution-failed.json', 'prod'), failed)).toBe(false);
    const secret = (name: string) => ({
      ...smRotationFailed,
      region,
      detail: {
        ...smRotationFailed.detail,
        additionalEventData: {
          SecretId: `arn:${partition}:secretsmanager:${region}:000000000000:secret:${name}`,
        },
      },
    });
    expect(matchesPattern(pattern('rotation-failed.json'), secret('credflow/app-AbCdEf'))).toBe(true);
    expect(matchesPattern(pattern('rotation-failed.json'), secret('app-AbCdEf'))).toBe(false);
  });

  it('database-deleted matches RDS-EVENT-0003 and RDS-EVENT-0171 only', () => {
    const p = pattern('database-deleted.json');
    const ev = (type: string, id: string) => ({
      source: 'aws.rds',
      'detail-type': type,
      detail: { EventID: id, SourceIdentifier: 'db1' },
    });
    expect(matchesPattern(p, ev('RDS DB Instance Event', 'RDS-EVENT-0003'))).toBe(true);
    expect(matchesPattern(p, ev('RDS DB Cluster Event', 'RDS-EVENT-0171'))).toBe(true);
    expect(matchesPattern(p, ev('RDS DB Instance Event', 'RDS-EVENT-0005'))).toBe(false);
  });
});
