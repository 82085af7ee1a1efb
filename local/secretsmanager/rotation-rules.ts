import { invalidParameter } from '../http/errors';
import { type Cron, nextCronTime, parseCron } from '../schedule/cron';
import { ScheduleExpressionError } from '../schedule/errors';
import { parseRate } from '../schedule/rate';

/** RotationRules as the API carries them. */
export interface RotationRules {
  AutomaticallyAfterDays?: number | undefined;
  Duration?: string | undefined;
  ScheduleExpression?: string | undefined;
}

type Schedule =
  | { kind: 'days'; days: number }
  | { kind: 'hours'; hours: number }
  | { kind: 'cron'; cron: Cron };

export interface ParsedRules {
  schedule: Schedule;
  /** The rotation window's length in hours, if the rules name one. */
  durationHours: number | undefined;
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** Secrets Manager answers an unreadable schedule with InvalidParameterException. */
function asInvalidParameter<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ScheduleExpressionError) throw invalidParameter(err.message);
    throw err;
  }
}

/** Validates RotationRules as RotateSecret does and returns them parsed. */
export function parseRotationRules(rules: RotationRules): ParsedRules {
  const { AutomaticallyAfterDays: days, ScheduleExpression: expr, Duration: duration } = rules;
  if (days !== undefined && expr !== undefined) {
    throw invalidParameter(
      'You can\u2019t specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules.',
    );
  }
  let durationHours: number | undefined;
  if (duration !== undefined) {
    const m = /^(\d{1,2})h$/.exec(duration);
    const h = m ? Number(m[1]) : Number.NaN;
    if (!(h >= 1 && h <= 24))
      throw invalidParameter(`Invalid Duration ${duration}: use 1h to 24h, for example 3h.`);
    durationHours = h;
  }
  if (days !== undefined) {
    if (!Number.isInteger(days) || days < 1 || days > 1000) {
      throw invalidParameter('AutomaticallyAfterDays must be between 1 and 1000.');
    }
    return { schedule: { kind: 'days', days }, durationHours };
  }
  if (expr === undefined)
    throw invalidParameter('RotationRules must have AutomaticallyAfterDays or ScheduleExpression.');
  // Rotation schedules count in days or hours; minutes are EventBridge's alone.
  const rate = parseRate(expr.trim());
  if (rate && rate.unit !== 'minute') {
    const n = rate.value;
    if (rate.unit === 'day') {
      if (n < 1 || n > 1000)
        throw invalidParameter(`Invalid ScheduleExpression ${expr}: rate in days must be 1 to 1000.`);
      return { schedule: { kind: 'days', days: n }, durationHours };
    }
    if (n < 4 || n > 23)
      throw invalidParameter(`Invalid ScheduleExpression ${expr}: rate in hours must be 4 to 23.`);
    if (durationHours !== undefined && durationHours > n) {
      throw invalidParameter('The rotation window (Duration) must be shorter than the rotation interval.');
    }
    return { schedule: { kind: 'hours', hours: n }, durationHours };
  }
  const cron = /^cron\((.*)\)$/.exec(expr.trim());
  if (cron) {
    const body = cron[1]!;
    return {
      schedule: { kind: 'cron', cron: asInvalidParameter(() => parseCron(body, expr)) },
      durationHours,
    };
  }
  throw invalidParameter(`Invalid ScheduleExpression ${expr}: use rate(N days), rate(N hours) or cron(...).`);
}

/**
 * The next rotation window after a rotation at `from` (or rotation being turned on then).
 * Day schedules rotate in the UTC day N days on (or the Duration from its midnight); hour
 * schedules N hours on; cron schedules at the next match, for Duration or to the day's end.
 */
export function rotationWindow(rules: RotationRules, from: Date): { start: Date; end: Date } {
  const { schedule, durationHours } = parseRotationRules(rules);
  const t = from.getTime();
  if (schedule.kind === 'days') {
    const start = Math.floor(t / DAY) * DAY + schedule.days * DAY;
    return { start: new Date(start), end: new Date(start + (durationHours ?? 24) * HOUR - 1000) };
  }
  if (schedule.kind === 'hours') {
    const start = t + schedule.hours * HOUR;
    return { start: new Date(start), end: new Date(start + (durationHours ?? schedule.hours) * HOUR - 1000) };
  }
  const start = asInvalidParameter(() => nextCronTime(schedule.cron, from));
  const end =
    durationHours !== undefined ? start + durationHours * HOUR : Math.floor(start / DAY) * DAY + DAY;
  return { start: new Date(start), end: new Date(end - 1000) };
}

/** DescribeSecret's NextRotationDate: rotation happens on or before it (the window's end). */
export function nextRotationDate(rules: RotationRules, from: Date): Date {
  return rotationWindow(rules, from).end;
}
