/**
 * JSONata in Step Functions (https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html):
 * a string that starts with `{%` and ends with `%}` is an expression, evaluated with the npm
 * `jsonata` package against no input; `$states` (input, result, errorOutput, context) and the
 * workflow variables are bound, plus the functions Step Functions adds ($partition, $range, $hash,
 * $random with a seed, $uuid, $parse) and without `$eval`, which Step Functions does not offer.
 * Strings without the delimiters, in objects and arrays at any depth, stay literal.
 */
import { createHash, randomUUID } from 'node:crypto';
import jsonata from 'jsonata';
import { queryError, type StatesError } from './errors';
import { HASH_ALGORITHMS, seeded } from './random';

/** Whether a value is a JSONata expression string. */
export function isJsonata(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('{%') && value.endsWith('%}') && value.length >= 4;
}

const compiled = new Map<string, jsonata.Expression>();
/** Machines come and go in a long-running cloud: the cache keeps the most recently used only. */
const MAX_COMPILED = 5_000;

/** Compiles (once, cached) the expression inside `{% %}`; throws the parser's error. */
export function compileJsonata(text: string): jsonata.Expression {
  const hit = compiled.get(text);
  if (hit) {
    compiled.delete(text);
    compiled.set(text, hit);
    return hit;
  }
  const expr = jsonata(text.slice(2, -2));
  compiled.set(text, expr);
  if (compiled.size > MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
  return expr;
}

/** What `$states` holds while a state evaluates its fields. */
export interface StatesBinding {
  input: unknown;
  context: unknown;
  result?: unknown;
  errorOutput?: unknown;
}

/** Variables and `$states` for one evaluation. */
export interface JsonataEnv {
  states: StatesBinding;
  variables: Record<string, unknown>;
}

class FunctionError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A JSONata sequence: a one-element result is its element, as jsonata returns its own. */
function sequence<T>(items: T[]): T[] {
  return Object.defineProperty(items, 'sequence', { value: true });
}

/** The functions Step Functions adds to JSONata (its JSONata "Functions provided by Step Functions"). */
const AWS_FUNCTIONS = {
  partition: (array: unknown, size: unknown) => {
    if (!Array.isArray(array))
      throw new FunctionError('States.QueryEvaluationError', '$partition expects an array');
    if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0)
      throw new FunctionError(
        'States.QueryEvaluationError',
        '$partition expects a chunk size greater than 0',
      );
    const out: unknown[][] = [];
    for (let i = 0; i < array.length; i += size) out.push(array.slice(i, i + size));
    return out;
  },
  range: (start: unknown, end: unknown, step: unknown) => {
    if (![start, end, step].every((n) => typeof n === 'number' && Number.isInteger(n)) || step === 0)
      throw new FunctionError(
        'States.QueryEvaluationError',
        '$range expects integer start, end and a non-zero step',
      );
    const [a, b, s] = [start as number, end as number, step as number];
    const out: number[] = [];
    for (let v = a; s > 0 ? v <= b : v >= b; v += s) out.push(v);
    return sequence(out);
  },
  hash: (data: unknown, algorithm: unknown) => {
    const alg = typeof algorithm === 'string' ? HASH_ALGORITHMS[algorithm] : undefined;
    if (!alg)
      throw new FunctionError(
        'States.QueryEvaluationError',
        `$hash supports ${Object.keys(HASH_ALGORITHMS).join(', ')}`,
      );
    const text = typeof data === 'string' ? data : JSON.stringify(data ?? null);
    return createHash(alg).update(text, 'utf8').digest('hex');
  },
  random: (seed?: unknown) => (typeof seed === 'number' ? seeded(Math.trunc(seed))() : Math.random()),
  uuid: () => randomUUID(),
  parse: (text: unknown) => {
    if (typeof text !== 'string')
      throw new FunctionError('States.QueryEvaluationError', '$parse expects a string');
    try {
      return JSON.parse(text);
    } catch {
      throw new FunctionError('States.QueryEvaluationError', '$parse received a string that is not JSON');
    }
  },
  // Not a function in Step Functions: calling it is JSONata's T1006.
  eval: false,
};

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/**
 * A JSONata result as JSON: sequences become plain arrays. A function (or anything else JSON
 * cannot hold) is "an unsupported result type".
 */
function toJson(value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('unsupported');
    return value;
  }
  if (Array.isArray(value)) return value.filter((v) => v !== undefined).map(toJson);
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      if (v !== undefined) out[k] = toJson(v);
    return out;
  }
  throw new TypeError('unsupported');
}

/**
 * Evaluates one `{% %}` string. Errors are States.QueryEvaluationError in AWS's words: the
 * expression "threw an error during evaluation. T1006: ...", "returned nothing (undefined)", or
 * "returned an unsupported result type".
 */
export async function evaluateJsonata(text: string, env: JsonataEnv, location: string): Promise<unknown> {
  const expr = text.slice(2, -2).trim();
  const prefix = `The JSONata expression '${expr}' specified for the field '${location}'`;
  let result: unknown;
  try {
    result = await compileJsonata(text).evaluate(undefined, {
      ...env.variables,
      ...AWS_FUNCTIONS,
      states: env.states,
    });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const why = e.code && !e.code.startsWith('States.') ? `${e.code}: ${e.message}` : String(e.message);
    throw queryError(`${prefix} threw an error during evaluation. ${why}`, location);
  }
  if (result === undefined) throw queryError(`${prefix} returned nothing (undefined).`, location);
  try {
    return toJson(result);
  } catch {
    throw queryError(`${prefix} returned an unsupported result type.`, location);
  }
}

/** Evaluates every expression string in a template (Arguments, Output, Assign...), at any depth. */
export async function evaluateTemplate(
  template: unknown,
  env: JsonataEnv,
  location: string,
): Promise<unknown> {
  if (isJsonata(template)) return evaluateJsonata(template, env, location);
  if (Array.isArray(template)) {
    const out: unknown[] = [];
    for (let i = 0; i < template.length; i++)
      out.push(await evaluateTemplate(template[i], env, `${location}/${i}`));
    return out;
  }
  if (template !== null && typeof template === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(template))
      out[k] = await evaluateTemplate(v, env, `${location}/${k}`);
    return out;
  }
  return template;
}

/** A field that must evaluate to a given JSON type (Items: array, MaxConcurrency: integer...). */
export async function evaluateTyped(
  template: unknown,
  env: JsonataEnv,
  location: string,
  expected: 'array' | 'integer' | 'boolean' | 'string' | 'number',
): Promise<unknown> {
  const value = await evaluateTemplate(template, env, location);
  const ok =
    expected === 'array'
      ? Array.isArray(value)
      : expected === 'integer'
        ? Number.isInteger(value)
        : typeof value === expected;
  if (!ok) throw typeMismatch(template, location, expected, value);
  return value;
}

function typeMismatch(template: unknown, location: string, expected: string, value: unknown): StatesError {
  const expr = isJsonata(template) ? template.slice(2, -2).trim() : JSON.stringify(template);
  return queryError(
    `The JSONata expression '${expr}' specified for the field '${location}' returned an unexpected result type. Expected '${expected}', but was '${typeName(value)}' for value: ${JSON.stringify(value)}`,
    location,
  );
}
