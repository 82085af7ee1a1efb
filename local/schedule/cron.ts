import { ScheduleExpressionError } from './errors';

/**
 * `cron(Minutes Hours Day-of-month Month Day-of-week Year)` in EventBridge's dialect (UTC), which
 * Secrets Manager's RotationRules use too: `?`, `L`, `W`, `#`, names of months and days.
 */

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const invalid = (message: string) => new ScheduleExpressionError(message);

export interface Cron {
  minutes: number[];
  hours: number[];
  months: Set<number>;
  years: Set<number>;
  dayMatches(y: number, m: number, d: number): boolean;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}
/** 1 = Sunday ... 7 = Saturday, as cron's day-of-week. */
function weekday(y: number, m: number, d: number): number {
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 1;
}

function parseList(
  field: string,
  min: number,
  max: number,
  names: string[] | undefined,
  expr: string,
): Set<number> {
  const bad = () => invalid(`Invalid ScheduleExpression ${expr}: cannot read field "${field}".`);
  const num = (s: string): number => {
    const named = names?.indexOf(s.toUpperCase()) ?? -1;
    const n = named >= 0 ? named + min : /^\d+$/.test(s) ? Number(s) : Number.NaN;
    if (!(n >= min && n <= max)) throw bad();
    return n;
  };
  const out = new Set<number>();
  for (const part of field.split(',')) {
    const [range, stepText] = part.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw bad();
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [min, max];
    else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string];
      [lo, hi] = [num(a), num(b)];
    } else {
      lo = num(range);
      hi = stepText === undefined ? lo : max;
    }
    if (lo > hi) throw bad();
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

export function parseCron(body: string, expr: string): Cron {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) throw invalid(`Invalid ScheduleExpression ${expr}: cron needs 6 fields.`);
  const [min, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) {
    throw invalid(
      `Invalid ScheduleExpression ${expr}: exactly one of day-of-month and day-of-week must be ?.`,
    );
  }
  const minutes = [...parseList(min, 0, 59, undefined, expr)].sort((a, b) => a - b);
  const hours = [...parseList(hour, 0, 23, undefined, expr)].sort((a, b) => a - b);
  const months = parseList(month, 1, 12, MONTHS, expr);
  const years = year === '*' ? new Set<number>() : parseList(year, 1970, 2199, undefined, expr);
  let dayMatches: Cron['dayMatches'];
  if (dom !== '?') {
    if (dom === 'L') dayMatches = (y, m, d) => d === daysInMonth(y, m);
    else if (dom === 'LW') {
      dayMatches = (y, m, d) => d === nearestWeekday(y, m, daysInMonth(y, m));
    } else if (/^\d{1,2}W$/.test(dom)) {
      const target = Number(dom.slice(0, -1));
      if (target < 1 || target > 31) throw invalid(`Invalid ScheduleExpression ${expr}.`);
      dayMatches = (y, m, d) => d === nearestWeekday(y, m, Math.min(target, daysInMonth(y, m)));
    } else {
      const set = parseList(dom, 1, 31, undefined, expr);
      dayMatches = (_y, _m, d) => set.has(d);
    }
  } else if (/^[1-7A-Za-z]{1,3}L$/.test(dow)) {
    const wd = [...parseList(dow.slice(0, -1), 1, 7, DAYS, expr)][0]!;
    dayMatches = (y, m, d) => weekday(y, m, d) === wd && d + 7 > daysInMonth(y, m);
  } else if (/^[1-7A-Za-z]{1,3}#[1-5]$/.test(dow)) {
    const [w, n] = dow.split('#') as [string, string];
    const wd = [...parseList(w, 1, 7, DAYS, expr)][0]!;
    dayMatches = (y, m, d) => weekday(y, m, d) === wd && Math.ceil(d / 7) === Number(n);
  } else {
    const set = parseList(dow, 1, 7, DAYS, expr);
    dayMatches = (y, m, d) => set.has(weekday(y, m, d));
  }
  return { minutes, hours, months, years, dayMatches };
}

/** The weekday nearest to day `d` within the month (cron's `W`). */
function nearestWeekday(y: number, m: number, d: number): number {
  const wd = weekday(y, m, d);
  if (wd === 7) return d === 1 ? 3 : d - 1;
  if (wd === 1) return d === daysInMonth(y, m) ? d - 2 : d + 1;
  return d;
}

/** The first minute strictly after `from` that the cron matches (searched up to 10 years ahead). */
export function nextCronTime(cron: Cron, from: Date): number {
  const startMs = Math.floor(from.getTime() / 60_000) * 60_000 + 60_000;
  const start = new Date(startMs);
  let dayMs = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
  for (let i = 0; i < 3660; i++, dayMs += DAY) {
    const day = new Date(dayMs);
    const [y, m, d] = [day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate()];
    if (cron.years.size > 0 && !cron.years.has(y)) continue;
    if (!cron.months.has(m) || !cron.dayMatches(y, m, d)) continue;
    for (const h of cron.hours) {
      for (const mi of cron.minutes) {
        const t = dayMs + h * HOUR + mi * 60_000;
        if (t >= startMs) return t;
      }
    }
  }
  throw invalid('The ScheduleExpression never matches in the next ten years.');
}
