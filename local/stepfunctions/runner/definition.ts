/**
 * The Amazon States Language as the local runner reads it
 * (https://states-language.net/spec.html, https://docs.aws.amazon.com/step-functions/latest/dg/).
 */

export type QueryLanguage = 'JSONPath' | 'JSONata';
export type StateType = 'Pass' | 'Task' | 'Choice' | 'Wait' | 'Succeed' | 'Fail' | 'Parallel' | 'Map';

export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'FULL' | 'NONE';
}

export interface Catcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
  Output?: unknown;
  Assign?: Record<string, unknown>;
}

export interface ChoiceRule {
  Next?: string;
  Condition?: unknown;
  Variable?: string;
  And?: ChoiceRule[];
  Or?: ChoiceRule[];
  Not?: ChoiceRule;
  Assign?: Record<string, unknown>;
  Output?: unknown;
  [operator: string]: unknown;
}

export interface AslBranch {
  StartAt: string;
  States: Record<string, AslState>;
  QueryLanguage?: QueryLanguage;
  ProcessorConfig?: { Mode?: string; ExecutionType?: string };
}

export interface AslState {
  Type: StateType;
  QueryLanguage?: QueryLanguage;
  Comment?: string;
  Next?: string;
  End?: boolean;
  InputPath?: string | null;
  OutputPath?: string | null;
  ResultPath?: string | null;
  Parameters?: unknown;
  ResultSelector?: unknown;
  Result?: unknown;
  Arguments?: unknown;
  Output?: unknown;
  Assign?: Record<string, unknown>;
  Resource?: string;
  TimeoutSeconds?: number | string;
  TimeoutSecondsPath?: string;
  HeartbeatSeconds?: number | string;
  HeartbeatSecondsPath?: string;
  Retry?: Retrier[];
  Catch?: Catcher[];
  Choices?: ChoiceRule[];
  Default?: string;
  Seconds?: number | string;
  SecondsPath?: string;
  Timestamp?: string;
  TimestampPath?: string;
  Error?: string;
  ErrorPath?: string;
  Cause?: string;
  CausePath?: string;
  Branches?: AslBranch[];
  ItemProcessor?: AslBranch;
  Iterator?: AslBranch;
  ItemsPath?: string;
  Items?: unknown;
  ItemSelector?: unknown;
  MaxConcurrency?: number | string;
  MaxConcurrencyPath?: string;
}

export interface AslDefinition extends AslBranch {
  Comment?: string;
  Version?: string;
  TimeoutSeconds?: number;
}

/** The query language of a state: its own, else the machine's, else JSONPath. */
export function languageOf(state: { QueryLanguage?: QueryLanguage }, machine: QueryLanguage): QueryLanguage {
  return state.QueryLanguage ?? machine;
}

/** The states of a Map's iteration (ItemProcessor, or the older Iterator). */
export function processorOf(state: AslState): AslBranch | undefined {
  return state.ItemProcessor ?? state.Iterator;
}

/** Choice operators of JSONPath rules (https://states-language.net/spec.html#choice-state). */
export const COMPARISONS = [
  'StringEquals',
  'StringLessThan',
  'StringGreaterThan',
  'StringLessThanEquals',
  'StringGreaterThanEquals',
  'StringMatches',
  'NumericEquals',
  'NumericLessThan',
  'NumericGreaterThan',
  'NumericLessThanEquals',
  'NumericGreaterThanEquals',
  'BooleanEquals',
  'TimestampEquals',
  'TimestampLessThan',
  'TimestampGreaterThan',
  'TimestampLessThanEquals',
  'TimestampGreaterThanEquals',
  'IsNull',
  'IsPresent',
  'IsNumeric',
  'IsString',
  'IsBoolean',
  'IsTimestamp',
] as const;
