import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/**
 * serverless.yml is the one declaration of functions, state machines and rules; the local cloud
 * reads it here instead of keeping a list of its own.
 */
export interface CatalogFunction {
  /** The serverless key, e.g. `setSecret` (the name ASL's Fn::GetAtt uses). */
  key: string;
  /**
   * The deployed function name: serverless.yml's `name:`, else what `serverless deploy` makes of
   * the key, `<service>-<stage>-<key>` (`credflow-dev-rotationLambda`).
   */
  name: string;
  /** Absolute path of the module, without extension. */
  modulePath: string;
  exportName: string;
  /** Plain values, or CloudFormation references (`Ref`, `Fn::GetAtt`) the deployer resolves. */
  environment: Record<string, EnvValue>;
  timeoutSeconds: number;
  /** Lambda's memory setting in MB (Serverless's default 1024). */
  memoryMb: number;
}

/** An environment value as serverless.yml may write it. */
export type EnvValue = string | { Ref: string } | { 'Fn::GetAtt': [string, string] };

/** A rule that starts a state machine: an event pattern (events/*.json) or a schedule. */
export type CatalogRule =
  | { kind: 'pattern'; name: string; pattern: unknown; file: string }
  | { kind: 'schedule'; name: string; expression: string; input: unknown; enabled: boolean };

export interface CatalogStateMachine {
  key: string;
  /** The CloudFormation logical id (`id:`), which functions' `Ref`s name. */
  id: string;
  name: string;
  rules: CatalogRule[];
  definition: unknown;
  definitionFile: string;
  /** serverless-step-functions' `tags:` of the machine (deployed on AWS as on the local cloud). */
  tags: Record<string, string>;
}

export interface Catalog {
  root: string;
  functions: CatalogFunction[];
  stateMachines: CatalogStateMachine[];
}

interface ServerlessEvent {
  eventBridge?: { name?: string; event?: unknown };
  schedule?: string | { rate?: string | string[]; input?: unknown; enabled?: boolean; name?: string };
}

interface ServerlessYml {
  service?: string;
  provider?: { environment?: Record<string, EnvValue>; timeout?: number; memorySize?: number };
  params?: Record<string, Record<string, unknown>>;
  functions?: Record<
    string,
    {
      handler: string;
      name?: string;
      environment?: Record<string, EnvValue>;
      timeout?: number;
      memorySize?: number;
    }
  >;
  stepFunctions?: {
    stateMachines?: Record<
      string,
      {
        id?: string;
        name?: string;
        definition: string;
        events?: ServerlessEvent[];
        tags?: Record<string, string>;
      }
    >;
  };
}

function fileRef(value: unknown, what: string): string {
  const m = typeof value === 'string' ? /^\$\{file\(([^)]+)\)\}$/.exec(value.trim()) : null;
  if (!m?.[1]) throw new Error(`${what} must be \${file(<path>)}`);
  return m[1];
}

function rulesOf(root: string, key: string, events: ServerlessEvent[], vars: Vars): CatalogRule[] {
  const { stage } = vars;
  return events.flatMap((e, i): CatalogRule[] => {
    if (e.eventBridge) {
      const file = path.join(root, fileRef(e.eventBridge.event, `state machine ${key}: eventBridge.event`));
      return [
        {
          kind: 'pattern',
          name: resolveVars(e.eventBridge.name ?? `credflow-${stage}-${key}-${i}`, vars),
          // `${sls:stage}` and the stage's params inside the pattern, as serverless resolves them.
          pattern: JSON.parse(resolveVars(readFileSync(file, 'utf8'), vars)),
          file,
        },
      ];
    }
    if (e.schedule) {
      const sch = typeof e.schedule === 'string' ? { rate: e.schedule } : e.schedule;
      const rates = Array.isArray(sch.rate) ? sch.rate : [sch.rate ?? ''];
      return rates.map((expression, j) => ({
        kind: 'schedule' as const,
        name: resolveVars(sch.name ?? `credflow-${stage}-${key}-schedule-${i}-${j}`, vars),
        expression: resolveVars(expression, vars),
        input: sch.input ?? {},
        enabled: sch.enabled ?? true,
      }));
    }
    return [];
  });
}

/** What serverless variables resolve against: the stage and the stage's `params`. */
interface Vars {
  stage: string;
  params: Record<string, string>;
}

/**
 * Resolves the few serverless variables the local cloud needs: `sls:stage`, `self:service`,
 * `opt:x, 'default'` (the default) and `param:x` / `param:x, 'default'` (serverless.yml's
 * `params`, the stage's over `default`).
 */
function resolveVars(text: string, vars: Vars): string {
  return text
    .replace(/\$\{sls:stage\}/g, vars.stage)
    .replace(/\$\{opt:[\w-]+,\s*'([^']*)'\}/g, '$1')
    .replace(/\$\{self:service\}/g, 'credflow')
    .replace(/\$\{param:([\w-]+)(?:,\s*'([^']*)')?\}/g, (_whole, name: string, fallback?: string) => {
      const v = vars.params[name] ?? fallback;
      if (v === undefined) throw new Error(`serverless.yml: no param ${name} for stage ${vars.stage}`);
      return v;
    });
}

function paramsOf(yml: ServerlessYml, stage: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const source of [yml.params?.['default'], yml.params?.[stage]]) {
    for (const [k, v] of Object.entries(source ?? {})) out[k] = String(v);
  }
  return out;
}

function resolveEnv(env: Record<string, EnvValue>, vars: Vars): Record<string, EnvValue> {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? resolveVars(v, vars) : v]),
  );
}

/** The code's root: the repository when run from source, `dist/` when built. Handlers load from here. */
const CODE_ROOT = path.resolve(__dirname, '..');

/** The package root: the nearest directory above the code holding serverless.yml. */
function packageRoot(): string {
  for (let dir = CODE_ROOT; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'serverless.yml'))) return dir;
    if (path.dirname(dir) === dir) return CODE_ROOT;
  }
}

/** Loads the catalog from `<root>/serverless.yml`; `stage` names the local deployment. */
export function loadCatalog(root = packageRoot(), stage = 'local'): Catalog {
  const yml = parse(readFileSync(path.join(root, 'serverless.yml'), 'utf8')) as ServerlessYml;
  const vars: Vars = { stage, params: paramsOf(yml, stage) };
  const providerEnv = yml.provider?.environment ?? {};
  const functions: CatalogFunction[] = Object.entries(yml.functions ?? {}).map(([key, fn]) => {
    const dot = fn.handler.lastIndexOf('.');
    return {
      key,
      name: resolveVars(fn.name ?? `${yml.service ?? 'credflow'}-${stage}-${key}`, vars),
      modulePath: path.join(CODE_ROOT, fn.handler.slice(0, dot)),
      exportName: fn.handler.slice(dot + 1),
      environment: resolveEnv({ ...providerEnv, ...(fn.environment ?? {}) }, vars),
      timeoutSeconds: fn.timeout ?? yml.provider?.timeout ?? 6,
      memoryMb: fn.memorySize ?? yml.provider?.memorySize ?? 1024,
    };
  });
  const stateMachines: CatalogStateMachine[] = Object.entries(yml.stepFunctions?.stateMachines ?? {}).map(
    ([key, sm]) => {
      const definitionFile = path.join(root, fileRef(sm.definition, `state machine ${key}: definition`));
      return {
        key,
        id: sm.id ?? `${key[0]?.toUpperCase()}${key.slice(1)}StateMachine`,
        name: resolveVars(sm.name ?? key, vars),
        definition: JSON.parse(readFileSync(definitionFile, 'utf8')),
        definitionFile,
        rules: rulesOf(root, key, sm.events ?? [], vars),
        tags: Object.fromEntries(
          Object.entries(sm.tags ?? {}).map(([k, v]) => [k, resolveVars(String(v), vars)]),
        ),
      };
    },
  );
  return { root, functions, stateMachines };
}

/**
 * Checks, without loading it, that a function's module exists (a handler on its own thread loads
 * there, at its first call): a serverless.yml naming a missing file fails the deploy, not a run.
 */
export function checkHandler(fn: CatalogFunction): void {
  if (!['.js', '.ts'].some((ext) => existsSync(`${fn.modulePath}${ext}`)))
    throw new Error(`${fn.key}: no module ${fn.modulePath}(.js|.ts) for handler ${fn.exportName}`);
}

/** Loads a catalog function's handler in-process. */
export function loadHandler(fn: CatalogFunction): (event: unknown, context?: unknown) => Promise<unknown> {
  // biome-ignore lint/suspicious/noExplicitAny: a module loaded by path has no static type
  const mod = require(fn.modulePath) as Record<string, any>;
  const handler = mod[fn.exportName];
  if (typeof handler !== 'function')
    throw new Error(`${fn.key}: ${fn.modulePath} exports no function ${fn.exportName}`);
  return handler;
}

/** What the deployer knows once things exist: ARNs by serverless key and logical id. */
export interface ResolveContext {
  lambdaArn(key: string): string;
  stateMachineArn(logicalId: string): string;
  /** Other resources by logical id (the alerts topic). */
  resource(logicalId: string): string;
  /** A CloudFormation pseudo parameter by name: `AWS::Partition`, `AWS::Region`, `AWS::AccountId`. */
  pseudoParameter(name: string): string;
}

/**
 * Turns serverless.yml's environment into plain strings: `Fn::GetAtt: [<Key>LambdaFunction, Arn]`
 * (the logical id Serverless gives function `key`) and `Ref: <id>` of state machines or resources.
 */
export function resolveEnvironment(
  env: Record<string, EnvValue>,
  ctx: ResolveContext,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (typeof v === 'string') out[k] = v;
    else if ('Ref' in v)
      out[k] = v.Ref.endsWith('StateMachine') ? ctx.stateMachineArn(v.Ref) : ctx.resource(v.Ref);
    else {
      const logical = v['Fn::GetAtt'][0];
      const m = /^(\w+)LambdaFunction$/.exec(logical);
      if (!m?.[1]) throw new Error(`environment ${k}: cannot resolve Fn::GetAtt ${logical}`);
      out[k] = ctx.lambdaArn(`${m[1][0]?.toLowerCase()}${m[1].slice(1)}`);
    }
  }
  return out;
}
