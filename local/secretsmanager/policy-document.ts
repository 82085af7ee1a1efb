/**
 * A secret's resource-based policy as Secrets Manager checks it: the IAM JSON policy grammar
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html) and whether
 * it grants broad access, which ValidateResourcePolicy reports and PutResourcePolicy's
 * BlockPublicPolicy refuses ("for example those that use a wildcard for the principal",
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutResourcePolicy.html).
 * AWS asks its automated reasoner (Zelkova) the second question; this answers the cases AWS
 * documents: a wildcard principal, or an Allow with NotPrincipal, not narrowed by a condition
 * that pins the caller's account, organization, ARN or network path to fixed values.
 */

import { jsonDepth, MAX_JSON_DEPTH } from '../http/json-depth';

export interface PolicyFinding {
  /** `SYNTAX` (not a policy at all) or `PUBLIC_ACCESS` (a policy that grants broad access). */
  check: 'SYNTAX' | 'PUBLIC_ACCESS';
  message: string;
}

const STATEMENT_KEYS = new Set([
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);
const PRINCIPAL_KINDS = new Set(['AWS', 'Service', 'Federated', 'CanonicalUser']);

/**
 * Condition keys that, compared with fixed values, confine a wildcard principal to known callers:
 * the list AWS gives for "public" in its block-public-access rules (S3's "The meaning of public",
 * which IAM Access Analyzer applies to Secrets Manager too).
 */
const NARROWING_KEYS = new Set([
  'aws:sourcearn',
  'aws:sourceaccount',
  'aws:sourceowner',
  'aws:sourcevpc',
  'aws:sourcevpce',
  'aws:sourceorgid',
  'aws:principalaccount',
  'aws:principalarn',
  'aws:principalorgid',
  'aws:userid',
]);
const NARROWING_OPERATORS = new Set([
  'StringEquals',
  'StringEqualsIgnoreCase',
  'ArnEquals',
  'ArnLike',
  'StringLike',
]);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isObject = (v: unknown): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: Json | undefined): Json[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const strings = (v: Json | undefined): v is string | string[] =>
  typeof v === 'string' || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'));

/** Why `text` is not a valid resource policy, or undefined when it is one. */
export function syntaxProblem(text: string): string | undefined {
  if (jsonDepth(text) > MAX_JSON_DEPTH) return `The policy is nested deeper than ${MAX_JSON_DEPTH} levels.`;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return 'The policy is not valid JSON.';
  }
  if (!isObject(doc)) return 'The policy must be a JSON object.';
  for (const key of Object.keys(doc)) {
    if (!['Version', 'Id', 'Statement'].includes(key)) return `Unknown policy element ${key}.`;
  }
  if (doc['Version'] !== undefined && doc['Version'] !== '2012-10-17' && doc['Version'] !== '2008-10-17') {
    return 'Version must be 2012-10-17 or 2008-10-17.';
  }
  const statements = list(doc['Statement']);
  if (statements.length === 0) return 'The policy has no Statement.';
  for (const [i, st] of statements.entries()) {
    const problem = statementProblem(st);
    if (problem) return `Statement ${i + 1}: ${problem}`;
  }
  return undefined;
}

function statementProblem(st: Json): string | undefined {
  if (!isObject(st)) return 'a statement must be a JSON object.';
  for (const key of Object.keys(st)) if (!STATEMENT_KEYS.has(key)) return `unknown element ${key}.`;
  if (st['Effect'] !== 'Allow' && st['Effect'] !== 'Deny') return 'Effect must be Allow or Deny.';
  const principals = ['Principal', 'NotPrincipal'].filter((k) => st[k] !== undefined);
  if (principals.length !== 1)
    return 'a resource policy statement needs exactly one of Principal, NotPrincipal.';
  const principal = st[principals[0] as string];
  if (principal !== '*') {
    if (!isObject(principal) || Object.keys(principal).length === 0) {
      return `${principals[0]} must be "*" or an object of principal types.`;
    }
    for (const [kind, value] of Object.entries(principal)) {
      if (!PRINCIPAL_KINDS.has(kind)) return `unsupported principal type ${kind}.`;
      if (!strings(value)) return `${kind} principals must be a string or a list of strings.`;
    }
  }
  const actions = ['Action', 'NotAction'].filter((k) => st[k] !== undefined);
  if (actions.length !== 1) return 'a statement needs exactly one of Action, NotAction.';
  const action = st[actions[0] as string];
  if (!strings(action)) return `${actions[0]} must be a string or a list of strings.`;
  for (const a of list(action)) {
    if (a !== '*' && !/^[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+$/.test(String(a))) return `invalid action ${String(a)}.`;
  }
  if (st['Resource'] !== undefined && st['NotResource'] !== undefined) {
    return 'a statement cannot have both Resource and NotResource.';
  }
  for (const k of ['Resource', 'NotResource']) {
    if (st[k] !== undefined && !strings(st[k])) return `${k} must be a string or a list of strings.`;
  }
  const condition = st['Condition'];
  if (condition !== undefined) {
    if (!isObject(condition)) return 'Condition must be an object.';
    for (const block of Object.values(condition)) {
      if (!isObject(block)) return 'each Condition operator takes an object of keys and values.';
    }
  }
  return undefined;
}

/** True when the (syntactically valid) policy grants broad access to the secret. */
export function grantsPublicAccess(text: string): boolean {
  const doc = JSON.parse(text) as Record<string, Json>;
  return list(doc['Statement']).some((st) => {
    if (!isObject(st) || st['Effect'] !== 'Allow') return false;
    return (
      (st['NotPrincipal'] !== undefined || wildcardPrincipal(st['Principal'])) && !narrowed(st['Condition'])
    );
  });
}

function wildcardPrincipal(principal: Json | undefined): boolean {
  if (principal === '*') return true;
  if (!isObject(principal)) return false;
  return Object.values(principal).some((v) => list(v).includes('*'));
}

/** A condition that pins the caller to fixed values of a narrowing key. */
function narrowed(condition: Json | undefined): boolean {
  if (!isObject(condition)) return false;
  return Object.entries(condition).some(([operator, block]) => {
    if (!NARROWING_OPERATORS.has(operator) || !isObject(block)) return false;
    return Object.entries(block).some(
      ([key, values]) =>
        NARROWING_KEYS.has(key.toLowerCase()) &&
        list(values).length > 0 &&
        list(values).every((v) => typeof v === 'string' && v.length > 0 && !/[*?]/.test(v)),
    );
  });
}

/** What ValidateResourcePolicy reports about `text`: nothing when the policy passes. */
export function validatePolicy(text: string): PolicyFinding[] {
  const problem = syntaxProblem(text);
  if (problem) return [{ check: 'SYNTAX', message: problem }];
  if (grantsPublicAccess(text)) {
    return [
      {
        check: 'PUBLIC_ACCESS',
        message:
          'The resource policy grants broad access to the secret (a wildcard principal not narrowed by a condition on the caller).',
      },
    ];
  }
  return [];
}
