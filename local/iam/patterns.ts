/**
 * Patterns of the policy language: `*` / `?` wildcards and policy variables (`${aws:username}`,
 * `${aws:PrincipalTag/team, 'none'}`, and the escapes `${*}`, `${?}`, `${$}`), compiled once.
 *
 * AWS: "IAM policy elements: Variables and tags". A variable's value is literal text (a `*` in
 * a tag value is not a wildcard); a variable whose key the request lacks and that has no default
 * makes the value match nothing; variables are substituted only in `Version: 2012-10-17`.
 */
import type { ContextValue } from './types';

/** One piece of a pattern: literal text, a wildcard, or a variable to substitute at evaluation. */
type Part =
  | { t: 'lit'; s: string }
  | { t: 'star' }
  | { t: 'one' }
  | { t: 'var'; key: string; def: string | undefined };

/** The request context, read by lower-case key name (condition key names are case-insensitive). */
export interface Context {
  get(lowerCaseKey: string): ContextValue;
}

export interface Pattern {
  /** The pattern as written. */
  readonly source: string;
  /** True when the value can be tested without a context (no variables). */
  readonly fixed: boolean;
  test(value: string, ctx: Context): boolean;
  /** False when a policy variable of the pattern has no value in the context and no default. */
  resolves(ctx: Context): boolean;
}

export type PatternMode =
  /** `*` and `?` wildcards, case-sensitive (Resource, StringLike). */
  | 'glob'
  /** Wildcards, case-insensitive (Action). */
  | 'glob-ci'
  /** Exact, case-sensitive (StringEquals). */
  | 'exact'
  /** Exact, case-insensitive (StringEqualsIgnoreCase). */
  | 'exact-ci';

const VAR_RE = /^\s*([^,\s]+)\s*(?:,\s*'([^']*)'\s*)?$/;

function parse(source: string, wildcards: boolean, variables: boolean): Part[] {
  const parts: Part[] = [];
  let lit = '';
  const flush = () => {
    if (lit) parts.push({ t: 'lit', s: lit });
    lit = '';
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (variables && c === '$' && source[i + 1] === '{') {
      const end = source.indexOf('}', i + 2);
      if (end > 0) {
        const inner = source.slice(i + 2, end);
        if (inner === '*' || inner === '?' || inner === '$') {
          lit += inner;
          i = end;
          continue;
        }
        const m = VAR_RE.exec(inner);
        if (m) {
          flush();
          parts.push({ t: 'var', key: (m[1] as string).toLowerCase(), def: m[2] });
          i = end;
          continue;
        }
      }
    }
    if (wildcards && c === '*') {
      flush();
      parts.push({ t: 'star' });
    } else if (wildcards && c === '?') {
      flush();
      parts.push({ t: 'one' });
    } else lit += c;
  }
  flush();
  return parts;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A single-valued context value as a string; multivalued keys cannot be policy variables. */
export function scalar(v: ContextValue): string | undefined {
  if (v === undefined || Array.isArray(v)) return undefined;
  return String(v);
}

function resolve(parts: Part[], ctx: Context): Part[] | undefined {
  const out: Part[] = [];
  for (const p of parts) {
    if (p.t !== 'var') {
      out.push(p);
      continue;
    }
    const v = scalar(ctx.get(p.key)) ?? p.def;
    if (v === undefined) return undefined;
    out.push({ t: 'lit', s: v });
  }
  return out;
}

function toRegExp(parts: Part[], ci: boolean): RegExp {
  let re = '^';
  for (const p of parts) {
    if (p.t === 'lit') re += escapeRe(p.s);
    else if (p.t === 'star') re += '.*';
    else if (p.t === 'one') re += '.';
  }
  return new RegExp(re + '$', ci ? 'is' : 's');
}

function toLiteral(parts: Part[]): string {
  return parts.map((p) => (p.t === 'lit' ? p.s : p.t === 'star' ? '*' : p.t === 'one' ? '?' : '')).join('');
}

/** Resolved patterns with variables, per compiled pattern: the inputs repeat (one caller, a few secrets). */
const MAX_RESOLVED = 64;

/**
 * Compiles one pattern. `variables` is true for documents of version 2012-10-17.
 */
export function compilePattern(source: string, mode: PatternMode, variables: boolean): Pattern {
  const wildcards = mode === 'glob' || mode === 'glob-ci';
  const ci = mode === 'glob-ci' || mode === 'exact-ci';
  const parts = parse(source, wildcards, variables);
  const hasVar = parts.some((p) => p.t === 'var');
  const build = (ps: Part[]): ((v: string) => boolean) => {
    if (wildcards) {
      if (ps.length === 1 && ps[0]?.t === 'star') return () => true;
      if (ps.every((p) => p.t === 'lit')) {
        const lit = toLiteral(ps);
        const low = lit.toLowerCase();
        return ci ? (v) => v.toLowerCase() === low : (v) => v === lit;
      }
      const re = toRegExp(ps, ci);
      return (v) => re.test(v);
    }
    const lit = toLiteral(ps);
    const low = lit.toLowerCase();
    return ci ? (v) => v.toLowerCase() === low : (v) => v === lit;
  };
  if (!hasVar) {
    const t = build(parts);
    return { source, fixed: true, test: (v) => t(v), resolves: () => true };
  }
  const cache = new Map<string, (v: string) => boolean>();
  return {
    source,
    fixed: false,
    resolves: (ctx) => resolve(parts, ctx) !== undefined,
    test(value, ctx) {
      const ps = resolve(parts, ctx);
      if (!ps) return false;
      const key = toLiteral(ps) + (wildcards ? `\u0000${ps.map((p) => p.t[0]).join('')}` : '');
      let t = cache.get(key);
      if (!t) {
        t = build(ps);
        if (cache.size >= MAX_RESOLVED) cache.delete(cache.keys().next().value as string);
        cache.set(key, t);
      }
      return t(value);
    },
  };
}

/**
 * ARN comparison (ArnEquals / ArnLike): "each of the six colon-delimited components of the ARN
 * is checked separately and each can include multi-character match wildcards (*) or
 * single-character match wildcards (?)". The resource component keeps its own colons.
 */
export function compileArnPattern(source: string, variables: boolean): Pattern {
  const compileFixed = (src: string): ((v: string) => boolean) => {
    const comps = splitArn(src);
    if (!comps) return () => false;
    const tests = comps.map((c) => compilePattern(c, 'glob', false));
    return (v) => {
      const vs = splitArn(v);
      if (!vs) return false;
      for (let i = 0; i < 6; i++) if (!(tests[i] as Pattern).test(vs[i] as string, EMPTY)) return false;
      return true;
    };
  };
  const probe = parse(source, false, variables);
  if (!probe.some((p) => p.t === 'var')) {
    const t = compileFixed(source);
    return { source, fixed: true, test: (v) => t(v), resolves: () => true };
  }
  const cache = new Map<string, (v: string) => boolean>();
  return {
    source,
    fixed: false,
    resolves: (ctx) => resolve(probe, ctx) !== undefined,
    test(value, ctx) {
      const ps = resolve(probe, ctx);
      if (!ps) return false;
      // Resolved text keeps `${*}` escapes as literal `*`; ARN components rarely need them.
      const src = toLiteral(ps);
      let t = cache.get(src);
      if (!t) {
        t = compileFixed(src);
        if (cache.size >= MAX_RESOLVED) cache.delete(cache.keys().next().value as string);
        cache.set(src, t);
      }
      return t(value);
    },
  };
}

const EMPTY: Context = { get: () => undefined };

function splitArn(s: string): string[] | undefined {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < 5; i++) {
    const j = s.indexOf(':', start);
    if (j < 0) return undefined;
    out.push(s.slice(start, j));
    start = j + 1;
  }
  out.push(s.slice(start));
  return out;
}
