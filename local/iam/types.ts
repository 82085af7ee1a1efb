/**
 * The shapes of IAM's policy language and of one authorization request, as AWS documents them
 * ("IAM JSON policy element reference", "Policy evaluation logic").
 */

/** A value of a policy element that may be one string or a list of them. */
export type OneOrMany<T> = T | T[];

/** `Principal` / `NotPrincipal`: `"*"` or a map of principal types (`AWS`, `Service`, ...) to values. */
export type PrincipalElement = '*' | Record<string, OneOrMany<string>>;

/** `Condition`: operator -> condition key -> one value or several (OR). */
export type ConditionBlock = Record<string, Record<string, OneOrMany<string | number | boolean>>>;

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: OneOrMany<string>;
  NotAction?: OneOrMany<string>;
  Resource?: OneOrMany<string>;
  NotResource?: OneOrMany<string>;
  /** Resource-based policies only. */
  Principal?: PrincipalElement;
  /** Resource-based policies only. */
  NotPrincipal?: PrincipalElement;
  Condition?: ConditionBlock;
}

export interface PolicyDocument {
  /** Policy variables are substituted only in version `2012-10-17`, as on AWS. */
  Version?: string;
  Id?: string;
  Statement: Statement | Statement[];
}

/** A policy and the name a decision reports it by, e.g. `RotationFunctionRole/inline/rotation` or a managed policy ARN. */
export interface NamedPolicy {
  name: string;
  document: PolicyDocument;
}

/** Who makes the request. */
export interface Principal {
  /**
   * The caller's ARN as AWS reports it in an error message: `arn:aws:iam::<acct>:user/<name>`,
   * `arn:aws:sts::<acct>:assumed-role/<role>/<session>`, `arn:aws:iam::<acct>:root`, or the
   * service principal's name (`secretsmanager.amazonaws.com`).
   */
  arn: string;
  accountId: string;
  kind: 'root' | 'user' | 'role' | 'assumed-role' | 'service';
  /** For `assumed-role`: the role's ARN (`arn:aws:iam::<acct>:role/<path><name>`), what a policy naming the role matches. */
  roleArn?: string;
  /** For `service`: its principal name, e.g. `secretsmanager.amazonaws.com`. */
  service?: string;
}

/** A condition context value. Booleans and numbers are compared as their strings, as AWS's request context carries them. */
export type ContextValue = string | string[] | boolean | number | undefined;

export interface AuthzRequest {
  principal: Principal;
  /** `service:Action`, e.g. `secretsmanager:GetSecretValue`; matched case-insensitively. */
  action: string;
  /** The resource's ARN, or `*` for actions that have no resource type. */
  resource: string;
  /**
   * Condition keys of the request (names case-insensitive), e.g. `aws:ResourceTag/credflow:user`,
   * `aws:TagKeys`, `kms:ViaService`. `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`,
   * `aws:username`, `aws:userid` and `aws:PrincipalServiceName` are derived from `principal` when absent.
   */
  context: Record<string, ContextValue>;
}

/** The policies that apply to one request, before compilation. */
export interface PolicySet {
  /** The caller's identity-based policies (inline and managed). */
  identity: NamedPolicy[];
  /** The resource's resource-based policy, if it has one. */
  resource?: NamedPolicy;
  /** The caller's permissions boundary, if it has one. */
  boundary?: NamedPolicy[];
  /** The resource's account; by default the account field of the resource ARN (or the caller's for `*`). */
  resourceAccountId?: string;
}

/** Which kind of policy decided. */
export type PolicyType = 'identity' | 'resource' | 'boundary';

export interface Decision {
  allowed: boolean;
  kind: 'allow' | 'explicit-deny' | 'implicit-deny';
  /** The statement that decided: the explicit Deny, or the Allow that granted. Absent on an implicit deny. */
  by?: { policy: string; type: PolicyType; sid?: string; statement: number };
  /** For a denial, the kind of policy that lacked an Allow or held the Deny (AWS names it in the message). */
  policyType?: PolicyType;
  /** AWS's wording: `User: <arn> is not authorized to perform: <action> on resource: <arn> because ...`, or `Allowed`. */
  message: string;
}
