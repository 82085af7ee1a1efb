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
import { AwsError, invalidRequest, resourceExists, validationError } from '../http/errors';
import { DEFAULT_KMS_KEY_ID } from '../store/keyring';
import { find, findActive, refuseManaged, type SecretsContext } from './context';
import { matchesFilters } from './filters';
import { AWSCURRENT, stagesByVersion } from './labels';
import { normalizeRules } from './rotation';
import { nextRotationDate } from './rotation-rules';
import type { SecretRow, SecretSort } from './store';
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
  const filters = input.Filters ?? [];
  const size = input.MaxResults ?? 100;
  const rows: (SecretRow & { sort_key: string | number })[] = [];
  let more = false;
  for (const r of ctx.db.secretsInOrder(
    (input.SortBy ?? 'created-date') as SecretSort,
    (input.SortOrder ?? 'desc') !== 'asc',
    input.IncludePlannedDeletion === true,
    input.NextToken === undefined ? undefined : positionOf(input.NextToken),
  )) {
    const match = matchesFilters(filters, {
      name: r.name,
      description: r.description ?? undefined,
      tags: JSON.parse(r.tags) as Tag[],
      owningService: r.owning_service ?? undefined,
      primaryRegion: ctx.region,
    });
    if (!match) continue;
    if (rows.length === size) {
      more = true;
      break;
    }
    rows.push(r);
  }
  // The next page starts just after the last secret of this one.
  const last = rows.at(-1);
  return {
    SecretList: rows.map((r) => entry(ctx, r)),
    ...(more && last
      ? { NextToken: Buffer.from(JSON.stringify([last.sort_key, last.arn])).toString('base64url') }
      : {}),
  };
}

/**
 * Where a ListSecrets NextToken says the next page starts: just after the secret with this sort
 * key and ARN (a position, not an offset, so secrets created or deleted between pages neither
 * repeat nor skip the others).
 */
function positionOf(token: string): { key: string | number; arn: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      (typeof parsed[0] === 'string' || typeof parsed[0] === 'number') &&
      typeof parsed[1] === 'string'
    )
      return { key: parsed[0], arn: parsed[1] };
  } catch {
    // not base64url JSON: the same answer as any other token this service did not give out
  }
  throw new AwsError('InvalidNextTokenException', 'The NextToken value is invalid.');
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
