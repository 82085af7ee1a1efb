/**
 * The local cloud's IAM: who calls (principals), what the stack allows (its roles, managed
 * policies and function permissions, from serverless.yml) and the gate that decides. The
 * endpoint asks it about every request; the services ask it at their internal calls, as the
 * principal AWS would use there (a state machine's role, a rule target's role, Secrets Manager).
 */
import type { LocalCredentials } from '../credentials';
import { AwsError } from '../http/errors';
import type { LocalLogger } from '../log';
import { AccessDeniedError, type AuthzDescriber, IamGate } from './gate';
import { type KnownPrincipal, Principals } from './principals';
import type { StackIam } from './template';
import type { ContextValue, PolicyDocument, Principal, Statement } from './types';

/** A caller for the gate: a known principal, or a service principal (no identity policies). */
export type Caller = KnownPrincipal | { principal: Principal; identity?: undefined };

export class LocalIam {
  readonly gate: IamGate;
  readonly principals: Principals;
  private stack: StackIam | undefined;
  /** Permissions added to functions after the deploy (Lambda's AddPermission), by function ARN. */
  private readonly added = new Map<string, PolicyDocument>();
  /** Trust policy -> (role ARN, service) -> may the service assume the role. */
  private readonly trusted = new WeakMap<PolicyDocument, Map<string, boolean>>();
  /** State machine ARN -> the ARN of the role it runs as (its `roleArn`). */
  private machineRole: (machineArn: string) => string | undefined = () => undefined;

  constructor(
    private readonly o: {
      stateDir: string;
      region: string;
      accountId: string;
      logger: LocalLogger;
      enabled: boolean;
      admin: LocalCredentials;
    },
  ) {
    this.gate = new IamGate({ logger: o.logger, enabled: o.enabled });
    this.principals = new Principals(
      { stateDir: o.stateDir, accountId: o.accountId, stack: undefined },
      o.admin,
    );
  }

  get enabled(): boolean {
    return this.gate.enabled;
  }

  /** The stack's IAM, once serverless.yml is deployed; `machines` maps state machine ARNs to role ids. */
  useStack(stack: StackIam): void {
    this.stack = stack;
    this.principals.useStack(stack);
  }

  /** Where the role a state machine runs as is read (Step Functions' record of its roleArn). */
  readMachineRoles(roleOf: (machineArn: string) => string | undefined): void {
    this.machineRole = roleOf;
  }

  describe(signingName: string, describer: AuthzDescriber): void {
    this.gate.describe(signingName, describer);
  }

  /**
   * The endpoint's check, after SigV4: the caller behind the key (and its session token, for
   * temporary credentials), then every need of the call.
   */
  authorizeRequest(
    req: {
      accessKeyId: string;
      securityToken?: string | undefined;
      denial?: ((operation: string, input: Record<string, unknown>) => string | undefined) | undefined;
    },
    signingName: string,
    operation: string,
    input: Record<string, unknown>,
  ): void {
    const caller = this.principals.lookup(req.accessKeyId);
    if (!caller || (caller.sessionToken !== undefined && caller.sessionToken !== req.securityToken))
      throw new AwsError(
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
        403,
      );
    this.gate.authorizeCall(caller, signingName, operation, input);
    req.denial = this.denialFor(caller, signingName);
  }

  /**
   * The caller's further calls of a service, decided one by one (a request's `denial`): AWS's
   * message for the first need denied, or undefined. Undefined itself when IAM is off.
   */
  denialFor(
    caller: Caller,
    signingName: string,
  ): ((operation: string, input: Record<string, unknown>) => string | undefined) | undefined {
    if (!this.enabled) return undefined;
    return (operation, input) => {
      for (const need of this.gate.needsOf(signingName, operation, input)) {
        const d = this.gate.decide(caller, need);
        if (!d.allowed) return d.message;
      }
      return undefined;
    };
  }

  /** A service principal (`secretsmanager.amazonaws.com`): only resource-based policies allow it. */
  service(name: string): Caller {
    return { principal: { arn: name, accountId: this.o.accountId, kind: 'service', service: name } };
  }

  /** The role a state machine runs as, from an execution's or the machine's ARN. */
  stateMachine(arn: string): Caller {
    const m = /^(arn:[^:]+:states:[^:]+:\d+):(?:execution|stateMachine|express):([^:]+)/.exec(arn);
    const machineArn = m ? `${m[1]}:stateMachine:${m[2]}` : arn;
    const session = m?.[2] ?? 'state-machine';
    const roleArn = this.machineRole(machineArn);
    return (
      (roleArn && this.mayAssume(roleArn, 'states')
        ? this.principals.roleSessionByArn(roleArn, session)
        : undefined) ??
      this.nobody(
        `arn:aws:sts::${this.o.accountId}:assumed-role/${roleArn?.split('/').pop() ?? '-'}/${session}`,
      )
    );
  }

  /** The role a rule's target names (RoleArn), as EventBridge assumes it. */
  ruleTarget(roleArn: string | undefined, rule: string): Caller {
    return (
      (roleArn && this.mayAssume(roleArn, 'events') && this.principals.roleSessionByArn(roleArn, rule)) ||
      this.nobody(`events.amazonaws.com (${rule})`)
    );
  }

  /**
   * May a service (`states`, `events`) assume the role? The role's trust policy (a resource-based
   * policy on the role) must allow sts:AssumeRole to the service's global principal
   * (`states.amazonaws.com`) or its regional one (`states.<region>.amazonaws.com`), from this
   * account. IAM User Guide, "Terms and concepts for roles" (trust policy) and "Create a role to
   * delegate permissions to an AWS service"; Step Functions accepts either principal, as its
   * error for a role it cannot assume says ("Neither the global service principal
   * states.amazonaws.com, nor the regional one is authorized to assume the provided role.").
   * A role that exists nowhere cannot be assumed.
   */
  mayAssume(roleArn: string, service: 'states' | 'events', o: { log?: boolean } = {}): boolean {
    if (!this.enabled) return true;
    const trust = this.principals.trustOf(roleArn);
    if (!trust) return false;
    // Each Task of a running machine asks again: answered from memory (a trust policy is read
    // anew when the stack or the principals file changes) and not logged.
    if (!o.log) {
      let known = this.trusted.get(trust);
      if (!known) {
        known = new Map();
        this.trusted.set(trust, known);
      }
      let yes = known.get(`${roleArn}\u0001${service}`);
      if (yes === undefined) {
        yes = this.decideTrust(roleArn, service, trust, true);
        known.set(`${roleArn}\u0001${service}`, yes);
      }
      return yes;
    }
    return this.decideTrust(roleArn, service, trust, false);
  }

  private decideTrust(
    roleArn: string,
    service: 'states' | 'events',
    trust: PolicyDocument,
    quiet: boolean,
  ): boolean {
    return this.gate.decideAny(
      [`${service}.amazonaws.com`, `${service}.${this.o.region}.amazonaws.com`].map((name) =>
        this.service(name),
      ),
      {
        action: 'sts:AssumeRole',
        resource: roleArn,
        context: { 'aws:SourceAccount': this.o.accountId },
        resourcePolicy: trust,
      },
      quiet,
    ).allowed;
  }

  /**
   * Lambda's AddPermission: lets the service principal `service` (e.g. secretsmanager.amazonaws.com)
   * invoke a function the stack does not declare, from this account only, as `aws lambda
   * add-permission --principal <service> --source-account <account>` does.
   */
  addPermission(functionArn: string, service: string): void {
    const base = this.added.get(functionArn) ?? this.stack?.functionPolicies.get(functionArn);
    const statement: Statement = {
      Sid: `${service}-${(base ? [base.Statement].flat().length : 0) + 1}`,
      Effect: 'Allow',
      Principal: { Service: service },
      Action: 'lambda:InvokeFunction',
      Resource: functionArn,
      Condition: { StringEquals: { 'AWS:SourceAccount': this.o.accountId } },
    };
    this.added.set(functionArn, {
      Version: '2012-10-17',
      Statement: [...(base ? [base.Statement].flat() : []), statement],
    });
  }

  /** May `caller` invoke the function? Its identity policies, and the function's resource policy. */
  requireInvoke(caller: Caller, functionArn: string, context: Record<string, ContextValue> = {}): void {
    if (!this.enabled) return;
    this.gate.require(caller, {
      action: 'lambda:InvokeFunction',
      resource: functionArn,
      context,
      resourcePolicy: this.added.get(functionArn) ?? this.stack?.functionPolicies.get(functionArn),
    });
  }

  /** A call of a service made by `caller` inside the cloud (a state machine's integration). */
  requireCall(caller: Caller, signingName: string, operation: string, input: Record<string, unknown>): void {
    if (!this.enabled) return;
    for (const need of this.gate.needsOf(signingName, operation, input)) this.gate.require(caller, need);
  }

  /** A role the stack does not have: no policy allows it anything. */
  private nobody(arn: string): Caller {
    return { principal: { arn, accountId: this.o.accountId, kind: 'assumed-role' } };
  }
}

export { AccessDeniedError };
