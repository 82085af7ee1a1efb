import { ValidationError } from '../../../../src/errors';
import { parseTallyInput, tallyReconcilePage } from '../../../../src/lifecycle/reconcile';

const tally = (input: unknown) => tallyReconcilePage(parseTallyInput(input));

import { parseFailureEvent } from '../../../../src/lifecycle/repair';

const page = (over: Record<string, unknown> = {}) => ({
  olderThanMinutes: 30,
  pageSize: 100,
  scanned: 10,
  stalled: [],
  onRotationFailureArn: 'arn:aws:states:us-east-1:0:stateMachine:repair',
  alertTopicArn: 'arn:aws:sns:us-east-1:0:alerts',
  ...over,
});
const repaired = (name: string, outcome: string, severity = 'warning') => ({
  secretId: `arn:${name}`,
  name,
  status: 'SUCCEEDED',
  outcome,
  severity,
});

describe('reconcile-rotations tally', () => {
  it('counts outcomes across pages and carries only counts and a bounded list', () => {
    const first = tally({
      page: page({ nextToken: 'p2' }),
      repairs: [
        repaired('credflow/db/a', 'rolled-forward'),
        repaired('credflow/db/b', 'rolled-back', 'critical'),
        { secretId: 'arn:c', name: 'credflow/db/c', error: 'States.TaskFailed' },
      ],
    });
    expect(first).toMatchObject({ olderThanMinutes: 30, pageSize: 100, nextToken: 'p2' });
    const many = Array.from({ length: 30 }, (_, i) =>
      repaired(`credflow/db/n${i}`, 'nothing-to-repair', 'info'),
    );
    const second = tally({ ...first, page: page({ scanned: 40 }), repairs: many });
    expect(second.nextToken).toBeUndefined();
    expect(second.totals).toMatchObject({
      scanned: 50,
      stalled: 33,
      rolledForward: 1,
      rolledBack: 1,
      nothingToRepair: 30,
      failed: 1,
      critical: 1,
      omitted: 13,
      alertTopicArn: 'arn:aws:sns:us-east-1:0:alerts',
    });
    expect(second.totals.lines).toHaveLength(20);
    expect(second.totals.message).toContain('33 had an AWSPENDING older than 30 minute(s)');
    expect(second.totals.message).toContain(
      'credflow/db/b: rolled-back - ACTION NEEDED: AWSCURRENT does not log in',
    );
    expect(second.totals.message).toContain('credflow/db/c: repair failed (States.TaskFailed)');
    expect(second.totals.message).toContain('(and 13 more)');
  });

  it('refuses a page it cannot read', () => {
    expect(() => tally({ page: page(), repairs: 'all of them' })).toThrow(ValidationError);
    expect(() =>
      tally({
        page: page(),
        repairs: Array.from({ length: 101 }, () => repaired('x', 'rolled-back')),
      }),
    ).toThrow(ValidationError);
  });
});

describe('on-rotation-failure asked by name', () => {
  it('takes the version and the reason the reconciler gives', () => {
    const token = 'a'.repeat(36);
    expect(parseFailureEvent({ secretId: 's', token, reason: 'stalled' })).toEqual({
      secretId: 's',
      token,
      reason: 'stalled',
    });
    expect(parseFailureEvent({ secretId: 's' })).toEqual({ secretId: 's', reason: 'repair requested' });
    expect(() => parseFailureEvent({ secretId: 's', token: 'short' })).toThrow(ValidationError);
  });
});
