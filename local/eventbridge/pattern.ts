/**
 * EventBridge event-pattern matching for the local cloud: PutRule/TestEventPattern validation and
 * PutEvents routing. The semantics follow AWS's "Event patterns" and "Content filtering" pages
 * (which describe the open-source Event Ruler engine EventBridge runs); where the pages are silent
 * we follow what EventBridge itself does, noted next to the code.
 */

import { jsonDepth, MAX_JSON_DEPTH } from '../http/json-depth';
import { compileValue, InvalidEventPatternError, isLeaf, isObject, type LeafTest } from './content-filters';
import { wildcardComplexity } from './wildcard';

export { InvalidEventPatternError } from './content-filters';

/**
 * How many wildcard-pattern prefixes one value may be inside at once, over a field's wildcards,
 * before EventBridge refuses the rule (Event Ruler's machine complexity cap).
 */
export const MAX_WILDCARD_COMPLEXITY = 100;

/** A pattern that passed validation: a JSON object of field names to value arrays or sub-patterns. */
export type EventPattern = Readonly<Record<string, unknown>>;

/** A compiled pattern: true when the event matches. */
export type EventMatcher = (event: unknown) => boolean;

interface LeafField {
  readonly kind: 'leaf';
  readonly key: string;
  /** OR of the array's value tests; undefined when the array holds only `exists`. */
  readonly test: LeafTest | undefined;
  /** `{"exists": true}` is in the array. */
  readonly whenPresent: boolean;
  /** `{"exists": false}` is in the array. */
  readonly whenAbsent: boolean;
}

interface NestedField {
  readonly kind: 'nested';
  readonly key: string;
  readonly node: PatternNode;
}

interface PatternNode {
  readonly fields: readonly (LeafField | NestedField)[];
  /** Alternatives of this object's `$or`; empty when it has none. */
  readonly anyOf: readonly PatternNode[];
}

// Event Ruler reserves these inside $or so that a typo such as `"$or": [{"prefix": "a"}, ...]`
// fails loudly instead of silently matching a field literally called "prefix".
const RESERVED_IN_OR = new Set([
  'exactly',
  'equals-ignore-case',
  'prefix',
  'suffix',
  'anything-but',
  'exists',
  'wildcard',
  'numeric',
  'cidr',
  '=',
  '<',
  '<=',
  '>',
  '>=',
  'regex',
  'not-wildcard',
  'not-equals-ignore-case',
  'date-after',
  'date-on-or-after',
  'date-before',
  'date-on-or-before',
  'in-date-range',
  'ip-address-in-range',
  'ip-address-not-in-range',
]);

const OR_KEY = '$or';

/**
 * Throws {@link InvalidEventPatternError} when EventBridge would reject the pattern
 * (PutRule / TestEventPattern answer InvalidEventPatternException).
 */
export function validatePattern(pattern: unknown): void {
  compileRoot(pattern);
}

/**
 * Validates the pattern once and returns a matcher to call per event. Events are the parsed JSON
 * of a whole EventBridge event (`source`, `detail-type`, `detail`, ...).
 */
export function compilePattern(pattern: unknown): EventMatcher {
  const root = compileRoot(pattern);
  return (event) => isObject(event) && matchNode(root, withDottedKeysNested(event));
}

/** One-off match; compile with {@link compilePattern} when the same pattern sees many events. */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  return compilePattern(pattern)(event);
}

/** Parses and validates pattern text as PutRule's `EventPattern` and TestEventPattern receive it. */
export function parsePatternJson(text: string): EventPattern {
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    throw new InvalidEventPatternError(`Pattern is nested deeper than ${MAX_JSON_DEPTH} levels`, []);
  }
  let parsed: unknown;
  try {
    // Duplicate keys: JSON.parse keeps the last one, which is what AWS documents too.
    parsed = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new InvalidEventPatternError(`Pattern is not valid JSON (${detail})`, [], { cause: error });
  }
  compileRoot(parsed);
  return parsed as EventPattern;
}

// ---------------------------------------------------------------------------------------------
// Compilation (doubles as validation)

function compileRoot(pattern: unknown): PatternNode {
  if (!isObject(pattern)) throw new InvalidEventPatternError('Filter is not an object');
  return compileNode(pattern, [], false);
}

function compileNode(
  pattern: Record<string, unknown>,
  path: readonly string[],
  insideOr: boolean,
): PatternNode {
  const entries = Object.entries(nestDottedKeys(pattern));
  if (entries.length === 0) throw new InvalidEventPatternError('Empty objects are not allowed', path);
  const fields: (LeafField | NestedField)[] = [];
  let anyOf: PatternNode[] = [];
  for (const [key, value] of entries) {
    const here = [...path, key];
    if (key === OR_KEY) {
      anyOf = compileOr(value, here);
      continue;
    }
    if (insideOr && RESERVED_IN_OR.has(key)) {
      throw new InvalidEventPatternError(
        `${key} is a reserved keyword and cannot be a field name inside $or`,
        here,
      );
    }
    if (Array.isArray(value)) {
      fields.push(compileLeaf(key, value, here));
    } else if (isObject(value)) {
      fields.push({ kind: 'nested', key, node: compileNode(value, here, insideOr) });
    } else {
      throw new InvalidEventPatternError(`"${key}" must be an object or an array`, here);
    }
  }
  return { fields, anyOf };
}

function compileOr(value: unknown, path: readonly string[]): PatternNode[] {
  if (!Array.isArray(value)) throw new InvalidEventPatternError('$or must be followed by an array', path);
  const alternatives = value.map((item, i) => {
    if (!isObject(item)) {
      throw new InvalidEventPatternError('Only JSON objects are allowed in the array of $or', [
        ...path,
        `${i}`,
      ]);
    }
    return compileNode(item, [...path, `${i}`], true);
  });
  if (alternatives.length < 2) {
    throw new InvalidEventPatternError('There must be at least 2 objects in the array of $or', path);
  }
  return alternatives;
}

function compileLeaf(key: string, values: readonly unknown[], path: readonly string[]): LeafField {
  if (values.length === 0) throw new InvalidEventPatternError('Empty arrays are not allowed', path);
  const tests: LeafTest[] = [];
  let whenPresent = false;
  let whenAbsent = false;
  const wildcards: string[] = [];
  for (const value of values) {
    const operand = compileValue(value, path);
    if ('test' in operand) {
      tests.push(operand.test);
      wildcards.push(...(operand.wildcards ?? []));
    } else if (operand.exists) whenPresent = true;
    else whenAbsent = true;
  }
  if (
    wildcards.length > 0 &&
    wildcardComplexity(wildcards, MAX_WILDCARD_COMPLEXITY) >= MAX_WILDCARD_COMPLEXITY
  ) {
    throw new InvalidEventPatternError(
      'Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character',
      path,
    );
  }
  return { kind: 'leaf', key, test: anyOfTests(tests), whenPresent, whenAbsent };
}

function anyOfTests(tests: readonly LeafTest[]): LeafTest | undefined {
  if (tests.length === 0) return undefined;
  if (tests.length === 1) return tests[0];
  return (value) => {
    for (const test of tests) if (test(value)) return true;
    return false;
  };
}

// ---------------------------------------------------------------------------------------------
// Dotted keys: Event Ruler joins nested field names with '.', so `{"state.status": [...]}` and
// `{"state": {"status": [...]}}` are one path, in a pattern as in an event (Event Ruler README,
// "Compiled rules and JSON keys with dots").

/** Splits `a.b` keys into nested objects; a key with an empty segment stays as written. */
function nestDottedKeys(pattern: Record<string, unknown>): Record<string, unknown> {
  if (!Object.keys(pattern).some(isDotted)) return pattern;
  const out = bare();
  for (const [key, value] of Object.entries(pattern)) {
    const segments = isDotted(key) ? key.split('.') : [key];
    let node = out;
    for (const segment of segments.slice(0, -1)) {
      const next = Object.hasOwn(node, segment) ? node[segment] : undefined;
      if (!isObject(next)) node[segment] = bare();
      node = node[segment] as Record<string, unknown>;
    }
    const last = segments[segments.length - 1] as string;
    const existing = Object.hasOwn(node, last) ? node[last] : undefined;
    // Two spellings of one sub-pattern combine; otherwise the later wins, as a duplicate key does.
    node[last] = isObject(existing) && isObject(value) ? Object.assign(bare(), existing, value) : value;
  }
  return out;
}

/** An object without a prototype: keys such as `__proto__` stay plain keys when assigned. */
function bare(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>;
}

function isDotted(key: string): boolean {
  return key !== OR_KEY && key.includes('.') && key.split('.').every((segment) => segment.length > 0);
}

const nestedEvents = new WeakMap<object, Record<string, unknown>>();

/**
 * The event with its dotted keys nested (made once per event, whatever the number of rules).
 * Values that land on one path are all kept, as Event Ruler flattens both to the same field.
 */
function withDottedKeysNested(event: Record<string, unknown>): Record<string, unknown> {
  let nested = nestedEvents.get(event);
  if (!nested) {
    nested = hasDottedKey(event) ? (nestValue(event) as Record<string, unknown>) : event;
    nestedEvents.set(event, nested);
  }
  return nested;
}

function hasDottedKey(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasDottedKey);
  if (!isObject(value)) return false;
  return Object.entries(value).some(([key, child]) => isDotted(key) || hasDottedKey(child));
}

function nestValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(nestValue);
  if (!isObject(value)) return value;
  const out = bare();
  for (const [key, child] of Object.entries(value)) {
    const segments = isDotted(key) ? key.split('.') : [key];
    let node = out;
    for (const segment of segments.slice(0, -1)) node = objectAt(node, segment);
    const last = segments[segments.length - 1] as string;
    const nestedChild = nestValue(child);
    node[last] = Object.hasOwn(node, last) ? mergeValues(node[last], nestedChild) : nestedChild;
  }
  return out;
}

/** The object under `key` to descend into; a value already there is kept beside it in a list. */
function objectAt(node: Record<string, unknown>, key: string): Record<string, unknown> {
  const here = Object.hasOwn(node, key) ? node[key] : undefined;
  if (isObject(here)) return here;
  const made = bare();
  if (here === undefined) node[key] = made;
  else if (Array.isArray(here)) here.push(made);
  else node[key] = [here, made];
  return made;
}

/** Two values on one path: objects merge, anything else becomes the list of both. */
function mergeValues(a: unknown, b: unknown): unknown {
  if (isObject(a) && isObject(b)) {
    const out = Object.assign(bare(), a);
    for (const [k, v] of Object.entries(b)) out[k] = Object.hasOwn(out, k) ? mergeValues(out[k], v) : v;
    return out;
  }
  return [...(Array.isArray(a) ? a : [a]), ...(Array.isArray(b) ? b : [b])];
}

// ---------------------------------------------------------------------------------------------
// Matching

function matchNode(node: PatternNode, event: Record<string, unknown> | undefined): boolean {
  for (const field of node.fields) {
    const value = event !== undefined && Object.hasOwn(event, field.key) ? event[field.key] : undefined;
    if (!(field.kind === 'leaf' ? matchLeaf(field, value) : matchNested(field.node, value))) return false;
  }
  if (node.anyOf.length > 0 && !node.anyOf.some((alternative) => matchNode(alternative, event))) return false;
  return true;
}

// Exists works on leaves only: an object where a leaf is expected counts as absent (AWS's
// `c-count: {c1: 100}` example), and so does an empty array (there is no value in it).
function matchLeaf(field: LeafField, value: unknown): boolean {
  if (!someLeaf(value, isLeaf)) return field.whenAbsent;
  if (field.whenPresent) return true;
  return field.test !== undefined && someLeaf(value, field.test);
}

/** Arrays in the event match when any element does, nested arrays included. */
function someLeaf(value: unknown, test: LeafTest): boolean {
  if (Array.isArray(value)) {
    for (const item of value) if (someLeaf(item, test)) return true;
    return false;
  }
  return isLeaf(value) && test(value);
}

// An array of objects matches when one element satisfies the whole sub-pattern, so two fields
// never match across different elements (Event Ruler's array consistency). With no object to look
// into, the sub-pattern sees every field as absent, which is what lets `exists: false` match there.
function matchNested(node: PatternNode, value: unknown): boolean {
  if (isObject(value)) return matchNode(node, value);
  if (Array.isArray(value)) {
    const objects: Record<string, unknown>[] = [];
    collectObjects(value, objects);
    if (objects.length > 0) return objects.some((item) => matchNode(node, item));
  }
  return matchNode(node, undefined);
}

function collectObjects(values: readonly unknown[], into: Record<string, unknown>[]): void {
  for (const item of values) {
    if (Array.isArray(item)) collectObjects(item, into);
    else if (isObject(item)) into.push(item);
  }
}
