/**
 * Workflow variables and the Context object.
 *
 * Variables (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html): the
 * top-level states share one scope; each Map iteration and Parallel branch runs in a scope of its
 * own that reads the outer ones (CreateStateMachine refuses an inner assignment to an outer name,
 * see definition.ts). A state's Assign takes effect when the state exits: every field of the
 * state, Output included, reads the values from before it.
 *
 * The Context object (`$$`, `$states.context`,
 * https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html), in the
 * field order AWS prints it.
 */

export class VariableScope {
  private readonly values = new Map<string, unknown>();

  constructor(private readonly parent?: VariableScope) {}

  /** A scope for a Map iteration or Parallel branch inside this one. */
  child(): VariableScope {
    return new VariableScope(this);
  }

  has(name: string): boolean {
    return this.values.has(name) || (this.parent?.has(name) ?? false);
  }

  get(name: string): unknown {
    return this.values.has(name) ? this.values.get(name) : this.parent?.get(name);
  }

  /** Every visible variable, inner names over outer ones (JSONata bindings). */
  all(): Record<string, unknown> {
    const out = this.parent ? this.parent.all() : {};
    for (const [k, v] of this.values) out[k] = v;
    return out;
  }

  /** Sets the variables a state assigned, all at once, after the state evaluated them. */
  assign(values: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(values)) this.values.set(k, v);
  }
}

/** What the Context object knows of the execution. */
export interface ExecutionInfo {
  id: string;
  name: string;
  input: unknown;
  roleArn: string;
  startTime: string;
  stateMachineId: string;
  stateMachineName: string;
}

/** Where a state runs: its name, when it was entered, its retries, and a Map item if any. */
export interface StateInfo {
  name: string;
  enteredTime: string;
  retryCount?: number | undefined;
  mapItem?: { index: number; value: unknown } | undefined;
}

/** The Context object one state sees. */
export function contextObject(exec: ExecutionInfo, state: StateInfo): Record<string, unknown> {
  const ctx: Record<string, unknown> = {
    Execution: {
      Id: exec.id,
      Input: exec.input,
      StartTime: exec.startTime,
      Name: exec.name,
      RoleArn: exec.roleArn,
      RedriveCount: 0,
    },
    StateMachine: { Id: exec.stateMachineId, Name: exec.stateMachineName },
    State: {
      Name: state.name,
      EnteredTime: state.enteredTime,
      ...(state.retryCount !== undefined ? { RetryCount: state.retryCount } : {}),
    },
  };
  if (state.mapItem) ctx['Map'] = { Item: { Index: state.mapItem.index, Value: state.mapItem.value } };
  return ctx;
}
