/**
 * A secret's resource-based policy: PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy
 * and ValidateResourcePolicy (https://docs.aws.amazon.com/secretsmanager/latest/apireference/,
 * one page each). The policy is stored and returned as sent; the local cloud has no IAM, so it is
 * never evaluated against a caller.
 */
import type {
  DeleteResourcePolicyRequest,
  DeleteResourcePolicyResponse,
  GetResourcePolicyRequest,
  GetResourcePolicyResponse,
  PutResourcePolicyRequest,
  PutResourcePolicyResponse,
  ValidateResourcePolicyRequest,
  ValidateResourcePolicyResponse,
} from '@aws-sdk/client-secrets-manager';
import { AwsError } from '../http/errors';
import { findActive, type SecretsContext } from './context';
import { grantsPublicAccess, syntaxProblem, validatePolicy } from './policy-document';
import type { Caller } from './trail';

/** PutResourcePolicy's answer to a policy that is not one (the API's MalformedPolicyDocumentException). */
const MALFORMED = 'This resource policy contains a syntax error.';
/** PublicPolicyException, in the API reference's words. */
const PUBLIC =
  'The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent broad access to the secret.';

export function putResourcePolicy(
  ctx: SecretsContext,
  input: PutResourcePolicyRequest,
  caller: Caller,
): PutResourcePolicyResponse {
  const policy = input.ResourcePolicy ?? '';
  if (syntaxProblem(policy) !== undefined) throw new AwsError('MalformedPolicyDocumentException', MALFORMED);
  if (input.BlockPublicPolicy === true && grantsPublicAccess(policy)) {
    throw new AwsError('PublicPolicyException', PUBLIC);
  }
  return attach(ctx, 'PutResourcePolicy', input, caller, policy);
}

/** The policy as attached; no `ResourcePolicy` member when there is none (as AWS answers). */
export function getResourcePolicy(
  ctx: SecretsContext,
  input: GetResourcePolicyRequest,
): GetResourcePolicyResponse {
  const s = findActive(ctx, input.SecretId);
  return {
    ARN: s.arn,
    Name: s.name,
    ...(s.resource_policy !== null ? { ResourcePolicy: s.resource_policy } : {}),
  };
}

export function deleteResourcePolicy(
  ctx: SecretsContext,
  input: DeleteResourcePolicyRequest,
  caller: Caller,
): DeleteResourcePolicyResponse {
  return attach(ctx, 'DeleteResourcePolicy', input, caller, null);
}

/** Attaches `policy` (null: none) in one transaction, with the call's CloudTrail event. */
function attach(
  ctx: SecretsContext,
  operation: 'PutResourcePolicy' | 'DeleteResourcePolicy',
  input: PutResourcePolicyRequest | DeleteResourcePolicyRequest,
  caller: Caller,
  policy: string | null,
): { ARN: string; Name: string } {
  return ctx.db.tx(() => {
    const s = findActive(ctx, input.SecretId);
    ctx.db.setResourcePolicy(s.arn, policy, ctx.now());
    ctx.trail.apiEvent(operation, caller, input, { arn: s.arn });
    return { ARN: s.arn, Name: s.name };
  });
}

/** Checks a policy without attaching it; SecretId, when given, must name a secret. */
export function validateResourcePolicy(
  ctx: SecretsContext,
  input: ValidateResourcePolicyRequest,
): ValidateResourcePolicyResponse {
  if (input.SecretId !== undefined) findActive(ctx, input.SecretId);
  const findings = validatePolicy(input.ResourcePolicy ?? '');
  return {
    PolicyValidationPassed: findings.length === 0,
    ValidationErrors: findings.map((f) => ({ CheckName: f.check, ErrorMessage: f.message })),
  };
}
