/**
 * The checks CreateStateMachine makes beyond asl-validator's schema: the query-language rules,
 * `.$` fields that must be a path or an intrinsic call, JSONata expressions that must parse,
 * variable names and scopes, and an allowlist of what this runner executes as AWS does. Whatever
 * is not on the list (Distributed Map, activities, callbacks...) is refused with a clear
 * InvalidDefinition rather than run differently; test/unit/workflows holds every workflow to the
 * same list.
 */
import {
  type AslBranch,
  type AslDefinition,
  type AslState,
  languageOf,
  processorOf,
  type QueryLanguage,
  type StateType,
} from './definition';
import { isIntrinsic, parseIntrinsic } from './intrinsics';
import { compileJsonata, isJsonata } from './jsonata';
import { isPath, parsePath } from './jsonpath';

/** One problem with a definition, in the shape AWS reports them. */
export interface Diagnostic {
  code: 'SCHEMA_VALIDATION_FAILED' | 'UNSUPPORTED_FEATURE';
  message: string;
  location: string;
}

const COMMON = ['Type', 'Comment', 'QueryLanguage', 'Next', 'End'];
/** Fields each state type may have, by query language (the JSONata column of the AWS guide). */
const FIELDS: Record<StateType, { JSONPath: string[]; JSONata: string[] }> = {
  Pass: {
    JSONPath: ['InputPath', 'OutputPath', 'ResultPath', 'Parameters', 'Result', 'Assign'],
    JSONata: ['Output', 'Assign'],
  },
  Task: {
    JSONPath: [
      'Resource',
      'InputPath',
      'OutputPath',
      'ResultPath',
      'Parameters',
      'ResultSelector',
      'Assign',
      'TimeoutSeconds',
      'TimeoutSecondsPath',
      'Retry',
      'Catch',
    ],
    JSONata: ['Resource', 'Arguments', 'Output', 'Assign', 'TimeoutSeconds', 'Retry', 'Catch'],
  },
  Choice: {
    JSONPath: ['Choices', 'Default', 'InputPath', 'OutputPath', 'Assign'],
    JSONata: ['Choices', 'Default', 'Output', 'Assign'],
  },
  Wait: {
    JSONPath: ['Seconds', 'SecondsPath', 'Timestamp', 'TimestampPath', 'InputPath', 'OutputPath', 'Assign'],
    JSONata: ['Seconds', 'Timestamp', 'Output', 'Assign'],
  },
  Succeed: { JSONPath: ['InputPath', 'OutputPath'], JSONata: ['Output'] },
  Fail: { JSONPath: ['Error', 'ErrorPath', 'Cause', 'CausePath'], JSONata: ['Error', 'Cause'] },
  Parallel: {
    JSONPath: [
      'Branches',
      'InputPath',
      'OutputPath',
      'ResultPath',
      'Parameters',
      'ResultSelector',
      'Assign',
      'Retry',
      'Catch',
    ],
    JSONata: ['Branches', 'Arguments', 'Output', 'Assign', 'Retry', 'Catch'],
  },
  Map: {
    JSONPath: [
      'ItemProcessor',
      'Iterator',
      'ItemsPath',
      'ItemSelector',
      'Parameters',
      'MaxConcurrency',
      'MaxConcurrencyPath',
      'InputPath',
      'OutputPath',
      'ResultPath',
      'ResultSelector',
      'Assign',
      'Retry',
      'Catch',
    ],
    JSONata: [
      'ItemProcessor',
      'Iterator',
      'Items',
      'ItemSelector',
      'MaxConcurrency',
      'Output',
      'Assign',
      'Retry',
      'Catch',
    ],
  },
};

/** Fields AWS has that this runner does not execute (or not as AWS does). */
const NOT_EMULATED: Record<string, string> = {
  ItemReader: 'Distributed Map (ItemReader)',
  ItemBatcher: 'Distributed Map (ItemBatcher)',
  ResultWriter: 'Distributed Map (ResultWriter)',
  ToleratedFailurePercentage: 'Distributed Map (ToleratedFailurePercentage)',
  ToleratedFailurePercentagePath: 'Distributed Map (ToleratedFailurePercentagePath)',
  ToleratedFailureCount: 'Distributed Map (ToleratedFailureCount)',
  ToleratedFailureCountPath: 'Distributed Map (ToleratedFailureCountPath)',
  Label: 'Distributed Map (Label)',
  HeartbeatSeconds: 'HeartbeatSeconds (no callback or activity tasks)',
  HeartbeatSecondsPath: 'HeartbeatSecondsPath (no callback or activity tasks)',
  Credentials: 'Task Credentials (cross-account roles)',
};

/**
 * Task resources the local cloud runs: Lambda functions, and the integrations its own services
 * answer. Callback (`.waitForTaskToken`) and activity resources need APIs it does not have.
 */
const RESOURCES: RegExp[] = [
  /^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$/,
  /^arn:aws:states:::lambda:invoke$/,
  /^arn:aws:states:::events:putEvents$/,
  /^arn:aws:states:::sns:publish$/,
  /^arn:aws:states:::states:startExecution(\.sync(:2)?)?$/,
  /^arn:aws:states:::aws-sdk:(secretsmanager|sfn|eventbridge|rds|sns):[a-zA-Z0-9]+$/,
];

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** AWS reserves `states` ($states) and caps a variable name at 80 characters. */
const MAX_VARIABLE_NAME = 80;

/** Everything wrong with a definition for this runner; empty when it runs as on AWS. */
export function checkDefinition(def: AslDefinition): Diagnostic[] {
  const out: Diagnostic[] = [];
  const machineLanguage = def.QueryLanguage ?? 'JSONPath';
  checkBranch(def, machineLanguage, '', [], out);
  return out;
}

function checkBranch(
  branch: AslBranch,
  machine: QueryLanguage,
  at: string,
  outerVariables: Set<string>[],
  out: Diagnostic[],
): void {
  const states = Object.entries(branch.States ?? {});
  // Every name this scope assigns, wherever the state stands: a scope inside may assign none of them.
  const assigned = new Set<string>();
  for (const [name, state] of states) {
    const where = `${at}/States/${name}`;
    const language = languageOf(state, machine);
    for (const [field, assign] of assignmentsOf(state))
      for (const key of Object.keys(assign)) {
        const variable = language === 'JSONPath' ? key.replace(/\.\$$/, '') : key;
        checkVariable(variable, `${where}/${field}`, outerVariables, out);
        assigned.add(variable);
      }
  }
  for (const [name, state] of states) {
    const where = `${at}/States/${name}`;
    const language = languageOf(state, machine);
    if (machine === 'JSONata' && state.QueryLanguage === 'JSONPath')
      out.push(
        schema(`'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine`, where),
      );
    checkFields(state, language, where, out);
    if (language === 'JSONPath') checkPathFields(state, where, out);
    else checkJsonataFields(state, where, out);
    checkRules(state, language, where, out);
    const inners = state.Branches
      ? state.Branches.map((b, i) => [b, `${where}/Branches/${i}`] as const)
      : processorOf(state)
        ? [
            [
              processorOf(state) as AslBranch,
              `${where}/${state.ItemProcessor ? 'ItemProcessor' : 'Iterator'}`,
            ] as const,
          ]
        : [];
    for (const [inner, innerAt] of inners) {
      const mode = inner.ProcessorConfig?.Mode;
      if (mode && mode !== 'INLINE')
        out.push(
          unsupported(`Map ProcessorConfig Mode ${mode} (Distributed Map)`, `${innerAt}/ProcessorConfig`),
        );
      checkBranch(inner, machine, innerAt, [...outerVariables, assigned], out);
    }
  }
}

/** Choice rules and Catchers carry the fields of their state's query language only. */
function checkRules(state: AslState, language: QueryLanguage, where: string, out: Diagnostic[]): void {
  const other = (field: string, at: string) =>
    out.push(schema(`The field '${field}' is not supported for QueryLanguage '${language}'`, at));
  (state.Choices ?? []).forEach((rule, i) => {
    if (language === 'JSONata') {
      for (const field of Object.keys(rule))
        if (!['Condition', 'Next', 'Assign', 'Output', 'Comment'].includes(field))
          other(field, `${where}/Choices/${i}`);
    } else if ('Condition' in rule || 'Output' in rule)
      other('Condition' in rule ? 'Condition' : 'Output', `${where}/Choices/${i}`);
  });
  (state.Catch ?? []).forEach((c, i) => {
    if (language === 'JSONata' && 'ResultPath' in c) other('ResultPath', `${where}/Catch/${i}`);
    if (language === 'JSONPath' && 'Output' in c) other('Output', `${where}/Catch/${i}`);
  });
}

function checkFields(state: AslState, language: QueryLanguage, where: string, out: Diagnostic[]): void {
  const spec = FIELDS[state.Type];
  if (!spec) return;
  const allowed = new Set([...COMMON, ...spec[language]]);
  for (const field of Object.keys(state)) {
    if (allowed.has(field)) continue;
    const feature = NOT_EMULATED[field];
    if (feature) out.push(unsupported(feature, where));
    else if (spec[language === 'JSONPath' ? 'JSONata' : 'JSONPath'].includes(field))
      out.push(schema(`The field '${field}' is not supported for QueryLanguage '${language}'`, where));
  }
  if (
    state.Type === 'Task' &&
    typeof state.Resource === 'string' &&
    !RESOURCES.some((r) => r.test(state.Resource ?? ''))
  )
    out.push(unsupported(`Task resource ${state.Resource}`, `${where}/Resource`));
  for (const r of state.Retry ?? [])
    if (r.JitterStrategy !== undefined && r.JitterStrategy !== 'FULL' && r.JitterStrategy !== 'NONE')
      out.push(schema(`JitterStrategy must be FULL or NONE`, `${where}/Retry`));
}

/** `.$` keys must hold a path or an intrinsic call; the *Path fields a path. */
function checkPathFields(state: AslState, where: string, out: Diagnostic[]): void {
  const templates: [string, unknown][] = [
    ['Parameters', state.Parameters],
    ['ResultSelector', state.ResultSelector],
    ['ItemSelector', state.ItemSelector],
    ['Assign', state.Assign],
  ];
  for (const c of state.Catch ?? []) templates.push(['Catch/Assign', c.Assign]);
  for (const r of state.Choices ?? []) templates.push(['Choices/Assign', r.Assign]);
  for (const [field, template] of templates) checkPayloadTemplate(template, `${where}/${field}`, out);
  const paths: [string, unknown][] = [
    ['InputPath', state.InputPath],
    ['OutputPath', state.OutputPath],
    ['ItemsPath', state.ItemsPath],
    ['SecondsPath', state.SecondsPath],
    ['TimestampPath', state.TimestampPath],
    ['MaxConcurrencyPath', state.MaxConcurrencyPath],
    ['TimeoutSecondsPath', state.TimeoutSecondsPath],
  ];
  for (const [field, value] of paths)
    if (typeof value === 'string') checkPath(value, field, `${where}/${field}`, out);
  for (const field of ['ErrorPath', 'CausePath'] as const) {
    const value = state[field];
    if (typeof value === 'string') checkPathOrIntrinsic(value, field, `${where}/${field}`, out);
  }
}

function checkPayloadTemplate(template: unknown, where: string, out: Diagnostic[]): void {
  if (Array.isArray(template)) {
    for (const v of template) checkPayloadTemplate(v, where, out);
  } else if (template !== null && typeof template === 'object')
    for (const [k, v] of Object.entries(template)) {
      if (k.endsWith('.$')) {
        if (typeof v !== 'string') out.push(schema(`The value for the field '${k}' must be a STRING`, where));
        else checkPathOrIntrinsic(v, k, where, out);
      } else checkPayloadTemplate(v, where, out);
    }
}

function checkPathOrIntrinsic(value: string, field: string, where: string, out: Diagnostic[]): void {
  try {
    if (isIntrinsic(value)) parseIntrinsic(value);
    else if (isPath(value)) parsePath(value);
    else throw new Error('neither');
  } catch {
    out.push(
      schema(
        `The value for the field '${field}' must be a valid JSONPath or a valid intrinsic function call`,
        where,
      ),
    );
  }
}

function checkPath(value: string, field: string, where: string, out: Diagnostic[]): void {
  try {
    if (!isPath(value)) throw new Error('not a path');
    parsePath(value);
  } catch {
    out.push(schema(`The value for the field '${field}' must be a valid JSONPath`, where));
  }
}

/** Every `{% %}` string must parse as JSONata. */
function checkJsonataFields(state: AslState, where: string, out: Diagnostic[]): void {
  const visit = (v: unknown, at: string) => {
    if (isJsonata(v)) {
      try {
        compileJsonata(v);
      } catch (err) {
        out.push(
          schema(
            `The JSONata expression '${v.slice(2, -2).trim()}' is invalid: ${(err as Error).message}`,
            at,
          ),
        );
      }
    } else if (Array.isArray(v)) {
      for (const x of v) visit(x, at);
    } else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) visit(x, `${at}/${k}`);
  };
  for (const field of [
    'Arguments',
    'Output',
    'Assign',
    'Items',
    'ItemSelector',
    'MaxConcurrency',
    'TimeoutSeconds',
    'Seconds',
    'Timestamp',
    'Error',
    'Cause',
  ] as const)
    visit(state[field], `${where}/${field}`);
  for (const [i, r] of (state.Choices ?? []).entries()) visit(r, `${where}/Choices/${i}`);
  for (const [i, c] of (state.Catch ?? []).entries()) visit(c, `${where}/Catch/${i}`);
}

function assignmentsOf(state: AslState): [string, Record<string, unknown>][] {
  const out: [string, Record<string, unknown>][] = [];
  if (state.Assign) out.push(['Assign', state.Assign]);
  for (const [i, c] of (state.Catch ?? []).entries()) if (c.Assign) out.push([`Catch/${i}/Assign`, c.Assign]);
  for (const [i, r] of (state.Choices ?? []).entries())
    if (r.Assign) out.push([`Choices/${i}/Assign`, r.Assign]);
  return out;
}

/**
 * A Map iteration or Parallel branch reads the variables of the scopes around it but cannot
 * assign them ("Variable scope", https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html).
 */
function checkVariable(name: string, where: string, outer: Set<string>[], out: Diagnostic[]): void {
  if (name === 'states') out.push(schema(`The variable name 'states' is reserved`, where));
  else if (!VARIABLE_NAME.test(name) || name.length > MAX_VARIABLE_NAME)
    out.push(schema(`The variable name '${name}' is invalid`, where));
  else if (outer.some((s) => s.has(name)))
    out.push(
      schema(`The variable '${name}' is assigned in an outer scope and cannot be assigned here`, where),
    );
}

const schema = (message: string, location: string): Diagnostic => ({
  code: 'SCHEMA_VALIDATION_FAILED',
  message,
  location: location || '/',
});

const unsupported = (feature: string, location: string): Diagnostic => ({
  code: 'UNSUPPORTED_FEATURE',
  message: `${feature} is not emulated by the local cloud`,
  location,
});

/** AWS's InvalidDefinition text for a list of diagnostics. */
export function describeDiagnostics(diagnostics: Diagnostic[]): string {
  return diagnostics.map((d) => `${d.code}: ${d.message} at ${d.location}`).join(', ');
}
