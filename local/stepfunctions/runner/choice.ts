/**
 * Choice rules (https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html): JSONPath
 * rules compare a Variable (a path into the input, the Context object or a variable) with a
 * literal or another path; a comparison of mismatched types is false, not an error. JSONata
 * rules evaluate a Condition that must be a boolean.
 */
import type { ChoiceRule } from './definition';
import { runtimeError } from './errors';
import { evaluateTyped, type JsonataEnv } from './jsonata';
import { PathNotFound, parsePath } from './jsonpath';
import { type PathSources, resolve } from './payload';

const MISSING = Symbol('missing');

function valueAt(text: string, src: PathSources): unknown {
  try {
    return resolve(parsePath(text), src);
  } catch (err) {
    if (err instanceof PathNotFound) return MISSING;
    throw err;
  }
}

/** RFC 3339 with a zone, as Step Functions accepts timestamps; NaN otherwise. */
export function timestampMs(v: unknown): number {
  if (typeof v !== 'string') return Number.NaN;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(v);
  if (!m) return Number.NaN;
  const [mo = 0, d = 0, h = 0, mi = 0, s = 0] = m.slice(2, 7).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return Number.NaN;
  return Date.parse(v);
}

/** `*` matches any run of characters; `\*` a star (StringMatches). */
function wildcard(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern.charAt(++i));
    else if (c === '*') re += '[\\s\\S]*';
    else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

type Compare = (a: unknown, b: unknown) => boolean;
const str =
  (f: (a: string, b: string) => boolean): Compare =>
  (a, b) =>
    typeof a === 'string' && typeof b === 'string' && f(a, b);
const num =
  (f: (a: number, b: number) => boolean): Compare =>
  (a, b) =>
    typeof a === 'number' && typeof b === 'number' && f(a, b);
const time =
  (f: (a: number, b: number) => boolean): Compare =>
  (a, b) => {
    const x = timestampMs(a);
    const y = timestampMs(b);
    return !Number.isNaN(x) && !Number.isNaN(y) && f(x, y);
  };

const COMPARE: Record<string, Compare> = {
  StringEquals: str((a, b) => a === b),
  StringLessThan: str((a, b) => a < b),
  StringGreaterThan: str((a, b) => a > b),
  StringLessThanEquals: str((a, b) => a <= b),
  StringGreaterThanEquals: str((a, b) => a >= b),
  StringMatches: str((a, b) => wildcard(b).test(a)),
  NumericEquals: num((a, b) => a === b),
  NumericLessThan: num((a, b) => a < b),
  NumericGreaterThan: num((a, b) => a > b),
  NumericLessThanEquals: num((a, b) => a <= b),
  NumericGreaterThanEquals: num((a, b) => a >= b),
  BooleanEquals: (a, b) => typeof a === 'boolean' && a === b,
  TimestampEquals: time((a, b) => a === b),
  TimestampLessThan: time((a, b) => a < b),
  TimestampGreaterThan: time((a, b) => a > b),
  TimestampLessThanEquals: time((a, b) => a <= b),
  TimestampGreaterThanEquals: time((a, b) => a >= b),
};

const TESTS: Record<string, (v: unknown) => boolean> = {
  IsNull: (v) => v === null,
  IsNumeric: (v) => typeof v === 'number',
  IsString: (v) => typeof v === 'string',
  IsBoolean: (v) => typeof v === 'boolean',
  IsTimestamp: (v) => !Number.isNaN(timestampMs(v)),
};

/** Whether a JSONPath rule holds for the state's (effective) input. */
export function ruleMatches(rule: ChoiceRule, src: PathSources): boolean {
  if (rule.And) return rule.And.every((r) => ruleMatches(r, src));
  if (rule.Or) return rule.Or.some((r) => ruleMatches(r, src));
  if (rule.Not) return !ruleMatches(rule.Not, src);
  const variable = String(rule.Variable);
  const value = valueAt(variable, src);
  if ('IsPresent' in rule) return (value !== MISSING) === rule['IsPresent'];
  if (value === MISSING)
    throw runtimeError(
      `Invalid path '${variable}': The choice state's condition path references an invalid value.`,
    );
  for (const [op, test] of Object.entries(TESTS)) if (op in rule) return test(value) === rule[op];
  for (const [op, compare] of Object.entries(COMPARE)) {
    if (op in rule) return compare(value, rule[op]);
    const pathOp = `${op}Path`;
    if (pathOp in rule) {
      const other = valueAt(String(rule[pathOp]), src);
      if (other === MISSING)
        throw runtimeError(
          `Invalid path '${String(rule[pathOp])}': The choice state's condition path references an invalid value.`,
        );
      return compare(value, other);
    }
  }
  throw runtimeError(`The choice rule on '${variable}' has no comparison operator`);
}

/** Whether a JSONata rule's Condition is true. */
export async function conditionHolds(rule: ChoiceRule, env: JsonataEnv, index: number): Promise<boolean> {
  if (typeof rule.Condition === 'boolean') return rule.Condition;
  return (await evaluateTyped(rule.Condition, env, `Choices/${index}/Condition`, 'boolean')) as boolean;
}
