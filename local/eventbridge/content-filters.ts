import { InvalidEventPatternError } from './pattern-error';
import { compileWildcard } from './wildcard';

export { InvalidEventPatternError } from './pattern-error';

/**
 * EventBridge's content filters: the values a pattern's arrays hold (exact values, prefix,
 * suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr), each compiled once
 * into a test of one leaf value of an event. `pattern.ts` walks the pattern and the event.
 */

export type JsonLeaf = string | number | boolean | null;
export type LeafTest = (value: JsonLeaf) => boolean;

/**
 * One value of a pattern's array: a test of a leaf (with the wildcard patterns it runs, which
 * count towards the field's complexity), or `exists`.
 */
export type Operand =
  | { readonly test: LeafTest; readonly wildcards?: readonly string[] }
  | { readonly exists: boolean };

export function compileValue(value: unknown, path: readonly string[]): Operand {
  if (typeof value === 'string') return { test: exactString(value) };
  if (isJsonNumber(value)) return { test: (v) => v === value };
  if (value === null || typeof value === 'boolean') return { test: (v) => v === value };
  if (isObject(value)) return compileOperator(value, path);
  throw new InvalidEventPatternError('Match value must be String, number, true, false, or null', path);
}

/** Event Ruler treats an IP literal as an address, so `2001:db8::1` also matches `2001:DB8:0:0:0:0:0:1`. */
function exactString(expected: string): LeafTest {
  const ip = parseIp(expected);
  if (!ip) return (v) => v === expected;
  return (v) => v === expected || (typeof v === 'string' && sameBytes(parseIp(v), ip));
}

function compileOperator(expression: Record<string, unknown>, path: readonly string[]): Operand {
  const [operator, operand] = singleEntry(expression, 'Match expression name not found', path);
  switch (operator) {
    case 'prefix': {
      if (isObject(operand)) {
        const lower = ignoreCaseOperand(operand, 'prefix', path).toLowerCase();
        return { test: (v) => typeof v === 'string' && v.toLowerCase().startsWith(lower) };
      }
      const prefix = requireString(operand, 'prefix match pattern must be a string', path);
      return { test: (v) => typeof v === 'string' && v.startsWith(prefix) };
    }
    case 'suffix': {
      if (isObject(operand)) {
        const lower = ignoreCaseOperand(operand, 'suffix', path).toLowerCase();
        return { test: (v) => typeof v === 'string' && v.toLowerCase().endsWith(lower) };
      }
      const suffix = requireString(operand, 'suffix match pattern must be a string', path);
      return { test: (v) => typeof v === 'string' && v.endsWith(suffix) };
    }
    case 'equals-ignore-case': {
      const lower = requireString(
        operand,
        'equals-ignore-case match pattern must be a string',
        path,
      ).toLowerCase();
      return { test: (v) => typeof v === 'string' && v.toLowerCase() === lower };
    }
    case 'wildcard': {
      const text = requireString(operand, 'wildcard match pattern must be a string', path);
      const glob = compileWildcard(text, path);
      return { test: (v) => typeof v === 'string' && glob(v), wildcards: [text] };
    }
    case 'anything-but':
      return compileAnythingBut(operand, path);
    case 'numeric':
      return { test: compileNumeric(operand, path) };
    case 'exists':
      if (typeof operand !== 'boolean') {
        throw new InvalidEventPatternError('exists match pattern must be either true or false.', path);
      }
      return { exists: operand };
    case 'cidr': {
      // Event Ruler's own wording for a CIDR that is not a string (it reuses the prefix message).
      const range = compileCidr(requireString(operand, 'prefix match pattern must be a string', path), path);
      return { test: (v) => typeof v === 'string' && range(v) };
    }
    default:
      throw new InvalidEventPatternError(`Unrecognized match type ${operator}`, path);
  }
}

/** `{"prefix": {"equals-ignore-case": "..."}}` and the same for suffix. */
function ignoreCaseOperand(
  operand: Record<string, unknown>,
  operator: string,
  path: readonly string[],
): string {
  const label = operator === 'prefix' ? 'Prefix' : 'Suffix';
  const [inner, value] = singleEntry(operand, `${label} expression name not found`, path);
  if (inner !== 'equals-ignore-case') {
    throw new InvalidEventPatternError(`Unsupported ${operator} pattern: ${inner}`, path);
  }
  return requireString(value, 'equals-ignore-case match pattern must be a string', path);
}

// anything-but matches every present leaf value except the excluded ones, whatever its type: a
// number is "anything but" a string list. On a missing field it does not match (nothing to test).
// The error texts are Event Ruler's (the engine EventBridge runs), which EventBridge answers with.
function compileAnythingBut(operand: unknown, path: readonly string[]): Operand {
  if (typeof operand === 'string' || isJsonNumber(operand)) return { test: (v) => v !== operand };
  if (Array.isArray(operand)) {
    const strings = operand.length > 0 && operand.every((item) => typeof item === 'string');
    const numbers = operand.length > 0 && operand.every(isJsonNumber);
    if (!strings && !numbers) {
      const message = operand.every((item) => typeof item === 'string' || isJsonNumber(item))
        ? 'Inside anything but list, either all values are number or string, mixed type is not supported'
        : 'Inside anything but list, start|null|boolean is not supported.';
      throw new InvalidEventPatternError(message, path);
    }
    const excluded = new Set<JsonLeaf>(operand as JsonLeaf[]);
    return { test: (v) => !excluded.has(v) };
  }
  if (isObject(operand)) {
    const [form, value] = singleEntry(operand, 'Anything-But expression name not found', path);
    if (!['prefix', 'suffix', 'equals-ignore-case', 'wildcard'].includes(form)) {
      throw new InvalidEventPatternError(`Unsupported anything-but pattern: ${form}`, path);
    }
    const texts = anythingButStrings(form, value, path);
    switch (form) {
      case 'prefix':
        return { test: (v) => typeof v !== 'string' || !texts.some((t) => v.startsWith(t)) };
      case 'suffix':
        return { test: (v) => typeof v !== 'string' || !texts.some((t) => v.endsWith(t)) };
      case 'equals-ignore-case': {
        const lowered = new Set(texts.map((t) => t.toLowerCase()));
        return { test: (v) => typeof v !== 'string' || !lowered.has(v.toLowerCase()) };
      }
      default: {
        const globs = texts.map((t) => compileWildcard(t, path));
        return { test: (v) => typeof v !== 'string' || !globs.some((glob) => glob(v)), wildcards: texts };
      }
    }
  }
  throw new InvalidEventPatternError(
    'Value of anything-but must be an array or single string/number value.',
    path,
  );
}

/** The string, or non-empty list of strings, under `{"anything-but": {"prefix" | ...: ...}}`. */
function anythingButStrings(form: string, value: unknown, path: readonly string[]): string[] {
  const message =
    form === 'equals-ignore-case'
      ? 'Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.'
      : form === 'wildcard'
        ? 'wildcard match pattern must be a string'
        : 'prefix/suffix match pattern must be a string';
  let texts: string[];
  if (typeof value === 'string') texts = [value];
  else if (isJsonNumber(value)) throw new InvalidEventPatternError(message, path);
  else if (!Array.isArray(value)) {
    throw new InvalidEventPatternError(
      'Value of anything-but must be an array or single string/number value.',
      path,
    );
  } else if (value.length === 0) throw new InvalidEventPatternError('Empty arrays are not allowed', path);
  else texts = value.map((item) => requireString(item, message, path));
  // An empty prefix or suffix would exclude every string: EventBridge refuses it.
  if ((form === 'prefix' || form === 'suffix') && texts.some((t) => t.length === 0)) {
    throw new InvalidEventPatternError('Null prefix/suffix not allowed', path);
  }
  return texts;
}

type Bound = { readonly value: number; readonly inclusive: boolean };

// Forms EventBridge accepts: ["=", n], [">"|">=", n], ["<"|"<=", n] and [">"|">=", a, "<"|"<=", b]
// with a < b. An upper bound first (["<", 5, ">", 1]) is refused, as is an empty range.
function compileNumeric(operand: unknown, path: readonly string[]): LeafTest {
  if (!Array.isArray(operand)) throw new InvalidEventPatternError('Value of numeric must be an array.', path);
  const [operator, first] = operand;
  if (typeof operator !== 'string') {
    throw new InvalidEventPatternError(`Invalid member in numeric match: ${JSON.stringify(operator)}`, path);
  }
  if (!['=', '<', '<=', '>', '>='].includes(operator)) {
    throw new InvalidEventPatternError(`Unrecognized numeric range operator: ${operator}`, path);
  }
  const value = requireNumber(first, operator, path);
  if (operator === '=' || operator === '<' || operator === '<=') {
    if (operand.length > 2)
      throw new InvalidEventPatternError('Too many elements in numeric expression', path);
    if (operator === '=') return (v) => v === value;
    return upperTest({ value, inclusive: operator === '<=' });
  }
  const lower: Bound = { value, inclusive: operator === '>=' };
  if (operand.length === 2) return lowerTest(lower);
  const upperOperator = operand[2];
  if (upperOperator !== '<' && upperOperator !== '<=') {
    throw new InvalidEventPatternError(`Bad numeric range operator: ${String(upperOperator)}`, path);
  }
  const upper: Bound = {
    value: requireNumber(operand[3], upperOperator, path),
    inclusive: upperOperator === '<=',
  };
  if (operand.length > 4)
    throw new InvalidEventPatternError('Too many terms in numeric range expression', path);
  if (!(lower.value < upper.value)) throw new InvalidEventPatternError('Bottom must be less than top', path);
  const above = lowerTest(lower);
  const below = upperTest(upper);
  return (v) => above(v) && below(v);
}

function lowerTest(bound: Bound): LeafTest {
  const { value, inclusive } = bound;
  return inclusive ? (v) => typeof v === 'number' && v >= value : (v) => typeof v === 'number' && v > value;
}

function upperTest(bound: Bound): LeafTest {
  const { value, inclusive } = bound;
  return inclusive ? (v) => typeof v === 'number' && v <= value : (v) => typeof v === 'number' && v < value;
}

function requireNumber(value: unknown, operator: string, path: readonly string[]): number {
  if (!isJsonNumber(value)) throw new InvalidEventPatternError(`Value of ${operator} must be numeric`, path);
  return value;
}

// ---------------------------------------------------------------------------------------------
// IP addresses and CIDR blocks

// Event Ruler's CIDR checks and wording: one '/', an integer mask that is not negative, an IP
// address (a dotted quad or hex-and-colons that does not parse is "Invalid", anything else
// "Nonstandard"), and a mask shorter than the address (/32 and /128 are refused; a single address
// is written as an exact string instead).
function compileCidr(cidr: string, path: readonly string[]): (value: string) => boolean {
  const parts = cidr.split('/');
  while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length !== 2) throw new InvalidEventPatternError("Malformed CIDR, one '/' required", path);
  const [address = '', bitsText = ''] = parts;
  if (!/^[+-]?[0-9]+$/.test(bitsText)) {
    throw new InvalidEventPatternError('Malformed CIDR, mask bits must be an integer', path);
  }
  const bits = Number(bitsText);
  if (bits < 0) throw new InvalidEventPatternError('Malformed CIDR, mask bits must not be negative', path);
  const network = parseIp(address);
  if (!network) {
    const looksLikeIp = IPV4.test(address) || (address.includes(':') && IPV6_CHARS.test(address));
    throw new InvalidEventPatternError(
      `${looksLikeIp ? 'Invalid' : 'Nonstandard'} IP address: ${address}`,
      path,
    );
  }
  const maxBits = network.length * 8 - 1;
  if (bits > maxBits) {
    throw new InvalidEventPatternError(
      `${network.length === 4 ? 'IPv4' : 'IPv6'} mask bits must be < ${maxBits + 1}`,
      path,
    );
  }
  return (value) => {
    const parsed = parseIp(value);
    return parsed !== undefined && parsed.length === network.length && samePrefix(parsed, network, bits);
  };
}

function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[whole] ?? 0) & mask) === ((b[whole] ?? 0) & mask);
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && a.every((byte, i) => byte === b[i]);
}

const IPV4 = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$/;
// Hex groups and colons only, like Event Ruler: no zone ids, no dotted IPv4 tail.
const IPV6_CHARS = /^[0-9a-fA-F:]+$/;

/** 4 bytes for IPv4, 16 for IPv6, undefined when the text is not an IP address literal. */
function parseIp(text: string): Uint8Array | undefined {
  const v4 = IPV4.exec(text);
  if (v4) {
    const bytes = v4.slice(1).map(Number);
    return bytes.every((b) => b <= 255) ? Uint8Array.from(bytes) : undefined;
  }
  if (!text.includes(':') || !IPV6_CHARS.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string | undefined): string[] => (half ? half.split(':') : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const all = [...head, ...tail];
  if (all.some((group) => group.length === 0 || group.length > 4)) return undefined;
  if (halves.length === 1 ? all.length !== 8 : all.length > 7) return undefined;
  const words = [...head, ...Array<string>(8 - all.length).fill('0'), ...tail].map((g) =>
    Number.parseInt(g, 16),
  );
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[i * 2] = word >> 8;
    bytes[i * 2 + 1] = word & 0xff;
  });
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Helpers

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isLeaf(value: unknown): value is JsonLeaf {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || isJsonNumber(value);
}

function isJsonNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function singleEntry(
  expression: Record<string, unknown>,
  emptyMessage: string,
  path: readonly string[],
): [string, unknown] {
  const entries = Object.entries(expression);
  const [first] = entries;
  if (!first) throw new InvalidEventPatternError(emptyMessage, path);
  if (entries.length > 1)
    throw new InvalidEventPatternError('Only one key allowed in match expression', path);
  return first;
}

function requireString(value: unknown, message: string, path: readonly string[]): string {
  if (typeof value !== 'string') throw new InvalidEventPatternError(message, path);
  return value;
}
