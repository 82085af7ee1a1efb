/**
 * Rotation as the API sees it: RotateSecret (configure, then place the AWSPENDING placeholder),
 * CancelRotateSecret, and what Secrets Manager records once the rotation function has finished.
 * `rotation-runner.ts` invokes the function's four steps.
 */
import { randomUUID } from 'node:crypto';
import type {
  CancelRotateSecretRequest,
  CancelRotateSecretResponse,
  RotateSecretRequest,
  RotateSecretResponse,
  RotationRulesType,
} from '@aws-sdk/client-secrets-manager';
import { AwsError, invalidRequest, resourceExists } from '../http/errors';
import { DEFAULT_KMS_KEY_ID } from '../store/keyring';
import { findActive, refuseManaged, type SecretsContext } from './context';
import { AWSCURRENT, AWSPENDING, attachStages } from './labels';
import { beforeNewVersion, pruneVersions } from './quotas';
import { nextRotationDate, parseRotationRules } from './rotation-rules';
import type { Caller } from './trail';
import { seal, unseal } from './values';

export const PREVIOUS_ROTATION_INCOMPLETE =
  "A previous rotation isn't complete. That rotation will be reattempted.";

/** What the caller starts once RotateSecret's transaction has committed. */
export interface StartedRotation {
  arn: string;
  token: string;
  lambdaArn: string;
}

/** RotationRules as stored: validated, with only the members AWS keeps. */
export function normalizeRules(rules: RotationRulesType): RotationRulesType {
  parseRotationRules(rules);
  const out: RotationRulesType = {};
  if (rules.AutomaticallyAfterDays !== undefined) out.AutomaticallyAfterDays = rules.AutomaticallyAfterDays;
  if (rules.Duration !== undefined) out.Duration = rules.Duration;
  if (rules.ScheduleExpression !== undefined) out.ScheduleExpression = rules.ScheduleExpression;
  return out;
}

/**
 * Turns rotation on with the function and rules given (or those stored) and, unless
 * RotateImmediately is false, places the placeholder version the steps fill: the token's id,
 * labelled AWSPENDING, no value yet. Returns the rotation to start, if any. With
 * RotateImmediately false it places instead the version the configuration test runs on (see
 * `placeTestVersion`) and returns it as `tested`.
 */
export function rotateSecret(
  ctx: SecretsContext,
  input: RotateSecretRequest,
  caller: Caller,
): {
  response: RotateSecretResponse;
  started: StartedRotation | undefined;
  tested: StartedRotation | undefined;
} {
  return ctx.db.tx(() => {
    const s = findActive(ctx, input.SecretId);
    refuseManaged(s, caller);
    const lambdaArn = input.RotationLambdaARN ?? s.rotation_lambda_arn ?? undefined;
    if (lambdaArn === undefined) {
      throw invalidRequest('No Lambda rotation function ARN is associated with this secret.');
    }
    if (!ctx.lambdas.has(lambdaArn)) {
      throw new AwsError(
        'AccessDeniedException',
        'Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.',
      );
    }
    const rules =
      input.RotationRules ??
      (s.rotation_rules ? (JSON.parse(s.rotation_rules) as RotationRulesType) : undefined);
    const storedRules = rules ? normalizeRules(rules) : undefined;
    const immediately = input.RotateImmediately ?? true;
    const token = input.ClientRequestToken ?? randomUUID();
    const before = ctx.db.stageMap(s.arn);
    if (immediately) {
      const pending = before.get(AWSPENDING);
      if (pending !== undefined && pending !== before.get(AWSCURRENT))
        throw invalidRequest(PREVIOUS_ROTATION_INCOMPLETE);
      if (ctx.db.version(s.arn, token)) {
        throw resourceExists("You can't modify an existing version, you can only create a new version.");
      }
    }
    const now = ctx.now();
    const next = storedRules
      ? nextRotationDate(storedRules, new Date(s.last_rotated_ms ?? now)).getTime()
      : null;
    ctx.db.enableRotation(s.arn, lambdaArn, storedRules ? JSON.stringify(storedRules) : null, next, now);
    if (immediately) {
      beforeNewVersion(ctx, s.arn);
      ctx.db.insertVersion(s.arn, token, now, s.kms_key_id ?? DEFAULT_KMS_KEY_ID, null, null);
      ctx.db.writeStages(s.arn, attachStages(before, token, [AWSPENDING]));
      pruneVersions(ctx, s.arn);
    }
    const tested = immediately ? false : placeTestVersion(ctx, s.arn, token);
    ctx.trail.apiEvent('RotateSecret', caller, input, {
      arn: s.arn,
      ...(immediately ? { versionId: token } : {}),
    });
    return {
      response: { ARN: s.arn, Name: s.name, ...(immediately ? { VersionId: token } : {}) },
      started: immediately ? { arn: s.arn, token, lambdaArn } : undefined,
      tested: tested ? { arn: s.arn, token, lambdaArn } : undefined,
    };
  });
}

/**
 * The version RotateSecret's configuration test runs on: "The test creates an AWSPENDING version
 * of the secret and then removes it" (RotateSecret, RotateImmediately). It holds AWSCURRENT's
 * value, so a function in the shape of AWS's templates passes testSecret by logging in with it.
 * None when there is no current value, another rotation is pending, or the token is taken.
 */
function placeTestVersion(ctx: SecretsContext, arn: string, token: string): boolean {
  const stages = ctx.db.stageMap(arn);
  const currentId = stages.get(AWSCURRENT);
  const pending = stages.get(AWSPENDING);
  if (currentId === undefined || (pending !== undefined && pending !== currentId)) return false;
  const current = ctx.db.version(arn, currentId);
  if (!current || current.kind === null || ctx.db.version(arn, token)) return false;
  const value = unseal(ctx.keyring, ctx.logger, current);
  const s = ctx.db.secret(arn);
  const kmsKeyId = s?.kms_key_id ?? DEFAULT_KMS_KEY_ID;
  const blob = seal(ctx.keyring, kmsKeyId, arn, token, value);
  ctx.db.insertVersion(arn, token, ctx.now(), kmsKeyId, value.kind, blob);
  const withoutPending = new Map(stages);
  withoutPending.delete(AWSPENDING);
  ctx.db.writeStages(arn, attachStages(withoutPending, token, [AWSPENDING]));
  return true;
}

/** After the configuration test: the test version goes again, label and all. */
export function removeTestVersion(ctx: SecretsContext, arn: string, token: string): void {
  ctx.db.tx(() => {
    const stages = ctx.db.stageMap(arn);
    if (stages.get(AWSPENDING) === token) {
      const next = new Map(stages);
      next.delete(AWSPENDING);
      ctx.db.writeStages(arn, next);
    }
    if (!stages.has(AWSCURRENT) || stages.get(AWSCURRENT) !== token) ctx.db.deleteVersion(arn, token);
  });
}

/** Turns rotation off; the caller stops the rotation in flight. */
export function cancelRotateSecret(
  ctx: SecretsContext,
  input: CancelRotateSecretRequest,
  caller: Caller,
): CancelRotateSecretResponse & { ARN: string } {
  return ctx.db.tx(() => {
    const s = findActive(ctx, input.SecretId);
    const stages = ctx.db.stageMap(s.arn);
    const pending = stages.get(AWSPENDING);
    ctx.db.disableRotation(s.arn, ctx.now());
    const versionId = pending !== undefined && pending !== stages.get(AWSCURRENT) ? pending : undefined;
    ctx.trail.apiEvent('CancelRotateSecret', caller, input, { arn: s.arn });
    return { ARN: s.arn, Name: s.name, ...(versionId ? { VersionId: versionId } : {}) };
  });
}

/**
 * After finishSecret: checks that the token's version is AWSCURRENT and records the rotation;
 * returns why it is a failure otherwise.
 */
export function completeRotation(ctx: SecretsContext, arn: string, token: string): string | undefined {
  return ctx.db.tx(() => {
    const s = ctx.db.secret(arn);
    if (!s || s.deleted_ms !== null) return 'the secret was deleted during rotation';
    const stages = ctx.db.stageMap(arn);
    if (stages.get(AWSCURRENT) !== token) return `finishSecret did not make version ${token} AWSCURRENT`;
    // As after a native rotation, Secrets Manager itself takes AWSPENDING off the new current version.
    if (stages.get(AWSPENDING) === token) {
      const withoutPending = new Map(stages);
      withoutPending.delete(AWSPENDING);
      ctx.db.writeStages(arn, withoutPending);
    }
    const now = ctx.now();
    const next =
      s.rotation_enabled && s.rotation_rules
        ? nextRotationDate(JSON.parse(s.rotation_rules) as RotationRulesType, new Date(now)).getTime()
        : null;
    ctx.db.rotated(arn, now, next);
    ctx.trail.serviceEvent(arn, 'RotationSucceeded');
    return undefined;
  });
}
