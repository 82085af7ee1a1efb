/**
 * Wildcard filters: `*` is any run of characters (none included), `\*` a literal star, `\\` a
 * backslash. Matching, and the complexity limit EventBridge puts on a field's wildcards.
 */
import { InvalidEventPatternError } from './pattern-error';

type Token = { readonly star: true } | { readonly star: false; readonly char: string };

/**
 * Where EventBridge says a wildcard fault is: the offset into the quoted form of the value, in
 * UTF-8 bytes, counted from 0 at the opening quote (Event Ruler parses `"value"`). AWS answered
 * "Consecutive wildcard characters at pos 26" for `arn:aws:events:us-east-1:**:event-bus/*`,
 * whose first `*` is the 26th character.
 */
function position(pattern: string, index: number): number {
  return Buffer.byteLength(pattern.slice(0, index), 'utf8') + 1;
}

/** The pattern as literal characters and stars; refuses what Event Ruler refuses, in its words. */
function tokenize(pattern: string, path: readonly string[]): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === '\\') {
      const next = pattern[i + 1];
      if (next !== '*' && next !== '\\') {
        throw new InvalidEventPatternError(`Invalid escape character at pos ${position(pattern, i)}`, path);
      }
      tokens.push({ star: false, char: next });
      i++;
    } else if (char === '*') {
      if (pattern[i + 1] === '*') {
        throw new InvalidEventPatternError(
          `Consecutive wildcard characters at pos ${position(pattern, i)}`,
          path,
        );
      }
      tokens.push({ star: true });
    } else {
      tokens.push({ star: false, char });
    }
  }
  return tokens;
}

export function compileWildcard(pattern: string, path: readonly string[]): (value: string) => boolean {
  const parts: string[] = [''];
  for (const t of tokenize(pattern, path)) {
    if (t.star) parts.push('');
    else parts[parts.length - 1] += t.char;
  }
  return globMatcher(parts);
}

// parts are the literal runs between stars. Leftmost-first placement of the middle runs is enough
// for a star-only glob, and keeps matching linear in the value instead of a backtracking regex.
function globMatcher(parts: readonly string[]): (value: string) => boolean {
  const head = parts[0] ?? '';
  if (parts.length === 1) return (value) => value === head;
  const tail = parts[parts.length - 1] ?? '';
  const middle = parts.slice(1, -1);
  return (value) => {
    if (value.length < head.length + tail.length) return false;
    if (!value.startsWith(head) || !value.endsWith(tail)) return false;
    let from = head.length;
    const end = value.length - tail.length;
    for (const part of middle) {
      const at = value.indexOf(part, from);
      if (at < 0 || at + part.length > end) return false;
      from = at + part.length;
    }
    return true;
  };
}

/**
 * The most wildcard-pattern prefixes one value could be inside at once, across every wildcard of
 * a field: Event Ruler's measure (MachineComplexityEvaluator), which EventBridge caps. Each
 * pattern is a small automaton (state i: the first i tokens matched; a star loops on any
 * character); the worst value is found by walking the combined state sets reachable over the
 * characters the patterns name plus one they do not. Stops counting at `limit`.
 */
export function wildcardComplexity(patterns: readonly string[], limit: number): number {
  const machines = patterns.map((p) => tokenize(p, []));
  const alphabet = new Set<string>(['\u0000']);
  for (const m of machines) for (const t of m) if (!t.star) alphabet.add(t.char);
  // A state set as "machine:state" keys; closure adds the states a star can skip to.
  const close = (states: Set<string>): Set<string> => {
    for (const key of [...states]) {
      const [mi, si] = key.split(':').map(Number) as [number, number];
      const m = machines[mi] as Token[];
      for (let s = si; s < m.length && (m[s] as Token).star; s++) states.add(`${mi}:${s + 1}`);
    }
    return states;
  };
  const start = close(new Set(machines.map((_, i) => `${i}:0`)));
  const seen = new Set<string>();
  const queue = [start];
  let worst = 0;
  // Enough sets to find the worst value of any pattern a person writes; a hostile one stops early.
  while (queue.length > 0 && seen.size < 2000) {
    const states = queue.shift() as Set<string>;
    const id = [...states].sort().join(',');
    if (seen.has(id)) continue;
    seen.add(id);
    worst = Math.max(worst, states.size);
    if (worst >= limit) return limit;
    for (const char of alphabet) {
      const next = new Set<string>();
      for (const key of states) {
        const [mi, si] = key.split(':').map(Number) as [number, number];
        const t = (machines[mi] as Token[])[si];
        if (t === undefined) continue;
        if (t.star) next.add(key);
        else if (t.char === char) next.add(`${mi}:${si + 1}`);
      }
      if (next.size > 0) queue.push(close(next));
    }
  }
  return worst;
}
