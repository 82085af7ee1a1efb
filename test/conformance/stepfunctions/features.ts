/**
 * The ASL features a definition uses, as flat names: `Task.Retry`, `Retry.BackoffRate`,
 * `Choice.StringEquals`, `intrinsic:States.Format`, `resource:sns:publish`, `context:$$.Execution.Id`,
 * `QueryLanguage:JSONPath`. The workflow guard compares them with the features the conformance
 * suite holds the local runner to.
 */

type Json = Record<string, unknown>;

const CHOICE_RULE_FIELDS = new Set(['Next', 'Comment', 'Assign', 'Output', 'Variable']);

function resourceKind(resource: unknown): string {
  if (typeof resource !== 'string') return 'resource:lambda-function'; // Fn::GetAtt of a function
  if (/^arn:aws:lambda:/.test(resource)) return 'resource:lambda-function';
  const m = /^arn:aws:states:::(aws-sdk:[a-z0-9]+):/.exec(resource);
  if (m) return `resource:${m[1]}`;
  return `resource:${resource.replace(/^arn:aws:states:::/, '')}`;
}

/** The functions Step Functions adds to JSONata (and `$eval`, which it takes away). */
const JSONATA_OWN = new Set(['partition', 'range', 'hash', 'random', 'uuid', 'parse', 'eval']);

/**
 * Intrinsic calls, Context object paths, variables and JSONata function calls in a value: a `.$`
 * field, an Assign or Parameters template, a `{% %}` expression.
 */
function valueFeatures(value: unknown, out: Set<string>): void {
  if (typeof value === 'string' && value.startsWith('{%') && value.endsWith('%}')) {
    out.add('jsonata:expression');
    for (const m of value.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)\s*\(/g)) {
      const fn = m[1] ?? '';
      out.add(JSONATA_OWN.has(fn) ? `jsonata:$${fn}` : 'jsonata:builtin');
    }
  } else if (typeof value === 'string') {
    for (const m of value.matchAll(/States\.[A-Za-z0-9]+(?=\()/g)) out.add(`intrinsic:${m[0]}`);
    // `$$.Map.Item.Value.name` is the Context object's `$$.Map.Item.Value`, then plain JSONPath.
    for (const m of value.matchAll(/\$\$(\.[A-Za-z]+)+/g))
      out.add(`context:${m[0].replace(/^(\$\$\.Map\.Item\.(Value|Index)).*$/, '$1')}`);
    if (/^\$[A-Za-z_]/.test(value)) out.add('variable:read');
  } else if (Array.isArray(value)) {
    for (const v of value) valueFeatures(v, out);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) valueFeatures(v, out);
  }
}

function ruleFeatures(rule: Json, out: Set<string>): void {
  for (const [k, v] of Object.entries(rule)) {
    if (CHOICE_RULE_FIELDS.has(k)) {
      if (k === 'Variable') valueFeatures(v, out);
      if (k === 'Assign') out.add('Choice.rule.Assign');
      continue;
    }
    out.add(`Choice.${k}`);
    if (k === 'And' || k === 'Or') for (const r of v as Json[]) ruleFeatures(r, out);
    else if (k === 'Not') ruleFeatures(v as Json, out);
    else if (k.endsWith('Path')) valueFeatures(v, out);
  }
}

function branchFeatures(branch: Json, language: string, out: Set<string>): void {
  for (const state of Object.values(branch['States'] as Record<string, Json>)) {
    const type = String(state['Type']);
    const lang = typeof state['QueryLanguage'] === 'string' ? state['QueryLanguage'] : language;
    out.add(`QueryLanguage:${lang}`);
    for (const [field, value] of Object.entries(state)) {
      if (field === 'Comment' || field === 'Type' || field === 'QueryLanguage') continue;
      out.add(`${type}.${field}`);
      if (field === 'Resource') out.add(resourceKind(value));
      else if (field === 'Retry' || field === 'Catch')
        for (const r of value as Json[]) for (const k of Object.keys(r)) out.add(`${field}.${k}`);
      else if (field === 'Choices') for (const r of value as Json[]) ruleFeatures(r, out);
      else if (field === 'ItemProcessor' || field === 'Iterator') branchFeatures(value as Json, lang, out);
      else if (field === 'Branches') for (const b of value as Json[]) branchFeatures(b, lang, out);
      else valueFeatures(value, out);
      if (field === 'Catch')
        for (const c of value as Json[]) if (c['Assign']) valueFeatures(c['Assign'], out);
    }
  }
}

/** Every feature `definition` uses. */
export function featuresOf(definition: Json): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(definition)) {
    if (k !== 'States' && k !== 'StartAt' && k !== 'Comment' && k !== 'QueryLanguage') out.add(`top.${k}`);
    if (k === 'TimeoutSeconds') valueFeatures(v, out);
  }
  branchFeatures(definition, String(definition['QueryLanguage'] ?? 'JSONPath'), out);
  return out;
}
