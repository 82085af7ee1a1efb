import { byUrgency, executionSubject, sameSecret, secretStatusOf } from '../../../../src/lifecycle/status';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:credflow/shop-db/app-AbC123';

describe('one status per secret, most urgent first', () => {
  it('a broken secret is broken, even while a rotation runs, and sorts first', () => {
    const broken = secretStatusOf({
      Name: 'credflow/shop-db/z',
      Tags: [{ Key: 'credflow:rotation-status', Value: 'broken' }],
      SecretVersionsToStages: { a: ['AWSCURRENT'], b: ['AWSPENDING'] },
    });
    expect(broken).toBe('broken');
    const rows = [
      { name: 'a', status: 'ok' },
      { name: 'b', status: 'rolled-back' },
      { name: 'z', status: broken },
      { name: 'c', status: 'due' },
    ];
    expect(rows.sort(byUrgency).map((r) => r.status)).toEqual(['broken', 'due', 'rolled-back', 'ok']);
  });

  it('rolled-back stays apart from broken; with no tag a secret is due once its next rotation passed', () => {
    const tag = (v: string) => [{ Key: 'credflow:rotation-status', Value: v }];
    expect(secretStatusOf({ Tags: tag('rolled-back') })).toBe('rolled-back');
    // A finished rotation writes ok: it is no status of its own, the schedule decides (due or ok).
    expect(secretStatusOf({ Tags: tag('ok'), NextRotationDate: new Date(0) })).toBe('due');
    const now = Date.parse('2026-12-07T00:00:00Z');
    expect(secretStatusOf({ NextRotationDate: new Date(now - 1000) }, now)).toBe('due');
    expect(secretStatusOf({ CreatedDate: new Date(now - 31 * 86_400_000) }, now)).toBe('due');
    expect(secretStatusOf({ CreatedDate: new Date(now - 29 * 86_400_000) }, now)).toBe('ok');
    expect(secretStatusOf({ DeletedDate: new Date(now), Tags: tag('broken') }, now)).toBe(
      'scheduled-for-deletion',
    );
  });
});

describe('what an execution was for', () => {
  it.each([
    ['a rotation', { secretId: ARN }, ARN],
    ['a user', { dbIdentifier: 'shop-db', username: 'app' }, 'shop-db/app'],
    ['a database', { identifier: 'shop-db', skipFinalSnapshot: true }, 'shop-db'],
    ['a fleet', { tag: { key: 'credflow:managed', value: 'true' } }, 'tag credflow:managed=true'],
    [
      'a repair started by a failed rotation',
      { source: 'aws.states', detail: { status: 'FAILED', input: JSON.stringify({ secretId: ARN }) } },
      ARN,
    ],
    [
      'a repair started by Secrets Manager',
      { source: 'aws.secretsmanager', detail: { additionalEventData: { SecretId: ARN } } },
      ARN,
    ],
    ['nothing named', { olderThanMinutes: 0 }, undefined],
  ])('%s', (_label, input, expected) => {
    expect(executionSubject(JSON.stringify(input))).toBe(expected);
  });

  it('matches a secret by name or ARN', () => {
    expect(sameSecret(ARN, 'credflow/shop-db/app')).toBe(true);
    expect(sameSecret('credflow/shop-db/app', ARN)).toBe(true);
    expect(sameSecret(ARN, 'credflow/shop-db/ap')).toBe(false);
  });
});
