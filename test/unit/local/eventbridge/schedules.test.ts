import { nextFire } from '../../../../local/eventbridge/schedules';

describe('schedule expressions', () => {
  const from = Date.UTC(2026, 0, 1, 10, 30, 15);

  it('counts rate() from now, singular for one unit', () => {
    expect(nextFire('rate(1 minute)', from)).toBe(from + 60_000);
    expect(nextFire('rate(5 minutes)', from)).toBe(from + 300_000);
    expect(nextFire('rate(1 day)', from)).toBe(from + 86_400_000);
    expect(() => nextFire('rate(1 minutes)', from)).toThrow(
      expect.objectContaining({ code: 'ValidationException' }),
    );
    expect(() => nextFire('rate(2 hour)', from)).toThrow(
      expect.objectContaining({ code: 'ValidationException' }),
    );
    expect(() => nextFire('rate(0 minutes)', from)).toThrow(
      expect.objectContaining({ code: 'ValidationException' }),
    );
  });

  it('takes the next UTC minute a cron() matches', () => {
    expect(new Date(nextFire('cron(0 12 * * ? *)', from)).toISOString()).toBe('2026-01-01T12:00:00.000Z');
    expect(new Date(nextFire('cron(15 10 ? * MON *)', from)).toISOString()).toBe('2026-01-05T10:15:00.000Z');
    expect(() => nextFire('cron(0 12 * * * *)', from)).toThrow(
      expect.objectContaining({ code: 'ValidationException' }),
    );
    expect(() => nextFire('every day', from)).toThrow(
      expect.objectContaining({ code: 'ValidationException' }),
    );
  });
});
