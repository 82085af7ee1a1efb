import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/**
 * serverless.yml is the one declaration of functions, state machines and rules; the local cloud
 * reads it here instead of keeping a list of its own.
 */
export interface CatalogFunction {
  /** The serverless key, e.g. `setSecret` (the name ASL's Fn::GetAtt uses). */
  key: string;
  /** Absolute path of the module, without extension. */
  modulePath: string;
  exportName: string;
  environment: Record<string, string>;
  timeoutSeconds: number;
}

export interface CatalogStateMachine {
  key: string;
  name: string;
  definition: unknown;
  definitionFile: string;
}

export interface Catalog {
  root: string;
  functions: CatalogFunction[];
  stateMachines: CatalogStateMachine[];
}

interface ServerlessYml {
  provider?: { environment?: Record<string, string>; timeout?: number };
  functions?: Record<string, { handler: string; environment?: Record<string, string>; timeout?: number }>;
  stepFunctions?: { stateMachines?: Record<string, { name?: string; definition: string }> };
}

/** Resolves the few serverless variables the local cloud needs (`sls:stage`, `opt:x, 'default'`). */
function resolveVars(text: string, stage: string): string {
  return text
    .replace(/\$\{sls:stage\}/g, stage)
    .replace(/\$\{opt:[\w-]+,\s*'([^']*)'\}/g, '$1')
    .replace(/\$\{self:service\}/g, 'credflow');
}

/** Loads the catalog from `<root>/serverless.yml`; `stage` names the local deployment. */
export function loadCatalog(root = path.resolve(__dirname, '..'), stage = 'local'): Catalog {
  const yml = parse(readFileSync(path.join(root, 'serverless.yml'), 'utf8')) as ServerlessYml;
  const providerEnv = yml.provider?.environment ?? {};
  const functions: CatalogFunction[] = Object.entries(yml.functions ?? {}).map(([key, fn]) => {
    const dot = fn.handler.lastIndexOf('.');
    return {
      key,
      modulePath: path.join(root, fn.handler.slice(0, dot)),
      exportName: fn.handler.slice(dot + 1),
      environment: { ...providerEnv, ...(fn.environment ?? {}) },
      timeoutSeconds: fn.timeout ?? yml.provider?.timeout ?? 6,
    };
  });
  const stateMachines: CatalogStateMachine[] = Object.entries(yml.stepFunctions?.stateMachines ?? {}).map(
    ([key, sm]) => {
      const m = /^\$\{file\(([^)]+)\)\}$/.exec(sm.definition.trim());
      if (!m?.[1])
        throw new Error(`state machine ${key}: definition must be \${file(workflows/<name>.asl.json)}`);
      const definitionFile = path.join(root, m[1]);
      return {
        key,
        name: resolveVars(sm.name ?? key, stage),
        definition: JSON.parse(readFileSync(definitionFile, 'utf8')),
        definitionFile,
      };
    },
  );
  return { root, functions, stateMachines };
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
