/**
 * `rate(N unit)` expressions, as EventBridge schedules and Secrets Manager's RotationRules
 * write them. Each service decides which units and values it takes.
 */
export type RateUnit = 'minute' | 'hour' | 'day';

export interface Rate {
  value: number;
  unit: RateUnit;
  /** The unit was written plural (`minutes`); AWS wants singular for 1 and plural otherwise. */
  plural: boolean;
  /** Written exactly `rate(N unit)`, without spaces inside the parentheses. */
  strict: boolean;
}

export const RATE_UNIT_MS: Readonly<Record<RateUnit, number>> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** The rate an expression names; undefined when it is not a rate expression of these units. */
export function parseRate(expression: string): Rate | undefined {
  const m = /^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$/.exec(expression);
  if (!m?.[1] || !m[2]) return undefined;
  const plural = m[2].endsWith('s');
  return {
    value: Number(m[1]),
    unit: (plural ? m[2].slice(0, -1) : m[2]) as RateUnit,
    plural,
    strict: /^rate\(\d+ [a-z]+\)$/.test(expression),
  };
}
