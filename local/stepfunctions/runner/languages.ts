/**
 * The two query languages of Step Functions, each an object over the same steps
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-input-output-filtering.html,
 * https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html).
 */
import { conditionHolds, ruleMatches, timestampMs } from './choice';
import type { Catcher } from './definition';
import { queryError, quoted, runtimeError } from './errors';
import type { Frame, Language, MapPlan, Produced } from './frame';
import { evaluateTemplate, evaluateTyped, isJsonata, type JsonataEnv } from './jsonata';
import { applyResultPath, applyTemplate, type PathSources, readField, readPath } from './payload';

/** An inline Map runs at most 40 iterations at once (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html). */
export const INLINE_MAP_CONCURRENCY = 40;
/** The longest wait Step Functions accepts: 2^31 - 1 seconds ("Wait state delay is too long"). */
const MAX_WAIT_SECONDS = 2_147_483_647;

const concurrency = (n: number) => (n === 0 ? INLINE_MAP_CONCURRENCY : Math.min(n, INLINE_MAP_CONCURRENCY));

function until(seconds: number): number {
  if (seconds > MAX_WAIT_SECONDS) throw runtimeError('Wait state delay is too long.');
  return Date.now() + seconds * 1000;
}

function untilTimestamp(ms: number): number {
  if ((ms - Date.now()) / 1000 > MAX_WAIT_SECONDS) throw runtimeError('Wait state delay is too long.');
  return ms;
}

// ------------------------------------------------------------------------------------ JSONPath

function sources(f: Frame, input: unknown, mapItem?: { index: number; value: unknown }): PathSources {
  return { input, context: () => f.context(mapItem), variables: f.variables };
}

/** InputPath: `null` is an empty object, absent is the whole input. */
function effectiveInput(f: Frame): unknown {
  const p = f.state.InputPath;
  if (p === null) return {};
  return p === undefined ? f.input : readPath(p, sources(f, f.input));
}

function outputPath(f: Frame, value: unknown): unknown {
  const p = f.state.OutputPath;
  if (p === null) return {};
  return p === undefined ? value : readPath(p, sources(f, value));
}

function assignPath(f: Frame, template: Record<string, unknown> | undefined, input: unknown) {
  return template ? (applyTemplate(template, sources(f, input)) as Record<string, unknown>) : undefined;
}

function nonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/**
 * MaxConcurrencyPath's value: a non-negative integer, or a string that reads as one. AWS, recorded,
 * runs a Map whose MaxConcurrencyPath finds the string "1" (and refuses "NoNumber" and `{}`).
 */
function maxConcurrencyOf(value: unknown): number | undefined {
  if (nonNegativeInteger(value)) return value;
  if (typeof value === 'string' && /^\+?\d{1,10}$/.test(value)) {
    const n = Number(value);
    if (n <= 2_147_483_647) return n;
  }
  return undefined;
}

export const jsonPath: Language = {
  name: 'JSONPath',

  async taskInput(f) {
    const input = effectiveInput(f);
    return f.state.Parameters === undefined ? input : applyTemplate(f.state.Parameters, sources(f, input));
  },

  async timeoutSeconds(f) {
    if (f.state.TimeoutSecondsPath === undefined) return f.state.TimeoutSeconds as number | undefined;
    const path = f.state.TimeoutSecondsPath;
    const v = readPath(path, sources(f, effectiveInput(f)));
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      throw runtimeError(
        `The TimeoutSecondsPath field refers to value "${quoted(v)}" which is not a valid positive integer: ${path}`,
      );
    return v;
  },

  async branchInput(f) {
    return this.taskInput(f);
  },

  async mapPlan(f): Promise<MapPlan> {
    const input = effectiveInput(f);
    const items = f.state.ItemsPath ? readPath(f.state.ItemsPath, sources(f, input)) : input;
    if (!Array.isArray(items))
      throw runtimeError(`Map state input must be an array but was: ${JSON.stringify(items ?? null)}`);
    let max = typeof f.state.MaxConcurrency === 'number' ? f.state.MaxConcurrency : 0;
    if (f.state.MaxConcurrencyPath) {
      const path = f.state.MaxConcurrencyPath;
      const v = readPath(path, sources(f, input));
      const n = maxConcurrencyOf(v);
      if (n === undefined)
        throw runtimeError(
          `The MaxConcurrencyPath field refers to value "${quoted(v)}" which is not a valid integer: ${path}`,
        );
      max = n;
    }
    const selector = f.state.ItemSelector ?? f.state.Parameters;
    return {
      items,
      maxConcurrency: concurrency(max),
      itemInput: async (index, value) =>
        selector === undefined ? value : applyTemplate(selector, sources(f, input, { index, value })),
    };
  },

  async waitUntil(f) {
    const s = f.state;
    const input = effectiveInput(f);
    if (s.Seconds !== undefined) return until(Number(s.Seconds));
    if (s.Timestamp !== undefined) return untilTimestamp(timestampMs(s.Timestamp));
    if (s.SecondsPath !== undefined) {
      const path = s.SecondsPath;
      let v: unknown;
      try {
        v = readPath(path, sources(f, input));
      } catch {
        throw runtimeError(`The SecondsPath parameter does not reference an input value: ${path}`);
      }
      if (typeof v !== 'number' || !Number.isInteger(v))
        throw runtimeError(
          `The SecondsPath parameter cannot be parsed as a long value: ${path} == ${quoted(v)}`,
        );
      if (v < 0) throw runtimeError(`The SecondsPath parameter references a negative value: ${path} == ${v}`);
      return until(v);
    }
    const path = String(s.TimestampPath);
    let v: unknown;
    try {
      v = readPath(path, sources(f, input));
    } catch {
      throw runtimeError(`The TimestampPath parameter does not reference an input value: ${path}`);
    }
    const ms = timestampMs(v);
    if (Number.isNaN(ms))
      throw runtimeError(
        `The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: ${path} == ${quoted(v)}`,
      );
    return untilTimestamp(ms);
  },

  async failure(f) {
    const s = f.state;
    const src = sources(f, f.input);
    const read = (path: string | undefined, literal: string | undefined, field: string) =>
      path !== undefined ? quoted(readField(path, field, src)) : literal;
    return { error: read(s.ErrorPath, s.Error, 'ErrorPath'), cause: read(s.CausePath, s.Cause, 'CausePath') };
  },

  async choose(f) {
    const input = effectiveInput(f);
    const src = sources(f, input);
    const rule = (f.state.Choices ?? []).find((r) => ruleMatches(r, src));
    if (!rule && f.state.Default === undefined)
      throw runtimeError(`No Choice rule matched the input and the state has no Default`);
    const assigned = assignPath(f, rule ? rule.Assign : f.state.Assign, input);
    return { next: rule ? rule.Next : f.state.Default, output: outputPath(f, input), assigned };
  },

  async finish(f, result) {
    const s = f.state;
    if (!result) {
      // Choice, Wait, Succeed: the (filtered) input passes through.
      const input = effectiveInput(f);
      return { output: outputPath(f, input), assigned: assignPath(f, s.Assign, input) };
    }
    let value = result.value;
    if (s.ResultSelector !== undefined) value = applyTemplate(s.ResultSelector, sources(f, value));
    const assigned = assignPath(f, s.Assign, value);
    return { output: outputPath(f, applyResultPath(f.input, s.ResultPath, value)), assigned };
  },

  async caught(f, catcher, errorOutput) {
    return {
      output: applyResultPath(f.input, catcher.ResultPath, errorOutput),
      assigned: assignPath(f, catcher.Assign, errorOutput),
    };
  },
};

/** Pass in JSONPath: the Result, else the Parameters, else the input, is the result. */
export async function passResult(f: Frame): Promise<unknown> {
  if (f.language.name === 'JSONata') return f.input;
  if ('Result' in f.state) return f.state.Result;
  const input = effectiveInput(f);
  return f.state.Parameters === undefined ? input : applyTemplate(f.state.Parameters, sources(f, input));
}

// ------------------------------------------------------------------------------------ JSONata

function env(
  f: Frame,
  extra: { result?: unknown; errorOutput?: unknown; mapItem?: { index: number; value: unknown } } = {},
): JsonataEnv {
  return {
    states: {
      input: f.input,
      context: f.context(extra.mapItem),
      ...('result' in extra ? { result: extra.result } : {}),
      ...('errorOutput' in extra ? { errorOutput: extra.errorOutput } : {}),
    },
    variables: f.variables.all(),
  };
}

async function assignJsonata(
  template: Record<string, unknown> | undefined,
  e: JsonataEnv,
  location: string,
): Promise<Record<string, unknown> | undefined> {
  if (!template) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(template)) out[k] = await evaluateTemplate(v, e, `${location}/${k}`);
  return out;
}

/** A field that is a literal or an expression, and must be a non-negative integer. */
async function integerField(template: unknown, e: JsonataEnv, field: string): Promise<number> {
  const v = await evaluateTyped(template, e, field, 'integer');
  if ((v as number) < 0) throw queryError(`The field '${field}' must not be negative, but was: ${v}`, field);
  return v as number;
}

export const jsonata: Language = {
  name: 'JSONata',

  async taskInput(f) {
    return f.state.Arguments === undefined
      ? f.input
      : evaluateTemplate(f.state.Arguments, env(f), 'Arguments');
  },

  async timeoutSeconds(f) {
    if (f.state.TimeoutSeconds === undefined) return undefined;
    return integerField(f.state.TimeoutSeconds, env(f), 'TimeoutSeconds');
  },

  async branchInput(f) {
    return this.taskInput(f);
  },

  async mapPlan(f): Promise<MapPlan> {
    const e = env(f);
    let items: unknown;
    if (f.state.Items === undefined) {
      items = f.input;
      if (!Array.isArray(items))
        throw queryError(`Map state input must be an array but was: ${JSON.stringify(items ?? null)}`);
    } else items = await evaluateTyped(f.state.Items, e, 'Items', 'array');
    const max =
      f.state.MaxConcurrency === undefined
        ? 0
        : await integerField(f.state.MaxConcurrency, e, 'MaxConcurrency');
    const selector = f.state.ItemSelector;
    return {
      items: items as unknown[],
      maxConcurrency: concurrency(max),
      itemInput: async (index, value) =>
        selector === undefined
          ? value
          : evaluateTemplate(selector, env(f, { mapItem: { index, value } }), 'ItemSelector'),
    };
  },

  async waitUntil(f) {
    const e = env(f);
    if (f.state.Seconds !== undefined) return until(await integerField(f.state.Seconds, e, 'Seconds'));
    const v = isJsonata(f.state.Timestamp)
      ? await evaluateTyped(f.state.Timestamp, e, 'Timestamp', 'string')
      : f.state.Timestamp;
    const ms = timestampMs(v);
    if (Number.isNaN(ms))
      throw queryError(
        `The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: ${quoted(v)}`,
        'Timestamp',
      );
    return untilTimestamp(ms);
  },

  async failure(f) {
    const e = env(f);
    const field = async (v: unknown, name: string) =>
      v === undefined ? undefined : String(await evaluateTyped(v, e, name, 'string'));
    return { error: await field(f.state.Error, 'Error'), cause: await field(f.state.Cause, 'Cause') };
  },

  async choose(f) {
    const e = env(f);
    const rules = f.state.Choices ?? [];
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      if (rule && (await conditionHolds(rule, e, i)))
        return { next: rule.Next, ...(await produce(f, rule, e, `Choices/${i}/`)) };
    }
    if (f.state.Default === undefined)
      throw runtimeError(`No Choice rule matched the input and the state has no Default`);
    return { next: f.state.Default, ...(await produce(f, f.state, e, '')) };
  },

  async finish(f, result) {
    const e = result ? env(f, { result: result.value }) : env(f);
    const fallback = result ? result.value : f.input;
    const output =
      f.state.Output === undefined ? fallback : await evaluateTemplate(f.state.Output, e, 'Output');
    return { output, assigned: await assignJsonata(f.state.Assign, e, 'Assign') };
  },

  async caught(f, catcher, errorOutput) {
    const e = env(f, { errorOutput });
    const output =
      catcher.Output === undefined ? errorOutput : await evaluateTemplate(catcher.Output, e, 'Catch/Output');
    return { output, assigned: await assignJsonata(catcher.Assign, e, 'Catch/Assign') };
  },
};

/** Output and Assign of a Choice rule or of the Choice state itself (taken on Default). */
async function produce(
  f: Frame,
  from: { Output?: unknown; Assign?: Record<string, unknown> },
  e: JsonataEnv,
  at: string,
): Promise<Produced> {
  const output = from.Output === undefined ? f.input : await evaluateTemplate(from.Output, e, `${at}Output`);
  return { output, assigned: await assignJsonata(from.Assign, e, `${at}Assign`) };
}

export const LANGUAGES = { JSONPath: jsonPath, JSONata: jsonata } as const;

/** A Catcher's `{Error, Cause}`, as $states.errorOutput and the caught output show it. */
export type ErrorOutput = Parameters<Language['caught']>[2];
export type { Catcher };
