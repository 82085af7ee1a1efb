/** State machine definitions: validated once at Create/Update, parsed once per version. */
import aslValidator from 'asl-validator';
import { AwsError } from '../http/errors';
import { assertJsonDepth } from '../http/json-depth';
import type { AslDefinition } from './runner/definition';
import { checkDefinition, describeDiagnostics } from './runner/validate';
import type { StateMachineRow } from './store';

/** State machine and execution names: 1 to 80 letters, digits, `-` and `_`. */
export const NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** A definition ready to run. */
export interface Compiled {
  updatedMs: number;
  definition: AslDefinition;
}

const invalid = (why: string) =>
  new AwsError('InvalidDefinition', `Invalid State Machine Definition: '${why}'`);

/**
 * Parses and validates a definition: the runner's own checks (query languages, `.$` fields,
 * JSONata syntax, variables, what the local cloud emulates), then asl-validator's schema.
 * AWS's InvalidDefinition otherwise.
 */
export function validateDefinition(definition: string): AslDefinition {
  assertJsonDepth(definition, 'definition');
  let parsed: unknown;
  try {
    parsed = JSON.parse(definition);
  } catch {
    throw invalid('INVALID_JSON_DESCRIPTION: definition is not JSON');
  }
  const def = parsed as AslDefinition;
  if (def && typeof def === 'object' && def.States && typeof def.States === 'object') {
    const diagnostics = checkDefinition(def);
    if (diagnostics.length > 0) throw invalid(describeDiagnostics(diagnostics));
  }
  // asl-validator annotates the object it is given: hand it a copy.
  const r = aslValidator(forSchema(structuredClone(parsed)) as never);
  if (!r.isValid) {
    const why = r.errors.map((e) => ('message' in e ? String(e.message) : JSON.stringify(e))).join('; ');
    throw invalid(`SCHEMA_VALIDATION_FAILED: ${why}`);
  }
  return def;
}

/**
 * The copy asl-validator's schema sees, without what AWS accepts and the schema refuses; the
 * runner's own checks (validate.ts) have looked at each of these already:
 * - a JSONata `Output` of any JSON value (a plain string too);
 * - an `Assign` of constant literals: AWS, recorded, takes any JSON as a variable's value (null,
 *   lists holding null, path-like and `{% %}`-like strings in a JSONPath state are constants);
 *   the schema refuses null in a list, so the copy keeps an empty object in its place;
 * - a JSONata Choice rule whose `Condition` is a constant `true` or `false`, not an expression
 *   (recorded on AWS: `"Condition": true` takes its rule).
 */
function forSchema(node: unknown): unknown {
  if (Array.isArray(node)) {
    for (const v of node) forSchema(v);
  } else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (typeof o['Output'] === 'string' && ('Type' in o || 'Next' in o)) delete o['Output'];
    if (o['Assign'] && typeof o['Assign'] === 'object' && !Array.isArray(o['Assign'])) o['Assign'] = {};
    if (typeof o['Condition'] === 'boolean' && 'Next' in o) o['Condition'] = `{% ${o['Condition']} %}`;
    for (const [k, v] of Object.entries(o)) if (k !== 'Output' && k !== 'Assign') forSchema(v);
  }
  return node;
}

/** Parsed definitions by machine ARN, parsed again when the machine is updated. */
export class CompiledMachines {
  private readonly compiled = new Map<string, Compiled>();

  compile(sm: StateMachineRow): Compiled {
    const cached = this.compiled.get(sm.arn);
    if (cached && cached.updatedMs === sm.updated_ms) return cached;
    // Validated once at Create/Update; parsing again per run would cost every execution.
    const c: Compiled = { updatedMs: sm.updated_ms, definition: JSON.parse(sm.definition) as AslDefinition };
    this.compiled.set(sm.arn, c);
    return c;
  }

  forget(arn: string): void {
    this.compiled.delete(arn);
  }
}

/** AWS-style paging over an in-memory list; the token is an opaque offset. */
export function paginate<T>(items: T[], input: { maxResults?: number; nextToken?: string }) {
  let start = 0;
  if (input.nextToken) {
    start = Number(Buffer.from(input.nextToken, 'base64url').toString());
    if (!Number.isInteger(start) || start < 0)
      throw new AwsError('InvalidToken', `Invalid Token: '${input.nextToken}'`);
  }
  const max = input.maxResults && input.maxResults > 0 ? input.maxResults : 100;
  const page = items.slice(start, start + max);
  const nextToken =
    start + max < items.length ? Buffer.from(String(start + max)).toString('base64url') : undefined;
  return { page, nextToken };
}
