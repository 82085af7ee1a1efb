import {
  nextRotationDate,
  parseRotationRules,
  rotationWindow,
} from '../../../../local/secretsmanager/rotation-rules';

const at = (iso: string) => new Date(iso);
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'no error';
};

describe('rotation schedules', () => {
  it('AutomaticallyAfterDays and rate(N days): the UTC day N days on, ending 23:59:59', () => {
    expect(nextRotationDate({ AutomaticallyAfterDays: 30 }, at('2024-01-10T15:30:00Z')).toISOString()).toBe(
      '2024-02-09T23:59:59.000Z',
    );
    expect(
      nextRotationDate({ ScheduleExpression: 'rate(10 days)' }, at('2024-01-10T15:30:00Z')).toISOString(),
    ).toBe('2024-01-20T23:59:59.000Z');
    expect(
      rotationWindow(
        { ScheduleExpression: 'rate(1 day)', Duration: '3h' },
        at('2024-01-10T15:30:00Z'),
      ).end.toISOString(),
    ).toBe('2024-01-11T02:59:59.000Z');
  });

  it('rate(N hours)', () => {
    expect(
      rotationWindow({ ScheduleExpression: 'rate(6 hours)' }, at('2024-01-10T15:30:00Z')).start.toISOString(),
    ).toBe('2024-01-10T21:30:00.000Z');
  });

  it('cron: the next match, for Duration or to the end of its day', () => {
    const w = rotationWindow(
      { ScheduleExpression: 'cron(0 16 1,15 * ? *)', Duration: '2h' },
      at('2024-03-05T00:00:00Z'),
    );
    expect(w.start.toISOString()).toBe('2024-03-15T16:00:00.000Z');
    expect(w.end.toISOString()).toBe('2024-03-15T17:59:59.000Z');
    expect(
      nextRotationDate(
        { ScheduleExpression: 'cron(0 8 ? * MON *)' },
        at('2024-03-05T09:00:00Z'),
      ).toISOString(),
    ).toBe('2024-03-11T23:59:59.000Z');
  });

  it('cron: L, W, # and ranges', () => {
    const start = (expr: string, from: string) =>
      rotationWindow({ ScheduleExpression: expr }, at(from)).start.toISOString();
    expect(start('cron(0 0 L * ? *)', '2024-02-03T00:00:00Z')).toBe('2024-02-29T00:00:00.000Z');
    expect(start('cron(0 0 ? * 6L *)', '2024-02-03T00:00:00Z')).toBe('2024-02-23T00:00:00.000Z');
    expect(start('cron(30 4 ? * 2#1 *)', '2024-02-03T00:00:00Z')).toBe('2024-02-05T04:30:00.000Z');
    // 2024-06-15 is a Saturday: 15W fires on Friday the 14th.
    expect(start('cron(0 12 15W * ? *)', '2024-06-01T00:00:00Z')).toBe('2024-06-14T12:00:00.000Z');
    expect(start('cron(0 9-17/4 ? * MON-FRI 2030)', '2024-06-01T00:00:00Z')).toBe('2030-01-01T09:00:00.000Z');
  });

  it('refuses what RotateSecret refuses', () => {
    for (const rules of [
      { AutomaticallyAfterDays: 5, ScheduleExpression: 'rate(5 days)' },
      { ScheduleExpression: 'rate(3 hours)' },
      { ScheduleExpression: 'rate(5 weeks)' },
      { ScheduleExpression: 'cron(0 16 * * *)' },
      { ScheduleExpression: 'cron(0 16 * * * *)' },
      { ScheduleExpression: 'cron(0 25 ? * * *)' },
      { AutomaticallyAfterDays: 1001 },
      { AutomaticallyAfterDays: 5, Duration: '0h' },
      { AutomaticallyAfterDays: 5, Duration: '3 hours' },
      {},
    ]) {
      expect(codeOf(() => parseRotationRules(rules))).toBe('InvalidParameterException');
    }
  });
});
