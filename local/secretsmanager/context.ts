import { AwsError, invalidRequest, resourceNotFound } from '../http/errors';
import type { LambdaRegistry } from '../lambda/registry';
import type { LocalLogger } from '../log';
import type { Keyring } from '../store/keyring';
import type { SecretsManagerQuotas } from './quotas';
import type { SecretRow, SecretsStore } from './store';
import type { Caller, CloudTrail } from './trail';

export const MARKED_FOR_DELETION =
  "You can't perform this operation on the secret because it was marked for deletion.";
export const DAY_MS = 86_400_000;

/** What every Secrets Manager operation works with. */
export interface SecretsContext {
  readonly db: SecretsStore;
  readonly keyring: Keyring;
  readonly trail: CloudTrail;
  readonly lambdas: LambdaRegistry;
  readonly logger: LocalLogger;
  readonly region: string;
  readonly accountId: string;
  /** Sizes, versions and request rates as AWS enforces them (absent: none). */
  readonly quotas?: SecretsManagerQuotas | undefined;
  /** Epoch ms; tests move it for recovery windows and schedules. */
  now(): number;
}

/** A secret by name, full ARN or partial ARN (everything but the hyphen and six random characters). */
export function lookup(ctx: SecretsContext, secretId: string | undefined): SecretRow | undefined {
  if (!secretId) return undefined;
  if (secretId.startsWith('arn:')) {
    const exact = ctx.db.secret(secretId);
    if (exact) return exact;
    const partial = ctx.db.secretsByPartialArn(secretId);
    return partial.length === 1 ? partial[0] : undefined;
  }
  return ctx.db.secretNamed(secretId);
}

export function find(ctx: SecretsContext, secretId: string | undefined): SecretRow {
  const s = lookup(ctx, secretId);
  if (!s) throw resourceNotFound("Secrets Manager can't find the specified secret.");
  return s;
}

/** As `find`, refusing a secret scheduled for deletion. */
export function findActive(ctx: SecretsContext, secretId: string | undefined): SecretRow {
  const s = find(ctx, secretId);
  if (s.deleted_ms !== null) throw invalidRequest(MARKED_FOR_DELETION);
  return s;
}

/** Only the owning service (RDS for its `rds!` secrets) may change a managed secret. */
export function refuseManaged(s: SecretRow, caller: Caller): void {
  if (s.owning_service !== null && caller.service !== s.owning_service) {
    throw invalidRequest(
      `You can't perform this operation on the secret because it's managed by ${s.owning_service}.`,
    );
  }
}

export function noValue(what: string): AwsError {
  return resourceNotFound(`Secrets Manager can't find the specified secret value for ${what}`);
}

/** One page of a list; the token is the offset, opaque to callers. */
export function page<T>(
  items: T[],
  maxResults: number | undefined,
  nextToken: string | undefined,
): { items: T[]; nextToken: string | undefined } {
  let offset = 0;
  if (nextToken !== undefined) {
    const parsed = /^o(\d+)$/.exec(Buffer.from(nextToken, 'base64url').toString('utf8'));
    if (!parsed) throw new AwsError('InvalidNextTokenException', 'The NextToken value is invalid.');
    offset = Number(parsed[1]);
  }
  const size = maxResults ?? 100;
  const slice = items.slice(offset, offset + size);
  const more = offset + size < items.length;
  return {
    items: slice,
    nextToken: more ? Buffer.from(`o${offset + size}`, 'utf8').toString('base64url') : undefined,
  };
}
