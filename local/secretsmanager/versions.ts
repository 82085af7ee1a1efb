/**
 * A secret's versions and their values: GetSecretValue, PutSecretValue, UpdateSecretVersionStage,
 * ListSecretVersionIds, and the version write CreateSecret and UpdateSecret share.
 */
import { randomUUID } from 'node:crypto';
import type {
  GetSecretValueRequest,
  GetSecretValueResponse,
  ListSecretVersionIdsRequest,
  ListSecretVersionIdsResponse,
  PutSecretValueRequest,
  PutSecretValueResponse,
  UpdateSecretVersionStageRequest,
  UpdateSecretVersionStageResponse,
} from '@aws-sdk/client-secrets-manager';
import { invalidParameter, invalidRequest, resourceExists, validationError } from '../http/errors';
import { DEFAULT_KMS_KEY_ID } from '../store/keyring';
import { DAY_MS, find, findActive, noValue, page, refuseManaged, type SecretsContext } from './context';
import {
  AWSCURRENT,
  attachStages,
  checkStageQuota,
  dropPendingOnManualChange,
  moveStage,
  stagesByVersion,
  stagesOf,
  validateStageName,
} from './labels';
import { beforeNewVersion, pruneVersions } from './quotas';
import type { SecretRow, VersionRow } from './store';
import type { Caller } from './trail';
import { requestValue, type SecretValue, sameValue, seal, unseal } from './values';

const dayOf = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;
export const dateOrUndefined = (ms: number | null) => (ms === null ? undefined : new Date(ms));

export function getSecretValue(ctx: SecretsContext, input: GetSecretValueRequest): GetSecretValueResponse {
  return ctx.db.tx(() => {
    const s = findActive(ctx, input.SecretId);
    let version: VersionRow | undefined;
    if (input.VersionId !== undefined) {
      version = ctx.db.version(s.arn, input.VersionId);
      if (!version) throw noValue(`VersionId: ${input.VersionId}`);
      if (
        input.VersionStage !== undefined &&
        ctx.db.stageMap(s.arn).get(input.VersionStage) !== input.VersionId
      ) {
        // https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
        // (errors: InvalidRequestException); the wording is the service's own.
        throw invalidRequest('You provided a VersionStage that is not associated to the provided VersionId.');
      }
    } else {
      const stage = input.VersionStage ?? AWSCURRENT;
      const id = ctx.db.stageMap(s.arn).get(stage);
      version = id === undefined ? undefined : ctx.db.version(s.arn, id);
      if (!version) throw noValue(`staging label: ${stage}`);
    }
    if (version.kind === null) {
      throw noValue(
        input.VersionId !== undefined
          ? `VersionId: ${input.VersionId}`
          : `staging label: ${input.VersionStage}`,
      );
    }
    const value = unseal(ctx.keyring, ctx.logger, version);
    const today = dayOf(ctx.now());
    if (s.last_accessed_ms !== today) ctx.db.secretAccessed(s.arn, today);
    if (version.last_accessed_ms !== today) ctx.db.versionAccessed(version.seq, today);
    return {
      ARN: s.arn,
      Name: s.name,
      VersionId: version.version_id,
      ...(value.kind === 'string'
        ? { SecretString: value.bytes.toString('utf8') }
        : { SecretBinary: new Uint8Array(value.bytes) }),
      VersionStages: stagesOf(ctx.db.stageMap(s.arn), version.version_id),
      CreatedDate: new Date(version.created_ms),
    };
  });
}

export function putSecretValue(
  ctx: SecretsContext,
  input: PutSecretValueRequest,
  caller: Caller,
): PutSecretValueResponse {
  return ctx.db.tx(() => {
    const s = findActive(ctx, input.SecretId);
    refuseManaged(s, caller);
    const value = requestValue(input);
    if (!value) throw invalidParameter('You must provide either SecretString or SecretBinary.');
    const stages = input.VersionStages ?? [AWSCURRENT];
    const token = input.ClientRequestToken ?? randomUUID();
    const put = putVersion(ctx, s, token, value, stages, true);
    const out: PutSecretValueResponse = {
      ARN: s.arn,
      Name: s.name,
      VersionId: token,
      VersionStages: put.stages,
    };
    if (put.abandoned) ctx.trail.serviceEvent(s.arn, 'RotationAbandoned');
    ctx.trail.apiEvent('PutSecretValue', caller, input, { arn: s.arn, versionId: token });
    return out;
  });
}

export function updateSecretVersionStage(
  ctx: SecretsContext,
  input: UpdateSecretVersionStageRequest,
  caller: Caller,
): UpdateSecretVersionStageResponse {
  return ctx.db.tx(() => {
    const s = findActive(ctx, input.SecretId);
    const after = moveStage(ctx.db.stageMap(s.arn), ctx.db.versionIds(s.arn), {
      stage: input.VersionStage ?? '',
      moveToVersionId: input.MoveToVersionId,
      removeFromVersionId: input.RemoveFromVersionId,
    });
    checkStageQuota(after);
    ctx.db.writeStages(s.arn, after);
    pruneVersions(ctx, s.arn);
    ctx.db.touch(s.arn, ctx.now());
    ctx.trail.apiEvent('UpdateSecretVersionStage', caller, input, { arn: s.arn });
    return { ARN: s.arn, Name: s.name };
  });
}

export function listSecretVersionIds(
  ctx: SecretsContext,
  input: ListSecretVersionIdsRequest,
): ListSecretVersionIdsResponse {
  const s = find(ctx, input.SecretId);
  const stages = stagesByVersion(ctx.db.stageMap(s.arn));
  let versions = ctx.db.versions(s.arn);
  if (!input.IncludeDeprecated) versions = versions.filter((v) => stages.has(v.version_id));
  const { items, nextToken } = page(versions, input.MaxResults, input.NextToken);
  return {
    ARN: s.arn,
    Name: s.name,
    // A deprecated version (IncludeDeprecated) has no VersionStages member at all on AWS.
    Versions: items.map((v) => ({
      VersionId: v.version_id,
      VersionStages: stages.get(v.version_id),
      LastAccessedDate: dateOrUndefined(v.last_accessed_ms),
      CreatedDate: new Date(v.created_ms),
      KmsKeyIds: [v.kms_key_id === DEFAULT_KMS_KEY_ID ? 'DefaultEncryptionKey' : v.kms_key_id],
    })),
    ...(nextToken ? { NextToken: nextToken } : {}),
  };
}

/**
 * Stores `value` as version `token` with `stages` (the shared core of CreateSecret,
 * PutSecretValue and UpdateSecret). A token already used with the same value is a no-op;
 * with another value it is refused; a token naming RotateSecret's empty placeholder fills it.
 * `manual`: a client set the value, so a new AWSCURRENT abandons a rotation in flight.
 */
export function putVersion(
  ctx: SecretsContext,
  s: SecretRow,
  token: string,
  value: SecretValue,
  stages: readonly string[],
  manual: boolean,
): { stages: string[]; abandoned: boolean } {
  if (stages.length < 1 || stages.length > 20) {
    throw validationError('VersionStages must have between 1 and 20 staging labels.');
  }
  for (const stage of stages) validateStageName(stage);
  const before = ctx.db.stageMap(s.arn);
  const existing = ctx.db.version(s.arn, token);
  if (existing && existing.kind !== null) {
    if (sameValue(unseal(ctx.keyring, ctx.logger, existing), value))
      return { stages: stagesOf(before, token), abandoned: false };
    throw resourceExists("You can't modify an existing version, you can only create a new version.");
  }
  ctx.quotas?.checkValueSize(value.bytes.length);
  if (!existing) beforeNewVersion(ctx, s.arn);
  const kmsKeyId = s.kms_key_id ?? DEFAULT_KMS_KEY_ID;
  const blob = seal(ctx.keyring, kmsKeyId, s.arn, token, value);
  if (existing) ctx.db.fillVersion(existing.seq, value.kind, blob, kmsKeyId);
  else ctx.db.insertVersion(s.arn, token, ctx.now(), kmsKeyId, value.kind, blob);
  let after = attachStages(before, token, stages);
  let abandoned = false;
  if (manual && stages.includes(AWSCURRENT)) {
    const r = dropPendingOnManualChange(before, after, token);
    after = r.map;
    abandoned = r.abandoned;
  }
  checkStageQuota(after);
  ctx.db.writeStages(s.arn, after);
  pruneVersions(ctx, s.arn);
  ctx.db.touch(s.arn, ctx.now());
  return { stages: stagesOf(after, token), abandoned };
}
