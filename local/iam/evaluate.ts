/**
 * IAM's policy evaluation, as AWS documents it ("Policy evaluation logic", "Policy evaluation for
 * requests within a single account", "Cross-account policy evaluation logic"):
 *
 * 1. An explicit Deny in any policy that applies (identity-based, resource-based, permissions
 *    boundary) decides: denied.
 * 2. A service principal (`Principal: {Service: ...}`) is allowed only by a resource-based policy.
 * 3. The account's root user is allowed in its own account; elsewhere as any cross-account caller.
 * 4. Same account: allowed when a resource-based policy allows the caller itself (its user or
 *    session ARN, or `*`: not limited by a boundary), or allows its role's ARN (then a boundary, if
 *    any, must allow too), or when an identity-based policy allows and the boundary, if any,
 *    allows. A resource policy naming only the account delegates to the identity-based policies.
 * 5. Cross account: an identity-based policy (and boundary) AND the resource-based policy must
 *    allow; naming the caller's account there suffices.
 *
 * Not evaluated: service control and resource control policies, session policies, VPC endpoint
 * policies (credflow deploys none). See docs/iam-evaluator.md.
 */
import { type CompiledCondition, compileConditions } from './conditions';
import { PolicyValidationError } from './errors';
import { type Context, compilePattern, type Pattern } from './patterns';
import type {
  AuthzRequest,
  ContextValue,
  Decision,
  NamedPolicy,
  PolicySet,
  PolicyType,
  Principal,
  PrincipalElement,
  Statement,
} from './types';

/** How a resource policy's `Principal` names the caller. */
type PrincipalMatch = 'direct' | 'role' | 'account';

interface CompiledPrincipal {
  everyone: boolean;
  anyAws: boolean;
  accounts: Set<string>;
  arns: Set<string>;
  services: Set<string>;
}

interface CompiledStatement {
  index: number;
  sid: string | undefined;
  deny: boolean;
  actions: Pattern[] | undefined;
  notActions: Pattern[] | undefined;
  resources: Pattern[] | undefined;
  notResources: Pattern[] | undefined;
  principal: CompiledPrincipal | undefined;
  notPrincipal: CompiledPrincipal | undefined;
  conditions: CompiledCondition[];
  /** The Allow decisions this statement grants, built once per policy type (they never change). */
  granted: Partial<Record<PolicyType, Decision>>;
}

/** A policy parsed and compiled once: wildcards as RegExps, statements indexed by service prefix. */
export interface CompiledPolicy {
  readonly name: string;
  readonly statementCount: number;
  /** Statements whose actions all name one of these services (lower case). */
  readonly byService: ReadonlyMap<string, readonly CompiledStatement[]>;
  /** Statements that may apply to any service (NotAction, `*`, a wildcard in the service part). */
  readonly anyService: readonly CompiledStatement[];
}

/** The compiled policies that apply to one request; build it with {@link compilePolicySet}. */
export interface CompiledPolicySet {
  readonly identity: readonly CompiledPolicy[];
  readonly resource?: CompiledPolicy | undefined;
  readonly boundary?: readonly CompiledPolicy[] | undefined;
  readonly resourceAccountId?: string | undefined;
  /** A number unique to this set, for logs and callers' own caches. */
  readonly id: number;
}

const list = <T>(v: T | T[] | undefined): T[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? v : [v];

const ACCOUNT_RE = /^\d{12}$/;
const ROOT_RE = /^arn:[^:]+:iam::(\d{12}):root$/;

function compilePrincipal(p: PrincipalElement, where: string): CompiledPrincipal {
  const out: CompiledPrincipal = {
    everyone: false,
    anyAws: false,
    accounts: new Set(),
    arns: new Set(),
    services: new Set(),
  };
  if (p === '*') {
    out.everyone = true;
    return out;
  }
  if (typeof p !== 'object' || p === null) throw new PolicyValidationError(`${where}: invalid Principal`);
  for (const [type, raw] of Object.entries(p)) {
    for (const v of list(raw) ?? []) {
      if (typeof v !== 'string') throw new PolicyValidationError(`${where}: invalid Principal value`);
      if (type === 'AWS') {
        const root = ROOT_RE.exec(v);
        if (v === '*') out.anyAws = true;
        else if (ACCOUNT_RE.test(v)) out.accounts.add(v);
        else if (root) out.accounts.add(root[1] as string);
        else out.arns.add(v);
      } else if (type === 'Service') out.services.add(v.toLowerCase());
      else out.arns.add(`${type}:${v}`); // Federated, CanonicalUser: never a local caller
    }
  }
  return out;
}

function matchPrincipal(p: CompiledPrincipal, who: Principal): PrincipalMatch | undefined {
  if (p.everyone) return 'direct';
  if (who.kind === 'service')
    return who.service && p.services.has(who.service.toLowerCase()) ? 'direct' : undefined;
  if (p.arns.has(who.arn)) return 'direct';
  if (who.kind === 'assumed-role' && who.roleArn && p.arns.has(who.roleArn)) return 'role';
  if (p.accounts.has(who.accountId)) return who.kind === 'root' ? 'direct' : 'account';
  return undefined;
}

/**
 * `NotPrincipal` ("AWS JSON policy elements: NotPrincipal"): a caller is excluded only when the
 * element names the caller itself (a session by its session ARN) and its account, or is `*`.
 */
function excludedBy(p: CompiledPrincipal, who: Principal): boolean {
  if (p.everyone) return true;
  if (who.kind === 'service') return who.service !== undefined && p.services.has(who.service.toLowerCase());
  if (p.anyAws) return true;
  if (!p.accounts.has(who.accountId)) return false;
  return who.kind === 'root' || p.arns.has(who.arn);
}

function compileStatement(s: Statement, index: number, variables: boolean, where: string): CompiledStatement {
  if (typeof s !== 'object' || s === null)
    throw new PolicyValidationError(`${where}: a statement must be an object`);
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny')
    throw new PolicyValidationError(`${where}: Effect must be Allow or Deny`);
  if ((s.Action === undefined) === (s.NotAction === undefined))
    throw new PolicyValidationError(`${where}: exactly one of Action and NotAction is required`);
  if (s.Resource !== undefined && s.NotResource !== undefined)
    throw new PolicyValidationError(`${where}: Resource and NotResource cannot both be present`);
  if (s.Principal !== undefined && s.NotPrincipal !== undefined)
    throw new PolicyValidationError(`${where}: Principal and NotPrincipal cannot both be present`);
  const strings = (v: unknown, el: string): string[] | undefined => {
    const l = list(v as string | string[] | undefined);
    if (l?.some((x) => typeof x !== 'string'))
      throw new PolicyValidationError(`${where}: ${el} must hold strings`);
    return l;
  };
  // Actions have no policy variables; resources do (version 2012-10-17).
  const actions = strings(s.Action, 'Action')?.map((a) => compilePattern(a, 'glob-ci', false));
  const notActions = strings(s.NotAction, 'NotAction')?.map((a) => compilePattern(a, 'glob-ci', false));
  const resources = strings(s.Resource, 'Resource')?.map((r) => compilePattern(r, 'glob', variables));
  const notResources = strings(s.NotResource, 'NotResource')?.map((r) =>
    compilePattern(r, 'glob', variables),
  );
  return {
    index,
    sid: s.Sid,
    deny: s.Effect === 'Deny',
    actions,
    notActions,
    resources,
    notResources,
    principal: s.Principal === undefined ? undefined : compilePrincipal(s.Principal, where),
    notPrincipal: s.NotPrincipal === undefined ? undefined : compilePrincipal(s.NotPrincipal, where),
    conditions: s.Condition === undefined ? [] : compileConditions(s.Condition, variables),
    granted: {},
  };
}

/** The services a statement's actions can name, or undefined when it may apply to any. */
function servicesOf(s: CompiledStatement): string[] | undefined {
  if (!s.actions) return undefined;
  const out = new Set<string>();
  for (const a of s.actions) {
    const colon = a.source.indexOf(':');
    const svc = colon < 0 ? a.source : a.source.slice(0, colon);
    if (colon < 0 || /[*?]/.test(svc)) return undefined;
    out.add(svc.toLowerCase());
  }
  return [...out];
}

/**
 * Parses and compiles a policy once. Throws PolicyValidationError for a document IAM would refuse
 * (no Statement, a bad Effect, both Action and NotAction, an unknown condition operator, ...).
 */
export function compilePolicy(p: NamedPolicy): CompiledPolicy {
  const doc = p.document;
  if (typeof doc !== 'object' || doc === null || doc.Statement === undefined)
    throw new PolicyValidationError(`${p.name}: a policy needs a Statement`);
  const variables = doc.Version === '2012-10-17';
  const statements = (list(doc.Statement) ?? []).map((s, i) =>
    compileStatement(s, i, variables, `${p.name} statement ${s?.Sid ?? i}`),
  );
  const byService = new Map<string, CompiledStatement[]>();
  const anyService: CompiledStatement[] = [];
  for (const s of statements) {
    const svcs = servicesOf(s);
    if (!svcs) anyService.push(s);
    else
      for (const svc of svcs) {
        const l = byService.get(svc);
        if (l) l.push(s);
        else byService.set(svc, [s]);
      }
  }
  return { name: p.name, statementCount: statements.length, byService, anyService };
}

let nextSetId = 1;

/** Compiles every policy of a set (use {@link assemblePolicySet} to reuse policies compiled before). */
export function compilePolicySet(set: PolicySet): CompiledPolicySet {
  return assemblePolicySet({
    identity: set.identity.map(compilePolicy),
    resource: set.resource ? compilePolicy(set.resource) : undefined,
    boundary: set.boundary?.map(compilePolicy),
    resourceAccountId: set.resourceAccountId,
  });
}

/** Groups policies compiled before into a set (the gate keeps each role's policies compiled once). */
export function assemblePolicySet(set: Omit<CompiledPolicySet, 'id'>): CompiledPolicySet {
  return { ...set, id: nextSetId++ };
}

function anyTest(ps: Pattern[], v: string, ctx: Context): boolean {
  for (const p of ps) if (p.test(v, ctx)) return true;
  return false;
}

/** Does the statement apply to the action, resource and conditions (principal aside)? */
function applies(s: CompiledStatement, action: string, resource: string, ctx: Context): boolean {
  if (s.actions ? !anyTest(s.actions, action, ctx) : anyTest(s.notActions as Pattern[], action, ctx))
    return false;
  if (s.resources) {
    if (!anyTest(s.resources, resource, ctx)) return false;
  } else if (s.notResources) {
    // A NotResource entry whose variable has no value excludes nothing and includes nothing: the
    // statement does not apply (as iam-simulate reads AWS's "the element does not match").
    for (const p of s.notResources) if (p.test(resource, ctx) || (!p.fixed && !p.resolves(ctx))) return false;
  } else if (!s.principal && !s.notPrincipal) return false; // an identity statement without Resource is invalid
  for (const c of s.conditions) if (!c.test(ctx)) return false;
  return true;
}

interface Hit {
  policy: CompiledPolicy;
  statement: CompiledStatement;
  match?: PrincipalMatch;
}

interface PolicyResult {
  deny?: Hit;
  allow?: Hit;
}

/** Evaluates identity-based policies (or boundaries): the first applicable Deny, else the first Allow. */
function evaluateIdentity(
  policies: readonly CompiledPolicy[],
  svc: string,
  req: AuthzRequest,
  ctx: Context,
): PolicyResult {
  const out: PolicyResult = {};
  for (const policy of policies) {
    const own = policy.byService.get(svc);
    if (own && scan(own, policy, req, ctx, out)) return out;
    if (scan(policy.anyService, policy, req, ctx, out)) return out;
  }
  return out;
}

/** Scans statements of an identity-based policy into `out`; true when an explicit Deny decided. */
function scan(
  group: readonly CompiledStatement[],
  policy: CompiledPolicy,
  req: AuthzRequest,
  ctx: Context,
  out: PolicyResult,
): boolean {
  for (const statement of group) {
    if (!statement.deny && out.allow) continue;
    if (!applies(statement, req.action, req.resource, ctx)) continue;
    if (statement.deny) {
      out.deny = { policy, statement };
      return true;
    }
    out.allow = { policy, statement };
  }
  return false;
}

const RANK: Record<PrincipalMatch, number> = { direct: 3, role: 2, account: 1 };

/** Evaluates a resource-based policy: its statements must also name the caller. */
function evaluateResource(
  policy: CompiledPolicy,
  svc: string,
  req: AuthzRequest,
  ctx: Context,
  hasBoundary: boolean,
): PolicyResult {
  const out: PolicyResult = {};
  const who = req.principal;
  for (const group of [policy.byService.get(svc), policy.anyService]) {
    if (!group) continue;
    for (const statement of group) {
      let match: PrincipalMatch | undefined;
      if (statement.principal) match = matchPrincipal(statement.principal, who);
      else if (statement.notPrincipal) {
        // "The NotPrincipal element with a Deny effect will always deny any IAM principal that has a
        // permissions boundary policy attached" (Permissions boundaries for IAM entities).
        const excluded = !(statement.deny && hasBoundary) && excludedBy(statement.notPrincipal, who);
        match = excluded ? undefined : 'direct';
      }
      if (!match) continue;
      if (!statement.deny && out.allow && RANK[out.allow.match as PrincipalMatch] >= RANK[match]) continue;
      if (!applies(statement, req.action, req.resource, ctx)) continue;
      if (statement.deny) return { deny: { policy, statement, match } };
      out.allow = { policy, statement, match };
    }
  }
  return out;
}

/**
 * The request's condition keys, lower-cased on first use only: most statements carry no
 * condition, and most requests are decided without reading the context at all. The global keys
 * AWS derives from the caller (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType,
 * aws:username, aws:PrincipalServiceName) answer when the request does not carry them.
 */
class RequestContext implements Context {
  private lower: Map<string, ContextValue> | undefined;
  constructor(private readonly req: AuthzRequest) {}

  get(key: string): ContextValue {
    if (!this.lower) {
      const m = new Map<string, ContextValue>();
      const raw = this.req.context;
      for (const k in raw) {
        const v = raw[k];
        if (v !== undefined) m.set(k.toLowerCase(), v);
      }
      this.lower = m;
    }
    const v = this.lower.get(key);
    return v !== undefined ? v : derived(this.req.principal, key);
  }
}

function derived(p: Principal, key: string): ContextValue {
  switch (key) {
    case 'aws:principalservicename':
      return p.kind === 'service' ? p.service : undefined;
    case 'aws:principalaccount':
      return p.kind === 'service' ? undefined : p.accountId;
    case 'aws:principalarn':
      return p.kind === 'service' ? undefined : p.kind === 'assumed-role' && p.roleArn ? p.roleArn : p.arn;
    case 'aws:principaltype':
      return p.kind === 'root'
        ? 'Account'
        : p.kind === 'user'
          ? 'User'
          : p.kind === 'assumed-role'
            ? 'AssumedRole'
            : p.kind === 'role'
              ? 'Role'
              : undefined;
    case 'aws:username':
      return p.kind === 'user' ? p.arn.slice(p.arn.lastIndexOf('/') + 1) : undefined;
    default:
      return undefined;
  }
}

function accountOfArn(arn: string): string | undefined {
  let start = 0;
  for (let i = 0; i < 4; i++) {
    const j = arn.indexOf(':', start);
    if (j < 0) return undefined;
    start = j + 1;
  }
  const end = arn.indexOf(':', start);
  const acct = arn.slice(start, end < 0 ? undefined : end);
  return acct && acct !== '*' ? acct : undefined;
}

const POLICY_WORDS: Record<PolicyType, { a: string; no: string }> = {
  identity: { a: 'an identity-based policy', no: 'identity-based policy' },
  resource: { a: 'a resource-based policy', no: 'resource-based policy' },
  boundary: { a: 'a permissions boundary', no: 'permissions boundary' },
};

function head(req: AuthzRequest): string {
  const on = req.resource === '*' ? '' : ` on resource: ${req.resource}`;
  return `User: ${req.principal.arn} is not authorized to perform: ${req.action}${on}`;
}

function allow(type: PolicyType, hit: Hit): Decision {
  const granted = hit.statement.granted;
  let d = granted[type];
  if (!d) {
    d = Object.freeze({
      allowed: true,
      kind: 'allow',
      by: Object.freeze(by(type, hit)),
      message: 'Allowed',
    } as const);
    granted[type] = d;
  }
  return d;
}

function by(type: PolicyType, hit: Hit): NonNullable<Decision['by']> {
  const b: NonNullable<Decision['by']> = { policy: hit.policy.name, type, statement: hit.statement.index };
  if (hit.statement.sid !== undefined) b.sid = hit.statement.sid;
  return b;
}

function explicitDeny(req: AuthzRequest, type: PolicyType, hit: Hit): Decision {
  return {
    allowed: false,
    kind: 'explicit-deny',
    by: by(type, hit),
    policyType: type,
    message: `${head(req)} with an explicit deny in ${POLICY_WORDS[type].a}`,
  };
}

function implicitDeny(req: AuthzRequest, type: PolicyType): Decision {
  return {
    allowed: false,
    kind: 'implicit-deny',
    policyType: type,
    message: `${head(req)} because no ${POLICY_WORDS[type].no} allows the ${req.action} action`,
  };
}

const ROOT_ALLOW: Decision = Object.freeze({ allowed: true, kind: 'allow', message: 'Allowed' } as const);

/**
 * Decides one request as AWS would: `authorize(request, compiledPolicies) -> Decision`.
 *
 * The set holds the caller's identity-based policies, the resource's resource-based policy (if
 * any) and the caller's permissions boundary (if any), compiled once with {@link compilePolicySet}
 * or {@link assemblePolicySet}. The decision names the statement that decided and carries AWS's
 * AccessDenied message; it is read-only (an Allow is built once per statement and shared). Pure and synchronous; about a microsecond for credflow's roles (see the
 * `iam` benchmark). Wrap it in a {@link DecisionCache} where the inputs repeat.
 */
export function authorize(req: AuthzRequest, set: CompiledPolicySet): Decision {
  const ctx = new RequestContext(req);
  const colon = req.action.indexOf(':');
  const svc = (colon < 0 ? req.action : req.action.slice(0, colon)).toLowerCase();
  const who = req.principal;
  const boundary = set.boundary && set.boundary.length > 0 ? set.boundary : undefined;
  const isService = who.kind === 'service';

  // Services carry no identity-based policies or boundaries.
  const id = isService ? {} : evaluateIdentity(set.identity, svc, req, ctx);
  if (id.deny) return explicitDeny(req, 'identity', id.deny);
  const res = set.resource ? evaluateResource(set.resource, svc, req, ctx, !!boundary) : {};
  if (res.deny) return explicitDeny(req, 'resource', res.deny);
  const pb = boundary && !isService ? evaluateIdentity(boundary, svc, req, ctx) : undefined;
  if (pb?.deny) return explicitDeny(req, 'boundary', pb.deny);

  if (isService) return res.allow ? allow('resource', res.allow) : implicitDeny(req, 'resource');

  const resourceAccount = set.resourceAccountId ?? accountOfArn(req.resource) ?? who.accountId;
  const boundaryOk = !pb || pb.allow !== undefined;
  if (resourceAccount === who.accountId) {
    if (who.kind === 'root') return ROOT_ALLOW;
    if (res.allow?.match === 'direct') return allow('resource', res.allow);
    if (res.allow?.match === 'role' && boundaryOk) return allow('resource', res.allow);
    if (id.allow && boundaryOk) return allow('identity', id.allow);
    if ((id.allow || res.allow?.match === 'role') && !boundaryOk) return implicitDeny(req, 'boundary');
    return implicitDeny(req, 'identity');
  }
  // Cross account: both sides must allow; the root user needs no identity-based policy.
  const idOk = who.kind === 'root' || (id.allow !== undefined && boundaryOk);
  if (!idOk) return implicitDeny(req, id.allow ? 'boundary' : 'identity');
  if (!res.allow) return implicitDeny(req, 'resource');
  return allow('resource', res.allow);
}

/**
 * A bounded cache of decisions keyed by (policy set, principal, action, resource, context). The
 * gate keeps one; a new policy set (a policy changed) is a new object, so stale decisions are
 * never hit. Lookups go through nested maps of the request's own strings and compare contexts
 * value by value: no key string is built per call.
 */
export class DecisionCache {
  private sets = new WeakMap<CompiledPolicySet, Map<string, Map<string, Map<string, Entry[]>>>>();
  private count = 0;
  hits = 0;
  misses = 0;
  constructor(private readonly max = 10_000) {}

  authorize(req: AuthzRequest, set: CompiledPolicySet): Decision {
    let byPrincipal = this.sets.get(set);
    if (!byPrincipal) {
      byPrincipal = new Map();
      this.sets.set(set, byPrincipal);
    }
    const p = req.principal;
    const who = p.kind === 'service' ? `service:${p.service ?? p.arn}` : p.arn;
    let byAction = byPrincipal.get(who);
    if (!byAction) {
      byAction = new Map();
      byPrincipal.set(who, byAction);
    }
    let byResource = byAction.get(req.action);
    if (!byResource) {
      byResource = new Map();
      byAction.set(req.action, byResource);
    }
    let entries = byResource.get(req.resource);
    if (!entries) {
      entries = [];
      byResource.set(req.resource, entries);
    }
    for (const e of entries) {
      if (
        e.principal.kind === p.kind &&
        e.principal.accountId === p.accountId &&
        e.principal.roleArn === p.roleArn &&
        sameContext(e.context, req.context)
      ) {
        this.hits++;
        return e.decision;
      }
    }
    this.misses++;
    const decision = authorize(req, set);
    if (this.count >= this.max) {
      this.clear();
      return decision;
    }
    // Snapshot the context: the caller may reuse its object.
    const context: AuthzRequest['context'] = {};
    for (const k in req.context) {
      const v = req.context[k];
      context[k] = Array.isArray(v) ? [...v] : v;
    }
    entries.push({ principal: { ...p }, context, decision });
    this.count++;
    return decision;
  }

  clear(): void {
    this.sets = new WeakMap();
    this.count = 0;
  }

  get size(): number {
    return this.count;
  }
}

interface Entry {
  principal: Principal;
  context: AuthzRequest['context'];
  decision: Decision;
}

function sameContext(a: AuthzRequest['context'], b: AuthzRequest['context']): boolean {
  let n = 0;
  for (const k in b) {
    const x = a[k];
    const y = b[k];
    if (x !== y) {
      if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    }
    n++;
  }
  let m = 0;
  for (const _ in a) m++;
  return n === m;
}
