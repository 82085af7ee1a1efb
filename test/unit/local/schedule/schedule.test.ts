import { nextCronTime, parseCron } from '../../../../local/schedule/cron';
import { ScheduleExpressionError } from '../../../../local/schedule/errors';
import { parseRate } from '../../../../local/schedule/rate';

describe('the schedule expressions EventBridge and Secrets Manager share', () => {
  it('reads rate(N unit) with its unit, number and spelling', () => {
    expect(parseRate('rate(5 minutes)')).toEqual({ value: 5, unit: 'minute', plural: true, strict: true });
    expect(parseRate('rate(1 day)')).toEqual({ value: 1, unit: 'day', plural: false, strict: true });
    // Secrets Manager tolerates spaces inside the parentheses; EventBridge wants the strict form.
    expect(parseRate('rate( 6  hours )')).toEqual({ value: 6, unit: 'hour', plural: true, strict: false });
    expect(parseRate('rate(5 weeks)')).toBeUndefined();
    expect(parseRate('cron(0 12 * * ? *)')).toBeUndefined();
  });

  it('finds the next minute a cron matches, in UTC', () => {
    const from = new Date('2026-01-01T00:00:00Z');
    const at = (body: string) => new Date(nextCronTime(parseCron(body, `cron(${body})`), from)).toISOString();
    expect(at('0 12 * * ? *')).toBe('2026-01-01T12:00:00.000Z');
    expect(at('15 10 ? * MON *')).toBe('2026-01-05T10:15:00.000Z');
    expect(at('0 0 L * ? *')).toBe('2026-01-31T00:00:00.000Z');
    expect(at('0 9 ? * 6#3 *')).toBe('2026-01-16T09:00:00.000Z');
  });

  it('refuses what it cannot read with a ScheduleExpressionError naming the expression', () => {
    expect(() => parseCron('0 12 * * * *', 'cron(0 12 * * * *)')).toThrow(ScheduleExpressionError);
    expect(() => parseCron('0 12 * *', 'cron(0 12 * *)')).toThrow(/cron\(0 12 \* \*\): cron needs 6 fields/);
    const never = parseCron('0 0 1 1 ? 1999', 'cron(0 0 1 1 ? 1999)');
    expect(() => nextCronTime(never, new Date('2026-01-01T00:00:00Z'))).toThrow(/never matches/);
  });
});
