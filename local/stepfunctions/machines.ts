/** State machine definitions: validated once at Create/Update, compiled once per version. */
import './polyfill';
import aslValidator from 'asl-validator';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { AwsError } from '../http/errors';
import { type AslState, statesByName } from './history';
import type { StateMachineRow } from './store';

/** State machine and execution names: 1 to 80 letters, digits, `-` and `_`. */
export const NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** A definition ready to run: parsed, its states indexed, its runner built once. */
export interface Compiled {
  updatedMs: number;
  machine: StateMachine;
  states: Map<string, AslState>;
  tasks: [name: string, state: AslState][];
}

/** Parses and validates a definition with asl-validator; AWS's InvalidDefinition otherwise. */
export function validateDefinition(definition: string): StateMachineDefinition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(definition);
  } catch {
    throw new AwsError('InvalidDefinition', 'Invalid State Machine Definition: definition is not JSON');
  }
  // asl-validator annotates the object it is given: hand it a copy.
  const r = aslValidator(structuredClone(parsed) as never);
  if (!r.isValid) {
    const why = r.errors.map((e) => ('message' in e ? String(e.message) : JSON.stringify(e))).join('; ');
    throw new AwsError('InvalidDefinition', `Invalid State Machine Definition: ${why}`);
  }
  return parsed as StateMachineDefinition;
}

/** Compiled definitions by machine ARN, rebuilt when the machine is updated. */
export class CompiledMachines {
  private readonly compiled = new Map<string, Compiled>();

  compile(sm: StateMachineRow): Compiled {
    const cached = this.compiled.get(sm.arn);
    if (cached && cached.updatedMs === sm.updated_ms) return cached;
    const definition = JSON.parse(sm.definition) as StateMachineDefinition;
    const states = statesByName(definition as never);
    const c: Compiled = {
      updatedMs: sm.updated_ms,
      // Validated once at Create/Update; validating again per run costs ~100 ms.
      machine: new StateMachine(definition, { validationOptions: { noValidate: true } }),
      states,
      tasks: [...states].filter(([, s]) => s.Type === 'Task'),
    };
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
