import { AwsError } from '../http/errors';
import { nextCronTime, parseCron } from '../schedule/cron';
import { ScheduleExpressionError } from '../schedule/errors';
import { parseRate, RATE_UNIT_MS } from '../schedule/rate';

/**
 * When a schedule next fires after `from` (epoch ms): `rate(N unit)` counts from `from`,
 * `cron(...)` (EventBridge's six fields, UTC) takes the next matching minute. An invalid
 * expression is EventBridge's ValidationException.
 */
export function nextFire(expression: string, from: number): number {
  // AWS, recorded, answers every invalid expression (cron(INVALID), a minute of 71, a day of week
  // NOT, both day fields set...) with these words alone.
  const invalid = () => new AwsError('ValidationException', 'Parameter ScheduleExpression is not valid.');
  const rate = parseRate(expression);
  if (rate?.strict) {
    // AWS spells one unit singular and more plural: rate(1 hour), rate(2 hours).
    if (rate.value < 1 || (rate.value === 1) === rate.plural) throw invalid();
    return from + rate.value * RATE_UNIT_MS[rate.unit];
  }
  const cron = /^cron\((.+)\)$/.exec(expression);
  if (cron?.[1]) {
    try {
      return nextCronTime(parseCron(cron[1], expression), new Date(from));
    } catch (err) {
      if (err instanceof ScheduleExpressionError) throw invalid();
      throw err;
    }
  }
  throw invalid();
}
