/** Secrets as a whole: CreateSecret, UpdateSecret, DescribeSecret, ListSecrets. */
import { randomInt, randomUUID } from 'node:crypto';
import type {
  CreateSecretRequest,
  CreateSecretResponse,
  DescribeSecretRequest,
  DescribeSecretResponse,
  ListSecretsRequest,
  ListSecretsResponse,
  RotationRulesType,
  SecretListEntry,
  Tag,
  UpdateSecretRequest,
  UpdateSecretResponse,
} from '@aws-sdk/client-secrets-manager';
import { invalidRequest, resourceExists, validationError } from '../http/errors';
import { DEFAULT_KMS_KEY_ID } from '../store/keyring';
import { find, findActive, page, refuseManaged, type SecretsContext } from './context';
import { matchesFilters } from './filters';
import { AWSCURRENT, stagesByVersion } from './labels';
import { normalizeRules } from './rotation';
import { nextRotationDate } from './rotation-rules';
import type { SecretRow } from './store';
import { checkTagCount, validTags } from './tags';
import type { Caller } from './trail';
import { requestValue, sameValue, unseal } from './values';
import { dateOrUndefined, putVersion } from './versions';

const NAME_RE = /^[A-Za-z0-9/_+=.@-]+$/;
/**
 * AWS's answer to a secret name or id it cannot accept, on every operation (a ValidationException;
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html, Name).
 */
export const INVALID_NAME =
  'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!';
/** Services name their secrets with a `!` (`rds!db-<uuid>`), which clients cannot use. */
const SERVICE_NAME_RE = /^[A-Za-z0-9/_+=.@!-]+$/;
const ARN_SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * CreateSecret, for clients and (with `owningService`) for a service's managed secret. A retry
 * of the same request (same token, same value) is answered as the first was.
 */
export function createSecret(
  ctx: SecretsContext,
  input: CreateSecretRequest,
  caller: Caller,
  owningService: string | undefined,
  rotationRules: RotationRulesType | undefined,
): CreateSecretResponse {
  const name = input.Name ?? '';
  if (name.length < 1 || name.length > 512 || !(owningService ? SERVICE_NAME_RE : NAME_RE).test(name)) {
    throw validationError(INVALID_NAME);
  }
  const value = requestValue(input);
  const tags = validTags(input.Tags ?? [], caller);
  checkTagCount(tags);
  const rules = rotationRules ? normalizeRules(rotationRules) : undefined;
  return ctx.db.tx(() => {
    const existing = ctx.db.secretNamed(name);
    if (existing) {
      if (existing.deleted_ms !== null) {
        throw invalidRequest(
          "You can't create this secret because a secret with this name is already scheduled for deletion.",
        );
      }
      const retried = input.ClientRequestToken
        ? ctx.db.version(existing.arn, input.ClientRequestToken)
        : undefined;
      if (
        retried &&
        value &&
        retried.kind !== null &&
        sameValue(unseal(ctx.keyring, ctx.logger, retried), value)
      ) {
        return { ARN: existing.arn, Name: existing.name, VersionId: retried.version_id };
      }
      throw resourceExists(`The operation failed because the secret ${name} already exists.`);
    }
    const arn = newArn(ctx, name);
    const now = ctx.now();
    ctx.db.insertSecret({
      arn,
      name,
      description: input.Description ?? null,
      kms_key_id: input.KmsKeyId ?? null,
      owning_service: owningService ?? null,
      created_ms: now,
      rotation_rules: rules ? JSON.stringify(rules) : null,
      next_rotation_ms: rules ? nextRotationDate(rules, new Date(now)).getTime() : null,
      tags: JSON.stringify(tags),
      tags_set: input.Tags !== undefined ? 1 : 0,
    });
    let versionId: string | undefined;
    if (value) {
      versionId = input.ClientRequestToken ?? randomUUID();
      putVersion(ctx, ctx.db.secret(arn)!, versionId, value, [AWSCURRENT], false);
    }
    ctx.trail.apiEvent('CreateSecret', caller, input, { arn, ...(versionId ? { versionId } : {}) });
    return { ARN: arn, Name: name, ...(versionId ? { VersionId: versionId } : {}) };
  });
}

export function updateSecret(
  ctx: SecretsContext,
  input: UpdateSecretRequest,
  caller: Caller,
): UpdateSecretResponse {
  return ctx.db.tx(() => {
    let s = findActive(ctx, input.SecretId);
    refuseManaged(s, caller);
    const value = requestValue(input);
    if (input.Description !== undefined || input.KmsKeyId !== undefined) {
      ctx.db.updateDescription(s.arn, input.Description ?? null, input.KmsKeyId ?? null, ctx.now());
      s = ctx.db.secret(s.arn)!;
    }
    let versionId: string | undefined;
    let abandoned = false;
    if (value) {
      versionId = input.ClientRequestToken ?? randomUUID();
      abandoned = putVersion(ctx, s, versionId, value, [AWSCURRENT], true).abandoned;
    }
    if (abandoned) ctx.trail.serviceEvent(s.arn, 'RotationAbandoned');
    ctx.trail.apiEvent('UpdateSecret', caller, input, { arn: s.arn, ...(versionId ? { versionId } : {}) });
    return { ARN: s.arn, Name: s.name, ...(versionId ? { VersionId: versionId } : {}) };
  });
}

export function describeSecret(ctx: SecretsContext, input: DescribeSecretRequest): DescribeSecretResponse {
  const e = entry(ctx, find(ctx, input.SecretId));
  return {
    ARN: e.ARN,
    Name: e.Name,
    Description: e.Description,
    KmsKeyId: e.KmsKeyId,
    RotationEnabled: e.RotationEnabled,
    RotationLambdaARN: e.RotationLambdaARN,
    RotationRules: e.RotationRules,
    LastRotatedDate: e.LastRotatedDate,
    LastChangedDate: e.LastChangedDate,
    LastAccessedDate: e.LastAccessedDate,
    DeletedDate: e.DeletedDate,
    NextRotationDate: e.NextRotationDate,
    Tags: e.Tags,
    VersionIdsToStages: e.SecretVersionsToStages,
    OwningService: e.OwningService,
    CreatedDate: e.CreatedDate,
  };
}

export function listSecrets(ctx: SecretsContext, input: ListSecretsRequest): ListSecretsResponse {
  let rows = ctx.db.secrets();
  if (!input.IncludePlannedDeletion) rows = rows.filter((r) => r.deleted_ms === null);
  const filters = input.Filters ?? [];
  rows = rows.filter((r) =>
    matchesFilters(filters, {
      name: r.name,
      description: r.description ?? undefined,
      tags: JSON.parse(r.tags) as Tag[],
      owningService: r.owning_service ?? undefined,
      primaryRegion: ctx.region,
    }),
  );
  const by = input.SortBy ?? 'created-date';
  const key = (r: SecretRow): string | number =>
    by === 'name'
      ? r.name
      : by === 'last-accessed-date'
        ? (r.last_accessed_ms ?? 0)
        : by === 'last-changed-date'
          ? r.last_changed_ms
          : r.created_ms;
  const dir = (input.SortOrder ?? 'desc') === 'asc' ? 1 : -1;
  rows.sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    return (ka < kb ? -1 : ka > kb ? 1 : a.arn < b.arn ? -1 : 1) * dir;
  });
  const { items, nextToken } = page(rows, input.MaxResults, input.NextToken);
  return { SecretList: items.map((r) => entry(ctx, r)), ...(nextToken ? { NextToken: nextToken } : {}) };
}

/**
 * A secret as ListSecrets shows it; DescribeSecret shows the same members. As AWS: no
 * `PrimaryRegion` for a secret that is not replicated (none is here), no `Description` once it is
 * empty, and `Tags: []` once a secret had tags and lost them all (never tagged: no `Tags`).
 */
function entry(ctx: SecretsContext, s: SecretRow): SecretListEntry {
  const tags = JSON.parse(s.tags) as Tag[];
  const versions = Object.fromEntries(stagesByVersion(ctx.db.stageMap(s.arn)));
  const configured = s.rotation_enabled === 1 || s.rotation_lambda_arn !== null;
  return {
    ARN: s.arn,
    Name: s.name,
    Description: s.description ? s.description : undefined,
    KmsKeyId: s.kms_key_id !== null && s.kms_key_id !== DEFAULT_KMS_KEY_ID ? s.kms_key_id : undefined,
    RotationEnabled: configured ? s.rotation_enabled === 1 : undefined,
    RotationLambdaARN: s.rotation_lambda_arn ?? undefined,
    RotationRules: s.rotation_rules ? (JSON.parse(s.rotation_rules) as RotationRulesType) : undefined,
    LastRotatedDate: dateOrUndefined(s.last_rotated_ms),
    LastChangedDate: new Date(s.last_changed_ms),
    LastAccessedDate: dateOrUndefined(s.last_accessed_ms),
    DeletedDate: dateOrUndefined(s.deleted_ms),
    NextRotationDate: s.rotation_enabled === 1 ? dateOrUndefined(s.next_rotation_ms) : undefined,
    Tags: tags.length > 0 || s.tags_set === 1 ? tags : undefined,
    SecretVersionsToStages: Object.keys(versions).length > 0 ? versions : undefined,
    OwningService: s.owning_service ?? undefined,
    CreatedDate: new Date(s.created_ms),
  };
}

/** The secret's ARN: its name, a hyphen and six random characters, as AWS makes them. */
export function newArn(ctx: SecretsContext, name: string): string {
  for (;;) {
    let suffix = '';
    for (let i = 0; i < 6; i++) suffix += ARN_SUFFIX[randomInt(ARN_SUFFIX.length)];
    const arn = `arn:aws:secretsmanager:${ctx.region}:${ctx.accountId}:secret:${name}-${suffix}`;
    if (!ctx.db.secret(arn)) return arn;
  }
}
