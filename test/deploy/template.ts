/**
 * Reading a packaged CloudFormation template as CloudFormation would deploy it: conditions
 * evaluated from the parameters' defaults, Fn::If branches chosen, AWS::NoValue and resources
 * whose condition is false dropped. Then IAM statements can be compared as plain data.
 */
export type Resource = { Type: string; Condition?: string; Properties: Record<string, unknown> };
export interface Template {
  Parameters?: Record<string, { Default?: string }>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, Resource>;
}
export interface Statement {
  Effect: string;
  Action: string[];
  Resource: unknown;
  Condition?: unknown;
}

const NO_VALUE = Symbol('NoValue');

function evaluate(c: unknown, t: Template, seen: Record<string, boolean>): boolean {
  const o = c as Record<string, unknown[]>;
  const value = (v: unknown): unknown => {
    const ref = (v as { Ref?: string } | null)?.Ref;
    return ref !== undefined ? t.Parameters?.[ref]?.Default : v;
  };
  if ('Fn::Equals' in o) return value(o['Fn::Equals']?.[0]) === value(o['Fn::Equals']?.[1]);
  if ('Fn::Not' in o) return !evaluate(o['Fn::Not']?.[0], t, seen);
  if ('Fn::Or' in o) return (o['Fn::Or'] ?? []).some((x) => evaluate(x, t, seen));
  if ('Fn::And' in o) return (o['Fn::And'] ?? []).every((x) => evaluate(x, t, seen));
  if ('Condition' in o) return condition(String(o['Condition']), t, seen);
  throw new Error(`cannot evaluate condition ${JSON.stringify(c)}`);
}

function condition(name: string, t: Template, seen: Record<string, boolean>): boolean {
  seen[name] ??= evaluate(t.Conditions?.[name], t, seen);
  return seen[name];
}

function resolve(v: unknown, t: Template, seen: Record<string, boolean>): unknown {
  if (Array.isArray(v)) return v.map((x) => resolve(x, t, seen)).filter((x) => x !== NO_VALUE);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  if ('Fn::If' in o) {
    const [c, yes, no] = o['Fn::If'] as [string, unknown, unknown];
    return resolve(condition(c, t, seen) ? yes : no, t, seen);
  }
  if ((o as { Ref?: string }).Ref === 'AWS::NoValue') return NO_VALUE;
  return Object.fromEntries(
    Object.entries(o)
      .map(([k, x]) => [k, resolve(x, t, seen)] as const)
      .filter(([, x]) => x !== NO_VALUE),
  );
}

/** The template as deployed with its parameters' defaults. */
export function resolveConditions(t: Template): Template {
  const seen: Record<string, boolean> = {};
  const resources: Record<string, Resource> = {};
  for (const [id, r] of Object.entries(t.Resources)) {
    if (r.Condition && !condition(r.Condition, t, seen)) continue;
    resources[id] = resolve(r, t, seen) as Resource;
  }
  return { ...t, Resources: resources };
}

/** A role's (or managed policy's) Allow statements, each Action as a list. */
export function allowStatements(r: Resource): Statement[] {
  const docs = [
    ...((r.Properties['Policies'] as { PolicyDocument: { Statement: unknown[] } }[] | undefined) ?? []).map(
      (p) => p.PolicyDocument,
    ),
    ...(r.Properties['PolicyDocument'] ? [r.Properties['PolicyDocument'] as { Statement: unknown[] }] : []),
  ];
  return docs
    .flatMap((d) => d.Statement as (Omit<Statement, 'Action'> & { Action: string | string[] })[])
    .filter((s) => s.Effect === 'Allow')
    .map((s) => ({ ...s, Action: [s.Action].flat() }));
}

/** The logical id of the role a function (`Role`) or state machine (`RoleArn`) runs as. */
export function roleOf(_t: Template, r: Resource, prop: 'Role' | 'RoleArn'): string {
  const att = (r.Properties[prop] as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (!att) throw new Error(`${prop} is not a Fn::GetAtt of a role in this template`);
  return att[0];
}
