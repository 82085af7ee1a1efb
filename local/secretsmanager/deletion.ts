/** Deleting and restoring secrets: DeleteSecret's recovery window, RestoreSecret. */
import type {
  DeleteSecretRequest,
  DeleteSecretResponse,
  RestoreSecretRequest,
  RestoreSecretResponse,
} from '@aws-sdk/client-secrets-manager';
import { eventTime } from '../events/event';
import { invalidParameter, invalidRequest } from '../http/errors';
import { DAY_MS, find, lookup, MARKED_FOR_DELETION, refuseManaged, type SecretsContext } from './context';
import { newArn } from './secrets';
import type { Caller } from './trail';

/**
 * Schedules the secret's deletion after a recovery window of 7 to 30 days (30 by default), or
 * deletes it at once with ForceDeleteWithoutRecovery. The caller stops any rotation in flight.
 */
export function deleteSecret(
  ctx: SecretsContext,
  input: DeleteSecretRequest,
  caller: Caller,
): DeleteSecretResponse & { ARN: string } {
  const force = input.ForceDeleteWithoutRecovery === true;
  if (force && input.RecoveryWindowInDays !== undefined) {
    throw invalidParameter(
      "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
    );
  }
  const days = input.RecoveryWindowInDays ?? 30;
  if (!force && !(Number.isInteger(days) && days >= 7 && days <= 30)) {
    throw invalidParameter('The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
  }
  return ctx.db.tx(() => {
    // Forcing the deletion of a secret that does not exist succeeds on AWS, as if it had been
    // deleted (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html):
    // nothing changes, so nothing is recorded.
    if (force && !lookup(ctx, input.SecretId)) return absentSecret(ctx, input.SecretId ?? '');
    const s = find(ctx, input.SecretId);
    refuseManaged(s, caller);
    if (s.deleted_ms !== null && !force) throw invalidRequest(MARKED_FOR_DELETION);
    const now = ctx.now();
    let deletionDate: Date;
    if (force) {
      ctx.db.deleteSecret(s.arn);
      deletionDate = new Date(now);
    } else {
      deletionDate = new Date(now + days * DAY_MS);
      ctx.db.scheduleDeletion(s.arn, now, deletionDate.getTime());
    }
    ctx.trail.apiEvent('DeleteSecret', caller, input, {
      arn: s.arn,
      name: s.name,
      deletionDate: eventTime(deletionDate),
    });
    return { ARN: s.arn, Name: s.name, DeletionDate: deletionDate };
  });
}

/** The answer to a forced deletion of a secret that does not exist: its name, an ARN, now. */
function absentSecret(ctx: SecretsContext, secretId: string): DeleteSecretResponse & { ARN: string } {
  if (secretId.startsWith('arn:')) {
    const name = secretId.split(':secret:')[1] ?? secretId;
    return { ARN: secretId, Name: name.replace(/-[A-Za-z0-9]{6}$/, ''), DeletionDate: new Date(ctx.now()) };
  }
  return { ARN: newArn(ctx, secretId), Name: secretId, DeletionDate: new Date(ctx.now()) };
}

export function restoreSecret(
  ctx: SecretsContext,
  input: RestoreSecretRequest,
  caller: Caller,
): RestoreSecretResponse {
  return ctx.db.tx(() => {
    const s = find(ctx, input.SecretId);
    ctx.db.restore(s.arn, ctx.now());
    ctx.trail.apiEvent('RestoreSecret', caller, input, { arn: s.arn, name: s.name });
    return { ARN: s.arn, Name: s.name };
  });
}
