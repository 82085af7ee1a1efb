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

/** Where the stack is deployed, for the ARNs intrinsic functions resolve to. */
export interface Place {
  partition: string;
  region: string;
  accountId: string;
  stage: string;
}

/**
 * A resolved template's values with Ref, Fn::GetAtt, Fn::Sub and Fn::Join replaced by what
 * CloudFormation gives them: the names the template sets on the resources (a Lambda's
 * FunctionName, a state machine's StateMachineName, a topic's TopicName, a queue's QueueName,
 * a role's or managed policy's name), and `credflow-<stage>-<logical id>` where it sets none.
 * A Ref or attribute it cannot tell throws, so a comparison never passes on a guess.
 */
export function resolveIntrinsics(v: unknown, t: Template, at: Place): unknown {
  const arn = (service: string, rest: string, region = at.region) =>
    `arn:${at.partition}:${service}:${region}:${at.accountId}:${rest}`;
  const prop = (id: string, name: string) => {
    const r = t.Resources[id];
    if (!r) throw new Error(`no resource ${id}`);
    return String(r.Properties[name] ?? `credflow-${at.stage}-${id}`);
  };
  const pseudo: Record<string, string> = {
    'AWS::Partition': at.partition,
    'AWS::Region': at.region,
    'AWS::AccountId': at.accountId,
    'AWS::URLSuffix': 'amazonaws.com',
  };
  const ref = (id: string): string => {
    if (id in pseudo) return pseudo[id] as string;
    if (t.Parameters && id in t.Parameters) return String(t.Parameters[id]?.Default ?? '');
    const type = t.Resources[id]?.Type;
    switch (type) {
      case 'AWS::Lambda::Function':
        return prop(id, 'FunctionName');
      case 'AWS::StepFunctions::StateMachine':
        return arn('states', `stateMachine:${prop(id, 'StateMachineName')}`);
      case 'AWS::SNS::Topic':
        return arn('sns', prop(id, 'TopicName'));
      case 'AWS::SQS::Queue':
        return `https://sqs.${at.region}.amazonaws.com/${at.accountId}/${prop(id, 'QueueName')}`;
      case 'AWS::IAM::ManagedPolicy':
        return `arn:${at.partition}:iam::${at.accountId}:policy/${prop(id, 'ManagedPolicyName')}`;
      case 'AWS::IAM::Role':
        return prop(id, 'RoleName');
      default:
        throw new Error(`Ref ${id}: not resolved (${String(type)})`);
    }
  };
  const getAtt = (id: string, attr: string): string => {
    const type = t.Resources[id]?.Type;
    if (attr === 'Arn') {
      if (type === 'AWS::Lambda::Function') return arn('lambda', `function:${prop(id, 'FunctionName')}`);
      if (type === 'AWS::StepFunctions::StateMachine') return ref(id);
      if (type === 'AWS::SQS::Queue') return arn('sqs', prop(id, 'QueueName'));
      if (type === 'AWS::IAM::Role')
        return `arn:${at.partition}:iam::${at.accountId}:role/${prop(id, 'RoleName')}`;
      if (type === 'AWS::Logs::LogGroup') return arn('logs', `log-group:${prop(id, 'LogGroupName')}:*`);
    }
    if (attr === 'Name' && type === 'AWS::StepFunctions::StateMachine') return prop(id, 'StateMachineName');
    throw new Error(`Fn::GetAtt ${id}.${attr}: not resolved (${String(type)})`);
  };
  const sub = (text: string, vars: Record<string, unknown>) =>
    text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
      if (name in vars) return String(go(vars[name]));
      const [id, attr] = name.split('.');
      return attr ? getAtt(id as string, attr) : ref(name);
    });
  const go = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(go);
    if (x === null || typeof x !== 'object') return x;
    const o = x as Record<string, unknown>;
    if ('Ref' in o) return ref(String(o['Ref']));
    if ('Fn::GetAtt' in o) {
      const a = o['Fn::GetAtt'];
      const [id, attr] = Array.isArray(a) ? (a as string[]) : String(a).split('.');
      return getAtt(id as string, attr as string);
    }
    if ('Fn::Sub' in o) {
      const s = o['Fn::Sub'];
      return Array.isArray(s) ? sub(String(s[0]), s[1] as Record<string, unknown>) : sub(String(s), {});
    }
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return (go(parts) as unknown[]).join(sep);
    }
    return Object.fromEntries(Object.entries(o).map(([k, y]) => [k, go(y)]));
  };
  return go(v);
}
