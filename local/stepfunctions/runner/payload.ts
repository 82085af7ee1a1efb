/**
 * JSONPath data flow: paths against the state input, the Context object or a variable, and the
 * payload templates of Parameters, ResultSelector, ItemSelector and Assign, where a key ending in
 * `.$` takes the value of a path or an intrinsic call
 * (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-inputpath-params.html).
 * Every failure is States.Runtime, worded as AWS words it.
 */
import { runtimeError, StatesError } from './errors';
import { evaluateIntrinsic, isIntrinsic, parseIntrinsic } from './intrinsics';
import { type ParsedPath, PathNotFound, parsePath, select, setAt } from './jsonpath';
import type { VariableScope } from './scope';

/** What paths can read: `$` the input, `$$` the Context object, `$name` a variable. */
export interface PathSources {
  input: unknown;
  context: () => unknown;
  variables: VariableScope;
}

/** The value a path selects; PathNotFound when it points nowhere. */
export function resolve(path: ParsedPath, src: PathSources): unknown {
  if (path.root.kind === 'input') return select(path, src.input);
  if (path.root.kind === 'context') return select(path, src.context());
  const name = path.root.name;
  if (!src.variables.has(name)) throw new PathNotFound(`The variable '${name}' is not defined`);
  return select(path, src.variables.get(name));
}

/** InputPath, OutputPath, ItemsPath...: "Invalid path '$.x' : No results for path: $['x']". */
export function readPath(text: string, src: PathSources): unknown {
  try {
    return resolve(parsePath(text), src);
  } catch (err) {
    throw notFound(err, (why) => `Invalid path '${text}' : ${why}`);
  }
}

/** A `.$` field (or ErrorPath, CausePath): "The JSONPath '$.x' specified for the field ... could not be found". */
export function readField(text: string, field: string, src: PathSources): unknown {
  const missing = () =>
    `The JSONPath '${text}' specified for the field '${field}' could not be found in the input '${JSON.stringify(src.input ?? null)}'`;
  try {
    if (isIntrinsic(text)) return evaluateIntrinsic(parseIntrinsic(text), (p) => resolve(p, src));
    return resolve(parsePath(text), src);
  } catch (err) {
    throw notFound(err, missing);
  }
}

function notFound(err: unknown, word: (why: string) => string): StatesError {
  if (err instanceof PathNotFound) return runtimeError(word(err.message));
  if (err instanceof StatesError) return err;
  return runtimeError(word((err as Error).message));
}

/** Applies a payload template: `.$` keys read their path or call, others are literal. */
export function applyTemplate(template: unknown, src: PathSources): unknown {
  if (Array.isArray(template)) return template.map((v) => applyTemplate(v, src));
  if (template === null || typeof template !== 'object') return template;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$') && typeof value === 'string') out[key.slice(0, -2)] = readField(value, key, src);
    else out[key] = applyTemplate(value, src);
  }
  return out;
}

/**
 * ResultPath: where the result goes in the state's input. `null` keeps the input, `$` replaces
 * it; anything else writes into a copy. A path that cannot take the result is
 * States.ResultPathMatchFailure (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
 */
export function applyResultPath(
  input: unknown,
  resultPath: string | null | undefined,
  result: unknown,
): unknown {
  if (resultPath === null) return input;
  if (resultPath === undefined || resultPath === '$') return result;
  try {
    return setAt(input, parsePath(resultPath), result);
  } catch {
    throw new StatesError(
      'States.ResultPathMatchFailure',
      `Unable to apply ResultPath '${resultPath}' to the state input '${JSON.stringify(input ?? null)}'`,
    );
  }
}
