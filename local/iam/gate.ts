/**
 * The one place the local cloud authorizes: the endpoint calls it after SigV4 and before the
 * service acts, and the services' internal calls (Step Functions invoking a function or starting
 * an execution, EventBridge starting a target, Secrets Manager invoking a rotation function) call
 * it once each. The services describe what a call needs (`local/<service>/authz.ts`: the action,
 * the resource ARN and the condition context, as AWS's service authorization reference lists
 * them); the gate decides with the evaluator and logs the decision. A call no service describes
 * is refused, never let through.
 */
import { appendFileSync } from 'node:fs';
import { AwsError } from '../http/errors';
import type { LocalLogger } from '../log';
import {
  assemblePolicySet,
  type CompiledPolicy,
  type CompiledPolicySet,
  compilePolicy,
  DecisionCache,
} from './evaluate';
import type { KnownPrincipal } from './principals';
import type { ContextValue, Decision, PolicyDocument, Principal } from './types';

/** One authorization a call needs. */
export interface AuthzNeed {
  action: string;
  /** The resource ARN, or `*` for actions without a resource type. */
  resource: string;
  context?: Record<string, ContextValue>;
  /** The resource's resource-based policy (a secret's, a function's), if it has one. */
  resourcePolicy?: PolicyDocument | string | undefined;
}

/** What a service says a call needs; an operation it does not know is `undefined`. */
export type AuthzDescriber = (operation: string, input: Record<string, unknown>) => AuthzNeed[] | undefined;

/** AWS's AccessDenied: `AccessDeniedException` (JSON protocols, 400) or `AccessDenied` (query protocol, 403). */
export class AccessDeniedError extends AwsError {
  constructor(message: string) {
    super('AccessDeniedException', message, 400);
  }
}

/** A call the gate has no description for: refused, and a test names the service that forgot it. */
export class UndescribedCallError extends AwsError {
  constructor(call: string) {
    super(
      'AccessDeniedException',
      `The local cloud's IAM has no description of ${call}; it is refused.`,
      400,
    );
  }
}

/** One decision, as the policy log keeps it. */
export interface PolicyLogEntry {
  time: string;
  principal: string;
  action: string;
  resource: string;
  allowed: boolean;
  kind: Decision['kind'];
  /** The statement that decided (`<policy> #<n> (<sid>)`), or undefined for an implicit deny. */
  by: string | undefined;
}

const LOG_SIZE = 2000;
/** CREDFLOW_IAM_TRACE=<file>: every decision also appended there as a JSON line (counting a suite's decisions). */
const TRACE = process.env['CREDFLOW_IAM_TRACE'];

export interface GateStats {
  decisions: number;
  denies: number;
  cacheHits: number;
}

export class IamGate {
  private readonly cache = new DecisionCache(50_000);
  private readonly resourcePolicies = new Map<string, CompiledPolicy>();
  private readonly sets = new Map<string, CompiledPolicySet>();
  private readonly recent: PolicyLogEntry[] = [];
  private readonly describers = new Map<string, AuthzDescriber>();
  private readonly observers = new Set<(entry: PolicyLogEntry) => void>();
  readonly stats: GateStats = { decisions: 0, denies: 0, cacheHits: 0 };

  constructor(
    private readonly o: {
      logger: LocalLogger;
      /** Off (`--no-iam`): every call is allowed and nothing is logged. */
      enabled: boolean;
    },
  ) {}

  get enabled(): boolean {
    return this.o.enabled;
  }

  /** A service's description of its calls, by its signing name (`secretsmanager`, `rds`, ...). */
  describe(signingName: string, describer: AuthzDescriber): void {
    this.describers.set(signingName, describer);
  }

  /** The needs of a call as its service describes them; throws for a call it does not describe. */
  needsOf(signingName: string, operation: string, input: Record<string, unknown>): AuthzNeed[] {
    const needs = this.describers.get(signingName)?.(operation, input);
    if (!needs) throw new UndescribedCallError(`${signingName}:${operation}`);
    return needs;
  }

  /** Authorizes a call of a service for a caller: every need must be allowed. */
  authorizeCall(
    caller: KnownPrincipal,
    signingName: string,
    operation: string,
    input: Record<string, unknown>,
  ): void {
    if (!this.o.enabled) return;
    for (const need of this.needsOf(signingName, operation, input)) this.require(caller, need);
  }

  /** Throws AWS's AccessDenied unless `caller` may do `need`. */
  require(
    caller: KnownPrincipal | { principal: Principal; identity?: undefined },
    need: AuthzNeed,
  ): Decision {
    const d = this.decide(caller, need);
    if (!d.allowed) throw new AccessDeniedError(d.message);
    return d;
  }

  /**
   * The first of several callers a need allows (a service's global and regional principals, for a
   * role's trust policy): that decision is logged, or the last denial if none is allowed.
   */
  decideAny(
    callers: readonly (KnownPrincipal | { principal: Principal; identity?: undefined })[],
    need: AuthzNeed,
    quiet = false,
  ): Decision {
    let last: Decision = { allowed: false, kind: 'implicit-deny', message: 'no caller' };
    for (const [i, caller] of callers.entries()) {
      const lastOne = i === callers.length - 1;
      const d = this.decide(caller, need, quiet || !lastOne);
      if (d.allowed && !lastOne) return quiet ? d : this.decide(caller, need);
      last = d;
    }
    return last;
  }

  /** The decision for one need, logged (debug) and kept in the policy log (unless `quiet`). */
  decide(
    caller: KnownPrincipal | { principal: Principal; identity?: undefined },
    need: AuthzNeed,
    quiet = false,
  ): Decision {
    if (!this.o.enabled) return { allowed: true, kind: 'allow', message: 'Allowed' };
    const set = this.setFor(caller, need.resourcePolicy);
    const before = this.cache.hits;
    const d = this.cache.authorize(
      {
        principal: caller.principal,
        action: need.action,
        resource: need.resource,
        context: need.context ?? {},
      },
      set,
    );
    if (quiet) return d;
    this.stats.decisions += 1;
    if (this.cache.hits > before) this.stats.cacheHits += 1;
    if (!d.allowed) this.stats.denies += 1;
    const entry: PolicyLogEntry = {
      time: new Date().toISOString(),
      principal: caller.principal.arn,
      action: need.action,
      resource: need.resource,
      allowed: d.allowed,
      kind: d.kind,
      by: d.by ? `${d.by.policy} #${d.by.statement}${d.by.sid ? ` (${d.by.sid})` : ''}` : undefined,
    };
    this.recent.push(entry);
    if (this.recent.length > LOG_SIZE) this.recent.shift();
    this.o.logger.debug('iam decision', { ...entry });
    for (const observer of this.observers) observer(entry);
    if (TRACE)
      appendFileSync(TRACE, `${JSON.stringify({ ...entry, message: d.allowed ? undefined : d.message })}\n`);
    return d;
  }

  /**
   * Calls `observer` with every decision from now on (the log keeps only the latest ones);
   * returns the function that stops it. `npm run iam:minimal` attributes decisions to workflow steps.
   */
  observe(observer: (entry: PolicyLogEntry) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** The policy log: the latest decisions, denied first, optionally of one principal (a substring of its ARN). */
  log(filter: { principal?: string | undefined; limit?: number | undefined } = {}): PolicyLogEntry[] {
    const of = filter.principal;
    const rows = of ? this.recent.filter((e) => e.principal.includes(of)) : [...this.recent];
    rows.reverse();
    rows.sort((a, b) => Number(a.allowed) - Number(b.allowed));
    return rows.slice(0, filter.limit ?? 500);
  }

  private setFor(
    caller: KnownPrincipal | { principal: Principal; identity?: undefined },
    resourcePolicy: PolicyDocument | string | undefined,
  ): CompiledPolicySet {
    if (resourcePolicy === undefined) return caller.identity ?? EMPTY;
    const text = typeof resourcePolicy === 'string' ? resourcePolicy : JSON.stringify(resourcePolicy);
    let compiled = this.resourcePolicies.get(text);
    if (!compiled) {
      try {
        const document = typeof resourcePolicy === 'string' ? JSON.parse(resourcePolicy) : resourcePolicy;
        compiled = compilePolicy({ name: 'resource policy', document });
      } catch {
        // A policy Secrets Manager stored but IAM would not read grants nothing.
        compiled = compilePolicy({ name: 'resource policy', document: { Statement: [] } });
      }
      this.resourcePolicies.set(text, compiled);
    }
    const key = `${caller.identity?.id ?? 0}\u0001${text}`;
    let set = this.sets.get(key);
    if (!set) {
      set = assemblePolicySet({ identity: caller.identity?.identity ?? [], resource: compiled });
      if (this.sets.size > 10_000) this.sets.clear();
      this.sets.set(key, set);
    }
    return set;
  }
}

const EMPTY = assemblePolicySet({ identity: [] });
