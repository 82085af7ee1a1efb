/**
 * The IAM that the stack deploys, read from serverless.yml (and the resources/*.yml files it
 * includes) as `serverless package` would put it into the CloudFormation template, with the
 * intrinsic functions resolved for the local account, region and stage: each role's inline and
 * attached managed policies, which role each function and state machine runs as, and the
 * functions' resource policies (AWS::Lambda::Permission). The local cloud enforces exactly this;
 * test/deploy/package.test.ts checks it against the packaged template.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { PolicyDocument, Statement } from './types';

export interface TemplateTarget {
  region: string;
  accountId: string;
  stage: string;
  /** `aws` locally, as in the commercial regions. */
  partition?: string;
  /** Parameters over serverless.yml's `params` (as `serverless deploy --param="name=value"`). */
  params?: Record<string, string>;
}

/** A policy and where it comes from, named as decisions report it. */
export interface TemplatePolicy {
  name: string;
  document: PolicyDocument;
}

export interface TemplateRole {
  logicalId: string;
  name: string;
  arn: string;
  /** Inline policies then attached managed policies. */
  policies: TemplatePolicy[];
  /** Its trust policy (AssumeRolePolicyDocument): which principals may assume it. */
  trust: PolicyDocument;
}

export interface TemplateManagedPolicy {
  logicalId: string;
  arn: string;
  document: PolicyDocument;
}

export interface StackIam {
  roles: Map<string, TemplateRole>;
  managedPolicies: Map<string, TemplateManagedPolicy>;
  /** Function key (serverless.yml) -> its role's logical id. */
  functionRoles: Map<string, string>;
  /** State machine key -> its role's logical id. */
  stateMachineRoles: Map<string, string>;
  /** Function ARN -> its resource policy (the AWS::Lambda::Permission resources naming it). */
  functionPolicies: Map<string, PolicyDocument>;
}

/** The AWS managed policies credflow's roles attach, as far as the local cloud needs them. */
const AWS_MANAGED: Record<string, Statement[]> = {
  'service-role/AWSLambdaBasicExecutionRole': [
    {
      Effect: 'Allow',
      Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: '*',
    },
  ],
  AWSXRayDaemonWriteAccess: [
    {
      Effect: 'Allow',
      Action: [
        'xray:PutTraceSegments',
        'xray:PutTelemetryRecords',
        'xray:GetSamplingRules',
        'xray:GetSamplingTargets',
        'xray:GetSamplingStatisticSummaries',
      ],
      Resource: '*',
    },
  ],
};

export class TemplateError extends Error {
  override name = 'TemplateError' as const;
}

const NO_VALUE = Symbol('NoValue');

type Yml = Record<string, unknown>;

/** serverless.yml's `${...}` variables that an IAM resource may hold, for a deployment with no VPC and no KMS param. */
function serverlessVars(text: string, root: string, stage: string, params: Record<string, string>): unknown {
  const whole = /^\$\{file\(([^)]+)\):([\w.]+)\}$/.exec(text.trim());
  if (whole?.[1] && whole[2]) {
    const doc = parse(readFileSync(path.join(root, whole[1]), 'utf8')) as Yml;
    let v: unknown = doc;
    for (const k of whole[2].split('.')) v = (v as Yml | undefined)?.[k];
    if (v === undefined) throw new TemplateError(`${text}: nothing there`);
    return deepVars(v, root, stage, params);
  }
  return text
    .replace(/\$\{sls:stage\}/g, stage)
    .replace(/\$\{self:service\}/g, 'credflow')
    .replace(/\$\{param:([\w-]+)(?:,\s*'([^']*)')?\}/g, (_w, name: string, fallback?: string) => {
      const v = params[name] ?? fallback;
      if (v === undefined) throw new TemplateError(`serverless.yml: no param ${name}`);
      return v;
    })
    .replace(/\$\{self:custom\.kmsKeyArn\}/g, '')
    .replace(/\$\{self:custom\.network\.(enabled|endpoints\.\w+)\}/g, 'false')
    .replace(/\$\{self:custom\.network\.vpcId\}/g, '');
}

function deepVars(v: unknown, root: string, stage: string, params: Record<string, string>): unknown {
  if (typeof v === 'string') return v.includes('${') ? serverlessVars(v, root, stage, params) : v;
  if (Array.isArray(v)) return v.map((x) => deepVars(x, root, stage, params));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepVars(x, root, stage, params)]));
  return v;
}

const upperFirst = (s: string) => `${s[0]?.toUpperCase() ?? ''}${s.slice(1)}`;

/** The role serverless-step-functions makes for a state machine's event-pattern or schedule rules. */
export function ruleTargetRoleId(stateMachineId: string, rule: 'pattern' | 'schedule'): string {
  return `${stateMachineId.replace(/StateMachine$/, '')}${rule === 'pattern' ? 'Event' : 'Schedule'}ToStepFunctionsRole`;
}

/** Reads the stack's IAM from `<root>/serverless.yml` for a local deployment. */
export function loadStackIam(root: string, t: TemplateTarget): StackIam {
  const yml = parse(readFileSync(path.join(root, 'serverless.yml'), 'utf8')) as Yml;
  const params: Record<string, string> = {};
  const p = (yml['params'] ?? {}) as Record<string, Record<string, unknown>>;
  for (const source of [p['default'], p[t.stage], t.params])
    for (const [k, v] of Object.entries(source ?? {})) params[k] = String(v);
  const partition = t.partition ?? 'aws';
  const resourcesBlock = (yml['resources'] ?? {}) as Yml;
  const resources = deepVars(resourcesBlock['Resources'] ?? {}, root, t.stage, params) as Record<string, Yml>;
  const conditions = deepVars(resourcesBlock['Conditions'] ?? {}, root, t.stage, params) as Yml;
  const parameters = deepVars(resourcesBlock['Parameters'] ?? {}, root, t.stage, params) as Record<
    string,
    { Default?: string }
  >;
  const functions = (yml['functions'] ?? {}) as Record<string, { role?: unknown; name?: string }>;
  const machines = ((yml['stepFunctions'] as Yml | undefined)?.['stateMachines'] ?? {}) as Record<
    string,
    { id?: string; name?: string; role?: unknown }
  >;

  const fnName = (key: string) => functions[key]?.name ?? `credflow-${t.stage}-${key}`;
  const fnByLogical = new Map(Object.keys(functions).map((k) => [`${upperFirst(k)}LambdaFunction`, k]));
  const smById = new Map(
    Object.entries(machines).map(([k, m]) => [
      m.id ?? `${upperFirst(k)}StateMachine`,
      String(serverlessVars(m.name ?? k, root, t.stage, params)),
    ]),
  );
  const arn = (service: string, rest: string, region = t.region) =>
    `arn:${partition}:${service}:${region}:${t.accountId}:${rest}`;
  const roleName = (id: string) => `credflow-${t.stage}-${id}`;

  const pseudo: Record<string, string> = {
    'AWS::Partition': partition,
    'AWS::Region': t.region,
    'AWS::AccountId': t.accountId,
    'AWS::StackName': `credflow-${t.stage}`,
    'AWS::URLSuffix': 'amazonaws.com',
  };
  const seen: Record<string, boolean> = {};
  const condition = (name: string): boolean => {
    if (seen[name] === undefined) seen[name] = evaluate(conditions[name]);
    return seen[name] as boolean;
  };
  const value = (v: unknown): unknown => resolve(v);
  const evaluate = (c: unknown): boolean => {
    const o = c as Record<string, unknown[]>;
    if (!o || typeof o !== 'object')
      throw new TemplateError(`cannot evaluate condition ${JSON.stringify(c)}`);
    if ('Fn::Equals' in o) return value(o['Fn::Equals']?.[0]) === value(o['Fn::Equals']?.[1]);
    if ('Fn::Not' in o) return !evaluate(o['Fn::Not']?.[0]);
    if ('Fn::Or' in o) return (o['Fn::Or'] ?? []).some(evaluate);
    if ('Fn::And' in o) return (o['Fn::And'] ?? []).every(evaluate);
    if ('Condition' in o) return condition(String(o['Condition']));
    throw new TemplateError(`cannot evaluate condition ${JSON.stringify(c)}`);
  };
  /** `Ref` of a logical id or parameter, as CloudFormation answers it. */
  const ref = (id: string): string => {
    if (id in pseudo) return pseudo[id] as string;
    if (id in parameters) return String(parameters[id]?.Default ?? '');
    const fn = fnByLogical.get(id);
    if (fn) return fnName(fn);
    const sm = smById.get(id);
    if (sm) return arn('states', `stateMachine:${sm}`);
    const r = resources[id];
    if (!r) throw new TemplateError(`Ref ${id}: no such resource or parameter`);
    if (r['Type'] === 'AWS::SNS::Topic')
      return arn('sns', String((r['Properties'] as Yml)['TopicName'] ?? `credflow-${t.stage}-${id}`));
    if (r['Type'] === 'AWS::IAM::ManagedPolicy')
      return `arn:${partition}:iam::${t.accountId}:policy/${roleName(id)}`;
    if (r['Type'] === 'AWS::IAM::Role') return roleName(id);
    throw new TemplateError(`Ref ${id}: the local cloud does not resolve ${String(r['Type'])}`);
  };
  const getAtt = (id: string, attr: string): string => {
    const fn = fnByLogical.get(id);
    if (fn && attr === 'Arn') return arn('lambda', `function:${fnName(fn)}`);
    const sm = smById.get(id);
    if (sm && attr === 'Name') return sm;
    if (sm && attr === 'Arn') return arn('states', `stateMachine:${sm}`);
    const r = resources[id];
    if (r?.['Type'] === 'AWS::IAM::Role' && attr === 'Arn')
      return `arn:${partition}:iam::${t.accountId}:role/${roleName(id)}`;
    if (r?.['Type'] === 'AWS::Logs::LogGroup' && attr === 'Arn')
      return arn('logs', `log-group:${String((r['Properties'] as Yml)['LogGroupName'])}:*`);
    throw new TemplateError(`Fn::GetAtt ${id}.${attr}: not resolvable locally`);
  };
  const sub = (text: string, vars: Record<string, unknown> = {}): string =>
    text.replace(/\$\{([^}]+)\}/g, (_w, name: string) => {
      if (name in vars) return String(resolve(vars[name]));
      const dot = name.indexOf('.');
      if (dot > 0 && !name.startsWith('AWS::')) return getAtt(name.slice(0, dot), name.slice(dot + 1));
      return ref(name);
    });
  function resolve(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(resolve).filter((x) => x !== NO_VALUE);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Yml;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const k = keys[0] as string;
      const a = o[k];
      if (k === 'Fn::If') {
        const [c, yes, no] = a as [string, unknown, unknown];
        return resolve(condition(c) ? yes : no);
      }
      if (k === 'Ref') return a === 'AWS::NoValue' ? NO_VALUE : ref(String(a));
      if (k === 'Fn::GetAtt') {
        const [id, attr] = Array.isArray(a) ? (a as string[]) : String(a).split('.');
        return getAtt(String(id), String(attr));
      }
      if (k === 'Fn::Sub') {
        if (typeof a === 'string') return sub(a);
        const [text, vars] = a as [string, Record<string, unknown>];
        return sub(text, vars);
      }
      if (k === 'Fn::Join') {
        const [sep, parts] = a as [string, unknown[]];
        return (resolve(parts) as unknown[]).map(String).join(sep);
      }
      if (k === 'Fn::Select') {
        const [i, list] = a as [number, unknown];
        return (resolve(list) as unknown[])[Number(i)];
      }
      if (k === 'Condition' && typeof a === 'string') return { Condition: a };
    }
    return Object.fromEntries(
      Object.entries(o)
        .map(([key, x]) => [key, resolve(x)] as const)
        .filter(([, x]) => x !== NO_VALUE),
    );
  }

  const out: StackIam = {
    roles: new Map(),
    managedPolicies: new Map(),
    functionRoles: new Map(),
    stateMachineRoles: new Map(),
    functionPolicies: new Map(),
  };
  const live = Object.entries(resources).filter(
    ([, r]) => !(typeof r['Condition'] === 'string' && !condition(r['Condition'])),
  );
  for (const [id, r] of live) {
    if (r['Type'] !== 'AWS::IAM::ManagedPolicy') continue;
    const props = resolve(r['Properties']) as Yml;
    out.managedPolicies.set(id, {
      logicalId: id,
      arn: ref(id),
      document: props['PolicyDocument'] as PolicyDocument,
    });
  }
  const managedDocument = (policyArn: string): TemplatePolicy => {
    const own = [...out.managedPolicies.values()].find((m) => m.arn === policyArn);
    if (own) return { name: policyArn, document: own.document };
    const aws = /^arn:[^:]+:iam::aws:policy\/(.+)$/.exec(policyArn);
    const statements = aws?.[1] ? AWS_MANAGED[aws[1]] : undefined;
    if (!statements) throw new TemplateError(`managed policy ${policyArn}: unknown to the local cloud`);
    return { name: policyArn, document: { Version: '2012-10-17', Statement: statements } };
  };
  for (const [id, r] of live) {
    if (r['Type'] === 'AWS::IAM::Role') {
      const props = resolve(r['Properties']) as Yml;
      const inline = (
        (props['Policies'] ?? []) as { PolicyName: string; PolicyDocument: PolicyDocument }[]
      ).map((pol) => ({ name: `${id}/${pol.PolicyName}`, document: pol.PolicyDocument }));
      const managed = ((props['ManagedPolicyArns'] ?? []) as string[]).map(managedDocument);
      out.roles.set(id, {
        logicalId: id,
        name: roleName(id),
        arn: getAtt(id, 'Arn'),
        policies: [...inline, ...managed],
        trust: (props['AssumeRolePolicyDocument'] as PolicyDocument | undefined) ?? { Statement: [] },
      });
    } else if (r['Type'] === 'AWS::Lambda::Permission') {
      const props = resolve(r['Properties']) as Yml;
      const fnArn = String(props['FunctionName']);
      const full = fnArn.startsWith('arn:') ? fnArn : arn('lambda', `function:${fnArn}`);
      const condition: Record<string, Record<string, string>> = {};
      if (props['SourceAccount'])
        condition['StringEquals'] = { 'AWS:SourceAccount': String(props['SourceAccount']) };
      if (props['SourceArn']) condition['ArnLike'] = { 'AWS:SourceArn': String(props['SourceArn']) };
      const principal = String(props['Principal']);
      const statement: Statement = {
        Sid: id,
        Effect: 'Allow',
        Principal: principal.endsWith('.amazonaws.com') ? { Service: principal } : { AWS: principal },
        Action: String(props['Action']),
        Resource: full,
        ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}),
      };
      const doc = out.functionPolicies.get(full) ?? { Version: '2012-10-17', Statement: [] };
      (doc.Statement as Statement[]).push(statement);
      out.functionPolicies.set(full, doc);
    }
  }
  const roleOf = (what: string, role: unknown): string => {
    const id =
      typeof role === 'string'
        ? role
        : ((role as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0] ?? '');
    if (!out.roles.has(id))
      throw new TemplateError(`${what}: its role ${id || '(none)'} is not a role of the template`);
    return id;
  };
  // serverless-step-functions gives each state machine's rules a role of their own (events.amazonaws.com
  // may start that machine, nothing else): `<Machine>EventToStepFunctionsRole` for event patterns,
  // `<Machine>ScheduleToStepFunctionsRole` for schedules. Made here as the plugin makes them.
  for (const [key, sm] of Object.entries(machines)) {
    const id = sm.id ?? `${upperFirst(key)}StateMachine`;
    const base = id.replace(/StateMachine$/, '');
    const events = ((sm as { events?: Record<string, unknown>[] }).events ?? []) as Record<string, unknown>[];
    for (const [kind, present] of [
      ['Event', events.some((e) => e['eventBridge'])],
      ['Schedule', events.some((e) => e['schedule'])],
    ] as const) {
      if (!present) continue;
      const roleId = `${base}${kind}ToStepFunctionsRole`;
      out.roles.set(roleId, {
        logicalId: roleId,
        name: roleName(roleId),
        arn: `arn:${partition}:iam::${t.accountId}:role/${roleName(roleId)}`,
        policies: [
          {
            name: `${roleId}/${kind.toLowerCase()}`,
            document: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: ['states:StartExecution'], Resource: ref(id) }],
            },
          },
        ],
        // The plugin's role trusts EventBridge only.
        trust: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        },
      });
    }
  }
  const providerRole = (yml['provider'] as Yml | undefined)?.['iam'] as Yml | undefined;
  for (const [key, fn] of Object.entries(functions))
    out.functionRoles.set(key, roleOf(`function ${key}`, fn.role ?? providerRole?.['role']));
  for (const [key, sm] of Object.entries(machines))
    out.stateMachineRoles.set(key, roleOf(`state machine ${key}`, sm.role));
  return out;
}
