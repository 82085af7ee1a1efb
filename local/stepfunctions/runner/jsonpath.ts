/**
 * JSONPath as Step Functions evaluates it (Jayway JsonPath, https://github.com/json-path/JsonPath):
 * a definite path (names and indexes only) selects one value or fails; an indefinite one
 * (`[*]`, `..`, slices, unions, filters) selects a list, empty when nothing matches. Paths start
 * at the state input (`$`), the Context object (`$$`) or a workflow variable (`$name`).
 * https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html
 */

type Segment =
  | { kind: 'name'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'wildcard' }
  | { kind: 'deep'; inner: Segment }
  | { kind: 'names'; names: string[] }
  | { kind: 'indexes'; indexes: number[] }
  | { kind: 'slice'; start: number | undefined; end: number | undefined; step: number }
  | { kind: 'filter'; test: Filter }
  | { kind: 'length' };

type Filter = (item: unknown, root: unknown) => boolean;

/** Where a path starts. */
export type PathRoot = { kind: 'input' } | { kind: 'context' } | { kind: 'variable'; name: string };

export interface ParsedPath {
  text: string;
  root: PathRoot;
  segments: Segment[];
  /** Names and indexes only: selects at most one value. */
  definite: boolean;
}

/** A path that points nowhere, worded as Jayway words it (AWS quotes these messages). */
export class PathNotFound extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathNotFound';
  }
}

/** A path that is not JSONPath at all. */
export class PathSyntaxError extends Error {
  constructor(path: string, why: string) {
    super(`Invalid path '${path}': ${why}`);
    this.name = 'PathSyntaxError';
  }
}

const NAME_CHAR = /[^.[\]()\s'"*]/;
const VARIABLE = /^\$([A-Za-z_][A-Za-z0-9_]*)/;
const cache = new Map<string, ParsedPath>();

/** Parses (once, cached) a JSONPath expression. */
export function parsePath(text: string): ParsedPath {
  const hit = cache.get(text);
  if (hit) return hit;
  const parsed = parse(text);
  cache.set(text, parsed);
  return parsed;
}

/** Whether a string is a path Step Functions would evaluate (`$`, `$$...`, `$var...`). */
export function isPath(text: string): boolean {
  return (
    text === '$' ||
    text.startsWith('$.') ||
    text.startsWith('$[') ||
    text.startsWith('$$') ||
    VARIABLE.test(text)
  );
}

function parse(text: string): ParsedPath {
  let root: PathRoot;
  let i: number;
  if (text.startsWith('$$')) {
    root = { kind: 'context' };
    i = 2;
  } else if (VARIABLE.test(text)) {
    const name = VARIABLE.exec(text)?.[1] ?? '';
    root = { kind: 'variable', name };
    i = name.length + 1;
  } else if (text.startsWith('$')) {
    root = { kind: 'input' };
    i = 1;
  } else throw new PathSyntaxError(text, 'a path must start with $');
  const segments: Segment[] = [];
  const fail = (why: string): never => {
    throw new PathSyntaxError(text, why);
  };
  const readName = (): string => {
    const start = i;
    while (i < text.length && NAME_CHAR.test(text.charAt(i))) i++;
    if (i === start) fail(`expected a name at ${start}`);
    return text.slice(start, i);
  };
  while (i < text.length) {
    const c = text.charAt(i);
    if (c === '.' && text.charAt(i + 1) === '.') {
      i += 2;
      if (text.charAt(i) === '*') {
        i++;
        segments.push({ kind: 'deep', inner: { kind: 'wildcard' } });
      } else if (text.charAt(i) === '[') {
        const [seg, next] = readBracket(text, i, fail);
        i = next;
        segments.push({ kind: 'deep', inner: seg });
      } else segments.push({ kind: 'deep', inner: { kind: 'name', name: readName() } });
    } else if (c === '.') {
      i++;
      // Jayway reads `$.[0]` as `$[0]`.
      if (text.charAt(i) === '[') continue;
      if (text.charAt(i) === '*') {
        i++;
        segments.push({ kind: 'wildcard' });
        continue;
      }
      const name = readName();
      if (text.startsWith('()', i) && name === 'length') {
        i += 2;
        segments.push({ kind: 'length' });
      } else segments.push({ kind: 'name', name });
    } else if (c === '[') {
      const [seg, next] = readBracket(text, i, fail);
      i = next;
      segments.push(seg);
    } else fail(`unexpected '${c}' at ${i}`);
  }
  const definite = segments.every((s) => s.kind === 'name' || s.kind === 'index' || s.kind === 'length');
  return { text, root, segments, definite };
}

function readBracket(text: string, start: number, fail: (why: string) => never): [Segment, number] {
  const end = findClose(text, start);
  if (end < 0) fail(`unclosed [ at ${start}`);
  const body = text.slice(start + 1, end).trim();
  const next = end + 1;
  if (body === '*') return [{ kind: 'wildcard' }, next];
  if (body.startsWith('?(') && body.endsWith(')'))
    return [{ kind: 'filter', test: parseFilter(body.slice(2, -1), fail) }, next];
  if (/^(['"]).*\1$/.test(body)) {
    const names = splitTopLevel(body, ',').map((n) => quotedName(n.trim(), fail));
    return [names.length === 1 ? { kind: 'name', name: names[0] ?? '' } : { kind: 'names', names }, next];
  }
  if (/^-?\d*:-?\d*(:-?\d+)?$/.test(body)) {
    const [a, b, s] = body.split(':');
    const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
    return [{ kind: 'slice', start: num(a), end: num(b), step: num(s) ?? 1 }, next];
  }
  if (/^-?\d+(\s*,\s*-?\d+)*$/.test(body)) {
    const indexes = body.split(',').map((n) => Number(n.trim()));
    return [
      indexes.length === 1 ? { kind: 'index', index: indexes[0] ?? 0 } : { kind: 'indexes', indexes },
      next,
    ];
  }
  return fail(`unsupported selector [${body}]`);
}

function findClose(text: string, start: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = start; i < text.length; i++) {
    const c = text.charAt(i);
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '[' || c === '(') depth++;
    else if (c === ']' || c === ')') {
      depth--;
      if (depth === 0 && c === ']') return i;
    }
  }
  return -1;
}

function splitTopLevel(text: string, sep: string): string[] {
  const parts: string[] = [];
  let quote: string | undefined;
  let depth = 0;
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (depth === 0 && text.startsWith(sep, i)) {
      parts.push(text.slice(last, i));
      last = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push(text.slice(last));
  return parts;
}

/**
 * A quoted name in brackets, as AWS reads it: a backslash keeps the next character from closing
 * the name but stays part of it. AWS, recorded, finds the key `Test\""Name"` with
 * `$['Test\""Name"']` (a key with a backslash and quotes).
 */
function quotedName(text: string, fail: (why: string) => never): string {
  if (text.length < 2 || text.charAt(0) !== text.charAt(text.length - 1)) fail(`bad string ${text}`);
  return text.slice(1, -1);
}

function unquote(text: string, fail: (why: string) => never): string {
  if (text.length < 2 || text.charAt(0) !== text.charAt(text.length - 1)) fail(`bad string ${text}`);
  return text.slice(1, -1).replace(/\\(.)/g, '$1');
}

/**
 * Filter expressions: `@.a op literal` (==, !=, <, <=, >, >=, =~ /re/), `@.a` (exists), joined by
 * && and ||, with parentheses and `!`. The right side may also be `@...` or `$...`.
 */
function parseFilter(expr: string, fail: (why: string) => never): Filter {
  const trimmed = expr.trim();
  const or = splitTopLevel(trimmed, '||');
  if (or.length > 1) {
    const parts = or.map((p) => parseFilter(p, fail));
    return (item, root) => parts.some((p) => p(item, root));
  }
  const and = splitTopLevel(trimmed, '&&');
  if (and.length > 1) {
    const parts = and.map((p) => parseFilter(p, fail));
    return (item, root) => parts.every((p) => p(item, root));
  }
  if (trimmed.startsWith('!')) {
    const inner = parseFilter(trimmed.slice(1), fail);
    return (item, root) => !inner(item, root);
  }
  if (trimmed.startsWith('(') && findClose(`[${trimmed}]`, 0) === trimmed.length + 1)
    return parseFilter(trimmed.slice(1, -1), fail);
  const m = /^(.+?)\s*(==|!=|<=|>=|<|>|=~)\s*(.+)$/.exec(trimmed);
  if (!m) {
    const operand = parseOperand(trimmed, fail);
    return (item, root) => operand(item, root) !== undefined;
  }
  const left = parseOperand(m[1] ?? '', fail);
  const op = m[2] ?? '';
  if (op === '=~') {
    const re = /^\/(.*)\/([a-z]*)$/.exec((m[3] ?? '').trim());
    if (!re) fail(`bad regular expression ${m[3]}`);
    const regex = new RegExp(re?.[1] ?? '', re?.[2] ?? '');
    return (item, root) => {
      const v = left(item, root);
      return typeof v === 'string' && regex.test(v);
    };
  }
  const right = parseOperand(m[3] ?? '', fail);
  return (item, root) => compare(left(item, root), op, right(item, root));
}

function parseOperand(text: string, fail: (why: string) => never): (item: unknown, root: unknown) => unknown {
  const t = text.trim();
  if (t.startsWith('@')) {
    const path = parsePath(`$${t.slice(1)}`);
    return (item) => optional(path, item);
  }
  if (t.startsWith('$')) {
    const path = parsePath(t);
    return (_item, root) => optional(path, root);
  }
  if (t.startsWith("'") || t.startsWith('"')) {
    const s = unquote(t, fail);
    return () => s;
  }
  let literal: unknown;
  try {
    literal = JSON.parse(t);
  } catch {
    fail(`bad filter operand ${t}`);
  }
  return () => literal;
}

function optional(path: ParsedPath, value: unknown): unknown {
  try {
    const r = walk(path, value);
    return path.definite ? r[0] : r;
  } catch {
    return undefined;
  }
}

function compare(a: unknown, op: string, b: unknown): boolean {
  if (op === '==') return deepEqual(a, b);
  if (op === '!=') return !deepEqual(a, b);
  if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string')))
    return false;
  if (op === '<') return a < b;
  if (op === '<=') return a <= b;
  if (op === '>') return a > b;
  return a >= b;
}

/** Structural equality of JSON values. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return (
    ka.length === kb.length &&
    ka.every(
      (k) =>
        Object.hasOwn(b, k) &&
        deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
    )
  );
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** `$['a']['b'][0]`: how Jayway names a path in its messages. */
function jaywayPath(segments: Segment[]): string {
  return `$${segments.map((s) => (s.kind === 'name' ? `['${s.name}']` : s.kind === 'index' ? `[${s.index}]` : '')).join('')}`;
}

function child(value: unknown, seg: Segment, root: unknown): unknown[] {
  switch (seg.kind) {
    case 'name':
      return isObject(value) && Object.hasOwn(value, seg.name) ? [value[seg.name]] : [];
    case 'index': {
      if (!Array.isArray(value)) return [];
      const i = seg.index < 0 ? value.length + seg.index : seg.index;
      return i >= 0 && i < value.length ? [value[i]] : [];
    }
    case 'names':
      return isObject(value) ? seg.names.filter((n) => Object.hasOwn(value, n)).map((n) => value[n]) : [];
    case 'indexes':
      return seg.indexes.flatMap((i) => child(value, { kind: 'index', index: i }, root));
    case 'wildcard':
      return Array.isArray(value) ? value : isObject(value) ? Object.values(value) : [];
    case 'slice': {
      if (!Array.isArray(value)) return [];
      const n = value.length;
      const norm = (v: number | undefined, dflt: number) =>
        v === undefined ? dflt : v < 0 ? Math.max(0, n + v) : Math.min(v, n);
      const out: unknown[] = [];
      for (let i = norm(seg.start, 0); i < norm(seg.end, n); i += Math.max(1, seg.step)) out.push(value[i]);
      return out;
    }
    case 'filter': {
      const items = Array.isArray(value) ? value : isObject(value) ? [value] : [];
      return items.filter((item) => seg.test(item, root));
    }
    case 'deep': {
      const out: unknown[] = [];
      const visit = (v: unknown) => {
        out.push(...child(v, seg.inner, root));
        if (Array.isArray(v)) v.forEach(visit);
        else if (isObject(v)) Object.values(v).forEach(visit);
      };
      visit(value);
      return out;
    }
    case 'length':
      return Array.isArray(value) ? [value.length] : typeof value === 'string' ? [value.length] : [];
  }
}

/**
 * Every value a path selects from `value`. A definite path that finds nothing throws Jayway's
 * messages: "Missing property in path $['a']" when a step before the last is missing, "No results
 * for path: $['a']['b']" when the last one is.
 */
function walk(path: ParsedPath, value: unknown): unknown[] {
  let nodes = [value];
  path.segments.forEach((seg, i) => {
    const next = nodes.flatMap((n) => child(n, seg, value));
    if (path.definite && next.length === 0) {
      const upTo = path.segments.slice(0, i + 1);
      if (i < path.segments.length - 1)
        throw new PathNotFound(`Missing property in path ${jaywayPath(upTo)}`);
      throw new PathNotFound(`No results for path: ${jaywayPath(path.segments)}`);
    }
    nodes = next;
  });
  return nodes;
}

/** Selects with a parsed path from the value its root names; indefinite paths give a list. */
export function select(path: ParsedPath, rootValue: unknown): unknown {
  const found = walk(path, rootValue);
  return path.definite ? found[0] : found;
}

/**
 * Writes `result` into `input` at a reference path (ResultPath), copying rather than mutating.
 * Missing objects on the way are created; a step through a non-object cannot be applied.
 */
export function setAt(input: unknown, path: ParsedPath, result: unknown): unknown {
  if (path.segments.length === 0) return result;
  const put = (target: unknown, depth: number): unknown => {
    const seg = path.segments[depth];
    if (!seg || (seg.kind !== 'name' && seg.kind !== 'index')) throw new PathNotFound('not a reference path');
    const last = depth === path.segments.length - 1;
    if (seg.kind === 'index') {
      if (!Array.isArray(target))
        throw new PathNotFound(`cannot index ${jaywayPath(path.segments.slice(0, depth))}`);
      const copy = [...target];
      const i = seg.index < 0 ? copy.length + seg.index : seg.index;
      if (i < 0 || i >= copy.length)
        throw new PathNotFound(`index out of bounds ${jaywayPath(path.segments)}`);
      copy[i] = last ? result : put(copy[i], depth + 1);
      return copy;
    }
    const base = target === undefined ? {} : target;
    if (!isObject(base))
      throw new PathNotFound(`not an object at ${jaywayPath(path.segments.slice(0, depth))}`);
    return { ...base, [seg.name]: last ? result : put(base[seg.name], depth + 1) };
  };
  return put(input, 0);
}
