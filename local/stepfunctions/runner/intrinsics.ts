/**
 * Intrinsic functions of JSONPath states, as AWS runs them
 * (https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html). Where the guide
 * is silent, executions recorded on AWS decide: MathAdd rounds each argument half up (1.5 + 1.51
 * is 4), StringSplit splits on each delimiter character and drops empty pieces, MathRandom takes
 * decimals, Format prints objects as Java maps (`{a=1, b=[]}`).
 */
import { createHash, randomUUID } from 'node:crypto';
import { runtimeError, type StatesError } from './errors';
import { deepEqual, type ParsedPath, parsePath } from './jsonpath';
import { HASH_ALGORITHMS, seeded } from './random';

export type IntrinsicArg =
  | { kind: 'literal'; value: unknown; template?: string }
  | { kind: 'path'; path: ParsedPath }
  | { kind: 'call'; call: IntrinsicCall };

export interface IntrinsicCall {
  name: string;
  args: IntrinsicArg[];
}

/** Escaped braces of a string literal, kept apart from States.Format's `{}` placeholders. */
const OPEN = '\uE000';
const CLOSE = '\uE001';
const restoreBraces = (s: string) => s.replaceAll(OPEN, '{').replaceAll(CLOSE, '}');

export class IntrinsicSyntaxError extends Error {
  constructor(text: string, why: string) {
    super(`invalid intrinsic function call '${text}': ${why}`);
    this.name = 'IntrinsicSyntaxError';
  }
}

/** Whether a `.$` value is an intrinsic call rather than a path. */
export function isIntrinsic(text: string): boolean {
  return /^States\.[A-Za-z0-9]+\(/.test(text);
}

const cache = new Map<string, IntrinsicCall>();

/** Parses (once, cached) `States.Name(arg, ...)`. */
export function parseIntrinsic(text: string): IntrinsicCall {
  const hit = cache.get(text);
  if (hit) return hit;
  const p = new Parser(text);
  const call = p.call();
  p.end();
  cache.set(text, call);
  return call;
}

class Parser {
  private i = 0;
  constructor(private readonly text: string) {}

  private fail(why: string): never {
    throw new IntrinsicSyntaxError(this.text, why);
  }

  private skip(): void {
    while (this.text.charAt(this.i) === ' ') this.i++;
  }

  end(): void {
    this.skip();
    if (this.i !== this.text.length) this.fail(`unexpected text at ${this.i}`);
  }

  call(): IntrinsicCall {
    const m = /^States\.([A-Za-z0-9]+)\(/.exec(this.text.slice(this.i));
    if (!m?.[1]) this.fail(`expected States.<Function>( at ${this.i}`);
    const name = `States.${m[1]}`;
    if (!(name in FUNCTIONS)) this.fail(`unknown function ${name}`);
    this.i += m[0].length;
    const args: IntrinsicArg[] = [];
    this.skip();
    if (this.text.charAt(this.i) === ')') {
      this.i++;
      return { name, args };
    }
    for (;;) {
      args.push(this.arg());
      this.skip();
      const c = this.text.charAt(this.i++);
      if (c === ')') return { name, args };
      if (c !== ',') this.fail(`expected , or ) at ${this.i - 1}`);
    }
  }

  private arg(): IntrinsicArg {
    this.skip();
    const c = this.text.charAt(this.i);
    if (c === "'") return this.string();
    if (c === '$') return { kind: 'path', path: parsePath(this.pathText()) };
    if (this.text.startsWith('States.', this.i)) return { kind: 'call', call: this.call() };
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(this.text.slice(this.i));
    if (!m?.[0]) return this.fail(`unexpected argument at ${this.i}`);
    this.i += m[0].length;
    return { kind: 'literal', value: JSON.parse(m[0]) };
  }

  /** A quoted literal: `\'`, `\{`, `\}` and `\\` are its only escapes. */
  private string(): IntrinsicArg {
    this.i++;
    let out = '';
    for (;;) {
      if (this.i >= this.text.length) this.fail('unterminated string');
      const c = this.text.charAt(this.i++);
      if (c === "'") break;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.text.charAt(this.i++);
      if (e === "'" || e === '\\') out += e;
      else if (e === '{') out += OPEN;
      else if (e === '}') out += CLOSE;
      else this.fail(`illegal escape \\${e}`);
    }
    return { kind: 'literal', value: restoreBraces(out), template: out };
  }

  /** A path argument runs to the next top-level `,` or `)`. */
  private pathText(): string {
    const start = this.i;
    let depth = 0;
    let quote: string | undefined;
    for (; this.i < this.text.length; this.i++) {
      const c = this.text.charAt(this.i);
      if (quote) {
        if (c === '\\') this.i++;
        else if (c === quote) quote = undefined;
      } else if (c === "'" || c === '"') quote = c;
      else if (c === '[' || c === '(') depth++;
      else if ((c === ']' || c === ')') && depth > 0) depth--;
      else if ((c === ',' || c === ')') && depth === 0) break;
    }
    return this.text.slice(start, this.i).trim();
  }
}

/** Resolves a path argument (input, Context object or variable); throws when it points nowhere. */
export type PathResolver = (path: ParsedPath) => unknown;

/** Evaluates a parsed call. Failures are States.Runtime, as AWS reports intrinsic errors. */
export function evaluateIntrinsic(call: IntrinsicCall, resolve: PathResolver): unknown {
  const values = call.args.map((a) =>
    a.kind === 'literal' ? a.value : a.kind === 'path' ? resolve(a.path) : evaluateIntrinsic(a.call, resolve),
  );
  const fn = FUNCTIONS[call.name];
  if (!fn) throw runtimeError(`The function '${call.name}' is not supported`);
  const first = call.args[0];
  return fn(values, { name: call.name, template: first?.kind === 'literal' ? first.template : undefined });
}

interface CallInfo {
  name: string;
  template: string | undefined;
}

type Fn = (args: unknown[], info: CallInfo) => unknown;

function bad(info: CallInfo, why: string): StatesError {
  return runtimeError(`The function '${info.name}(...)' ${why}`);
}

function argCount(args: unknown[], info: CallInfo, min: number, max = min): void {
  if (args.length < min || args.length > max)
    throw bad(info, `expects ${min === max ? min : `${min} to ${max}`} arguments, got ${args.length}`);
}

function arrayArg(args: unknown[], i: number, info: CallInfo): unknown[] {
  const v = args[i];
  if (!Array.isArray(v)) throw bad(info, `expects an array as argument ${i + 1}`);
  return v;
}

function stringArg(args: unknown[], i: number, info: CallInfo): string {
  const v = args[i];
  if (typeof v !== 'string') throw bad(info, `expects a string as argument ${i + 1}`);
  return v;
}

function numberArg(args: unknown[], i: number, info: CallInfo): number {
  const v = args[i];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(info, `expects a number as argument ${i + 1}`);
  return v;
}

function integerArg(args: unknown[], i: number, info: CallInfo): number {
  const v = numberArg(args, i, info);
  if (!Number.isInteger(v)) throw bad(info, `expects an integer as argument ${i + 1}`);
  return v;
}

/** How Java prints a value (Step Functions runs on the JVM): `{a=1, b=[x, y]}`, strings bare. */
export function javaString(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map(javaString).join(', ')}]`;
  if (typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}=${javaString(x)}`)
      .join(', ')}}`;
  return String(v);
}

/** AWS caps the text these take (Base64Encode, Base64Decode, Hash): 10,000 characters. */
const MAX_TEXT = 10_000;
/** ArrayRange returns at most 1,000 elements. */
const MAX_RANGE = 1_000;

const FUNCTIONS: Record<string, Fn> = {
  'States.Format': (args, info) => {
    if (args.length < 1) throw bad(info, 'expects at least 1 argument');
    const template = info.template ?? stringArg(args, 0, info);
    const pieces = template.split('{}');
    if (pieces.length - 1 !== args.length - 1)
      throw bad(info, `has ${pieces.length - 1} placeholders but ${args.length - 1} arguments to fill them`);
    return restoreBraces(pieces.reduce((acc, piece, i) => acc + javaString(args[i]) + piece));
  },
  'States.StringToJson': (args, info) => {
    argCount(args, info, 1);
    const text = stringArg(args, 0, info);
    if (text.trim() === '') return null;
    try {
      return JSON.parse(text);
    } catch {
      throw bad(info, 'received a string that is not JSON');
    }
  },
  'States.JsonToString': (args, info) => {
    argCount(args, info, 1);
    return JSON.stringify(args[0] ?? null);
  },
  'States.Array': (args) => [...args],
  'States.ArrayPartition': (args, info) => {
    argCount(args, info, 2);
    const arr = arrayArg(args, 0, info);
    const size = integerArg(args, 1, info);
    if (size <= 0) throw bad(info, 'expects a chunk size greater than 0');
    const out: unknown[][] = [];
    for (let i = 0; i < arr.length; i += size) out.push(arr.slice(i, i + size));
    return out;
  },
  'States.ArrayContains': (args, info) => {
    argCount(args, info, 2);
    return arrayArg(args, 0, info).some((v) => deepEqual(v, args[1]));
  },
  'States.ArrayRange': (args, info) => {
    argCount(args, info, 3);
    const [start, end, step] = [
      integerArg(args, 0, info),
      integerArg(args, 1, info),
      integerArg(args, 2, info),
    ];
    if (step === 0) throw bad(info, 'expects a step other than 0');
    const out: number[] = [];
    for (let v = start; step > 0 ? v <= end : v >= end; v += step) {
      out.push(v);
      if (out.length > MAX_RANGE) throw bad(info, `would return more than ${MAX_RANGE} elements`);
    }
    return out;
  },
  'States.ArrayGetItem': (args, info) => {
    argCount(args, info, 2);
    const arr = arrayArg(args, 0, info);
    const i = integerArg(args, 1, info);
    if (i < 0 || i >= arr.length) throw bad(info, `has index ${i} out of bounds for length ${arr.length}`);
    return arr[i];
  },
  'States.ArrayLength': (args, info) => {
    argCount(args, info, 1);
    return arrayArg(args, 0, info).length;
  },
  'States.ArrayUnique': (args, info) => {
    argCount(args, info, 1);
    const out: unknown[] = [];
    for (const v of arrayArg(args, 0, info)) if (!out.some((o) => deepEqual(o, v))) out.push(v);
    return out;
  },
  'States.Base64Encode': (args, info) => {
    argCount(args, info, 1);
    const s = stringArg(args, 0, info);
    if (s.length > MAX_TEXT) throw bad(info, `expects at most ${MAX_TEXT} characters`);
    return Buffer.from(s, 'utf8').toString('base64');
  },
  'States.Base64Decode': (args, info) => {
    argCount(args, info, 1);
    const s = stringArg(args, 0, info);
    if (s.length > MAX_TEXT) throw bad(info, `expects at most ${MAX_TEXT} characters`);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw bad(info, 'received a string that is not Base64');
    return Buffer.from(s, 'base64').toString('utf8');
  },
  'States.Hash': (args, info) => {
    argCount(args, info, 2);
    const data = typeof args[0] === 'string' ? args[0] : JSON.stringify(args[0] ?? null);
    if (data.length > MAX_TEXT) throw bad(info, `expects at most ${MAX_TEXT} characters`);
    const algorithm = HASH_ALGORITHMS[stringArg(args, 1, info)];
    if (!algorithm) throw bad(info, `supports the algorithms ${Object.keys(HASH_ALGORITHMS).join(', ')}`);
    return createHash(algorithm).update(data, 'utf8').digest('hex');
  },
  'States.JsonMerge': (args, info) => {
    argCount(args, info, 3);
    const [a, b, deep] = args;
    const isObj = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
    if (!isObj(a) || !isObj(b)) throw bad(info, 'expects two JSON objects');
    if (deep !== false) throw bad(info, 'supports only a shallow merge (false as argument 3)');
    return { ...(a as object), ...(b as object) };
  },
  'States.MathRandom': (args, info) => {
    argCount(args, info, 2, 3);
    const start = Math.round(numberArg(args, 0, info));
    const end = Math.round(numberArg(args, 1, info));
    if (end <= start) throw bad(info, 'expects the end to be greater than the start');
    const random = args.length === 3 ? seeded(Math.round(numberArg(args, 2, info))) : Math.random;
    return start + Math.floor(random() * (end - start));
  },
  'States.MathAdd': (args, info) => {
    argCount(args, info, 2);
    // Math.round is Java's rounding too: half up, so -1.5 is -1 and 1.5 is 2.
    return Math.round(numberArg(args, 0, info)) + Math.round(numberArg(args, 1, info)) || 0;
  },
  'States.StringSplit': (args, info) => {
    argCount(args, info, 2);
    const s = stringArg(args, 0, info);
    const delimiters = new Set(stringArg(args, 1, info));
    const out: string[] = [];
    let piece = '';
    for (const c of s) {
      if (delimiters.has(c)) {
        if (piece) out.push(piece);
        piece = '';
      } else piece += c;
    }
    if (piece) out.push(piece);
    return out;
  },
  'States.UUID': (args, info) => {
    argCount(args, info, 0);
    return randomUUID();
  },
};

/** The intrinsic function names the runner implements. */
export const INTRINSIC_NAMES: readonly string[] = Object.keys(FUNCTIONS);
