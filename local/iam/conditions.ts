/**
 * The `Condition` element: operators compiled once per statement.
 *
 * AWS: "IAM JSON policy elements: Condition operators", "Conditions with multiple context keys or
 * values", "Single-valued vs. multivalued context keys". Within a block every operator and every
 * key must match (AND); the values listed for one key are alternatives (OR), and for a negated
 * operator the request value must match none of them. Without a set operator a missing key fails
 * a positive operator and satisfies a negated one; `...IfExists` makes a missing key match;
 * `ForAnyValue:` fails on a missing or empty key, `ForAllValues:` matches it. `Null` tests presence.
 */

import { PolicyValidationError } from './errors';
import { type Context, compileArnPattern, compilePattern, type Pattern } from './patterns';
import type { ConditionBlock, ContextValue } from './types';

export interface CompiledCondition {
  /** The operator as written, e.g. `ForAllValues:StringNotLike`. */
  readonly operator: string;
  /** The condition key as written. */
  readonly key: string;
  test(ctx: Context): boolean;
}

type Base =
  | 'String'
  | 'StringIgnoreCase'
  | 'StringLike'
  | 'Numeric'
  | 'Date'
  | 'Bool'
  | 'Binary'
  | 'Ip'
  | 'Arn'
  | 'Null';

type Cmp = 'eq' | 'lt' | 'le' | 'gt' | 'ge';

interface OperatorSpec {
  base: Base;
  negated: boolean;
  cmp: Cmp;
}

const OPERATORS: Record<string, OperatorSpec> = {};
const def = (name: string, base: Base, negated = false, cmp: Cmp = 'eq') => {
  OPERATORS[name.toLowerCase()] = { base, negated, cmp };
};
def('StringEquals', 'String');
def('StringNotEquals', 'String', true);
def('StringEqualsIgnoreCase', 'StringIgnoreCase');
def('StringNotEqualsIgnoreCase', 'StringIgnoreCase', true);
def('StringLike', 'StringLike');
def('StringNotLike', 'StringLike', true);
def('NumericEquals', 'Numeric');
def('NumericNotEquals', 'Numeric', true);
def('NumericLessThan', 'Numeric', false, 'lt');
def('NumericLessThanEquals', 'Numeric', false, 'le');
def('NumericGreaterThan', 'Numeric', false, 'gt');
def('NumericGreaterThanEquals', 'Numeric', false, 'ge');
def('DateEquals', 'Date');
def('DateNotEquals', 'Date', true);
def('DateLessThan', 'Date', false, 'lt');
def('DateLessThanEquals', 'Date', false, 'le');
def('DateGreaterThan', 'Date', false, 'gt');
def('DateGreaterThanEquals', 'Date', false, 'ge');
def('Bool', 'Bool');
def('BinaryEquals', 'Binary');
def('IpAddress', 'Ip');
def('NotIpAddress', 'Ip', true);
def('ArnEquals', 'Arn');
def('ArnLike', 'Arn');
def('ArnNotEquals', 'Arn', true);
def('ArnNotLike', 'Arn', true);
def('Null', 'Null');

/** The names of every operator this evaluator knows, without set operators or `IfExists`. */
export const CONDITION_OPERATORS: readonly string[] = Object.keys(OPERATORS);

const NUMBER_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function parseNumber(s: string): number | undefined {
  return NUMBER_RE.test(s.trim()) ? Number(s) : undefined;
}

/** ISO 8601 dates and times, or epoch seconds (as `aws:EpochTime` carries them). */
function parseDate(s: string): number | undefined {
  const t = s.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

function compare(cmp: Cmp, a: number, b: number): boolean {
  switch (cmp) {
    case 'eq':
      return a === b;
    case 'lt':
      return a < b;
    case 'le':
      return a <= b;
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
  }
}

interface Cidr {
  v6: boolean;
  bits: number;
  net: bigint;
}

function parseIpv4(s: string): bigint | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  let n = 0n;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return undefined;
    n = (n << 8n) | BigInt(o);
  }
  return n;
}

function parseIpv6(s: string): bigint | undefined {
  let text = s;
  if (text.includes('.')) {
    // An embedded IPv4 address (::ffff:192.0.2.1) is the last two groups.
    const lc = text.lastIndexOf(':');
    const v4 = parseIpv4(text.slice(lc + 1));
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lc + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (g: string) => (g === '' ? [] : g.split(':'));
  const head = groups(halves[0] as string);
  const tail = halves.length === 2 ? groups(halves[1] as string) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let n = 0n;
  for (const g of [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    n = (n << 16n) | BigInt(`0x${g}`);
  }
  return n;
}

function parseIp(s: string): { v6: boolean; n: bigint } | undefined {
  const v4 = parseIpv4(s);
  if (v4 !== undefined) return { v6: false, n: v4 };
  const v6 = parseIpv6(s);
  return v6 === undefined ? undefined : { v6: true, n: v6 };
}

function parseCidr(s: string): Cidr | undefined {
  const [addr, len] = s.trim().split('/') as [string, string | undefined];
  const ip = parseIp(addr);
  if (!ip) return undefined;
  const width = ip.v6 ? 128 : 32;
  const bits = len === undefined ? width : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > width) return undefined;
  const shift = BigInt(width - bits);
  return { v6: ip.v6, bits, net: (ip.n >> shift) << shift };
}

function inCidr(c: Cidr, ip: { v6: boolean; n: bigint }): boolean {
  if (ip.v6 !== c.v6) return false;
  const shift = BigInt((c.v6 ? 128 : 32) - c.bits);
  return (ip.n >> shift) << shift === c.net;
}

/** The context values of a key, as strings; `undefined` when the key is missing (or an empty list). */
function valuesOf(v: ContextValue): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.length === 0 ? undefined : v.map(String);
  return [String(v)];
}

/**
 * Tests one request value against the listed policy values (OR) with the positive operator:
 * MATCH, NO_MATCH, or UNKNOWN when the request value cannot be read as the operator's type or a
 * policy variable has no value. UNKNOWN fails the condition whether the operator is negated or not.
 */
type ValueTest = (value: string, ctx: Context) => number;
const MATCH = 1;
const NO_MATCH = 0;
const UNKNOWN = -1;

function valueTest(spec: OperatorSpec, values: string[], variables: boolean, where: string): ValueTest {
  switch (spec.base) {
    case 'String':
    case 'StringIgnoreCase':
    case 'StringLike': {
      const mode = spec.base === 'String' ? 'exact' : spec.base === 'StringLike' ? 'glob' : 'exact-ci';
      const ps = values.map((v) => compilePattern(v, mode, variables));
      return anyPattern(ps);
    }
    case 'Arn':
      return anyPattern(values.map((v) => compileArnPattern(v, variables)));
    case 'Numeric': {
      const ns = values.map((v) => parseNumber(v));
      if (ns.some((n) => n === undefined)) throw new PolicyValidationError(`${where}: not a number`);
      return (v) => {
        const n = parseNumber(v);
        if (n === undefined) return UNKNOWN;
        return (ns as number[]).some((p) => compare(spec.cmp, n, p)) ? MATCH : NO_MATCH;
      };
    }
    case 'Date': {
      const ds = values.map((v) => parseDate(v));
      if (ds.some((d) => d === undefined)) throw new PolicyValidationError(`${where}: not a date`);
      return (v) => {
        const d = parseDate(v);
        if (d === undefined) return UNKNOWN;
        return (ds as number[]).some((p) => compare(spec.cmp, d, p)) ? MATCH : NO_MATCH;
      };
    }
    case 'Bool': {
      const bs = values.map((v) => v.toLowerCase());
      return (v) => (bs.includes(v.toLowerCase()) ? MATCH : NO_MATCH);
    }
    case 'Binary':
      return (v) => (values.includes(v) ? MATCH : NO_MATCH);
    case 'Ip': {
      const cs = values.map((v) => parseCidr(v));
      if (cs.some((c) => c === undefined))
        throw new PolicyValidationError(`${where}: not an IP address or CIDR block`);
      return (v) => {
        const ip = parseIp(v.trim());
        if (!ip) return UNKNOWN;
        return (cs as Cidr[]).some((c) => inCidr(c, ip)) ? MATCH : NO_MATCH;
      };
    }
    case 'Null':
      return () => NO_MATCH; // handled by the caller
  }
}

function anyPattern(ps: Pattern[]): ValueTest {
  const fixed = ps.every((p) => p.fixed);
  return (v, ctx) => {
    let unknown = false;
    for (const p of ps) {
      if (p.test(v, ctx)) return MATCH;
      if (!fixed && !p.resolves(ctx)) unknown = true;
    }
    return unknown ? UNKNOWN : NO_MATCH;
  };
}

/**
 * Compiles a statement's `Condition` block; throws PolicyValidationError on an unknown operator
 * or a value its operator cannot read (AWS refuses such a policy when it is stored).
 */
export function compileConditions(block: ConditionBlock, variables: boolean): CompiledCondition[] {
  const out: CompiledCondition[] = [];
  for (const [operator, keys] of Object.entries(block)) {
    let name = operator;
    let set: 'any' | 'all' | undefined;
    const colon = name.indexOf(':');
    if (colon >= 0) {
      const q = name.slice(0, colon).toLowerCase();
      if (q === 'foranyvalue') set = 'any';
      else if (q === 'forallvalues') set = 'all';
      else throw new PolicyValidationError(`Unknown set operator in condition operator ${operator}`);
      name = name.slice(colon + 1);
    }
    let ifExists = false;
    if (name.toLowerCase().endsWith('ifexists') && name.toLowerCase() !== 'null') {
      ifExists = true;
      name = name.slice(0, -'IfExists'.length);
    }
    const spec = OPERATORS[name.toLowerCase()];
    if (!spec || (ifExists && spec.base === 'Null'))
      throw new PolicyValidationError(`Unknown condition operator ${operator}`);
    if (typeof keys !== 'object' || keys === null || Array.isArray(keys))
      throw new PolicyValidationError(`Condition operator ${operator} must map keys to values`);
    for (const [key, raw] of Object.entries(keys)) {
      const values = (Array.isArray(raw) ? raw : [raw]).map(String);
      const lower = key.toLowerCase();
      if (spec.base === 'Null') {
        const want = values.map((v) => v.toLowerCase());
        out.push({
          operator,
          key,
          test: (ctx) => {
            const isNull = valuesOf(ctx.get(lower)) === undefined;
            return want.some((w) => (w === 'true' ? isNull : w === 'false' ? !isNull : false));
          },
        });
        continue;
      }
      const t = valueTest(spec, values, variables, `${operator} ${key}`);
      // One request value against the operator, negation applied; UNKNOWN is never satisfied.
      const one = (v: string, ctx: Context) => {
        const r = t(v, ctx);
        return r === UNKNOWN ? false : spec.negated ? r === NO_MATCH : r === MATCH;
      };
      out.push({
        operator,
        key,
        test: (ctx) => {
          const raw = ctx.get(lower);
          const vs = valuesOf(raw);
          if (vs === undefined) {
            // A set operator decides a missing key itself, IfExists or not (ForAnyValue: never matches).
            if (set === 'all') return true;
            if (set === 'any') return false;
            return ifExists || spec.negated;
          }
          if (set === 'all') return vs.every((v) => one(v, ctx));
          if (set === 'any') return vs.some((v) => one(v, ctx));
          // A multivalued key needs a set operator: without one it never matches, negated or not.
          if (Array.isArray(raw)) return false;
          return one(vs[0] as string, ctx);
        },
      });
    }
  }
  return out;
}
