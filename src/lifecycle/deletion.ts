import { DescribeSecretCommand, RestoreSecretCommand } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { aws } from '../aws/errors';
import type { Deps } from '../deps';
import { ValidationError } from '../errors';
import { parseWith } from '../validate';
import { deleteChildSecrets, MANAGED_TAG, PROTECTED_TAG } from './users';

export type DeletionKind = 'database-deleted' | 'secret-deleted' | 'ignored';

export interface DeletionCase {
  kind: DeletionKind;
  /** The DB instance or cluster identifier (database-deleted). */
  identifier?: string;
  /** The secret (secret-deleted). */
  secretId?: string;
  alertTopicArn?: string;
}

const rdsEvent = z.object({
  source: z.literal('aws.rds'),
  'detail-type': z.enum(['RDS DB Instance Event', 'RDS DB Cluster Event']),
  detail: z.object({ EventID: z.string(), SourceIdentifier: z.string().min(1) }),
});
const deleteSecretCall = z.object({
  source: z.literal('aws.secretsmanager'),
  detail: z.object({
    eventName: z.literal('DeleteSecret'),
    requestParameters: z.object({ secretId: z.string().min(1) }),
  }),
});

/** RDS-EVENT-0003: DB instance deleted; RDS-EVENT-0171: DB cluster deleted. */
const DELETED = new Set(['RDS-EVENT-0003', 'RDS-EVENT-0171']);

/** What a deletion event is about: a deleted database, a secret scheduled for deletion, or neither. */
export type DeletionEvent =
  | { kind: 'database-deleted'; identifier: string }
  | { kind: 'secret-deleted'; secretId: string }
  | { kind: 'ignored' };

/** Parses on-deletion's input: the RDS or CloudTrail event the rule matched. */
export function parseDeletionEvent(event: unknown): DeletionEvent {
  const rds = rdsEvent.safeParse(event);
  if (rds.success && DELETED.has(rds.data.detail.EventID)) {
    return { kind: 'database-deleted', identifier: rds.data.detail.SourceIdentifier };
  }
  const sm = deleteSecretCall.safeParse(event);
  if (sm.success) return { kind: 'secret-deleted', secretId: sm.data.detail.requestParameters.secretId };
  return { kind: 'ignored' };
}

/** ClassifyDeletion: what was deleted, with the alerts topic the next states publish to. */
export function classifyDeletion(deps: Pick<Deps, 'alertTopicArn'>, event: DeletionEvent): DeletionCase {
  return { ...event, ...(deps.alertTopicArn ? { alertTopicArn: deps.alertTopicArn } : {}) };
}

const deletionCase = z.object({
  kind: z.enum(['database-deleted', 'secret-deleted', 'ignored']),
  identifier: z.string().min(1).optional(),
  secretId: z.string().min(1).optional(),
  alertTopicArn: z.string().optional(),
});

/** Parses ClassifyDeletion's output as the next Task receives it. */
export function parseDeletionCase(event: unknown): DeletionCase {
  const c = parseWith(deletionCase, event, 'invalid deletion case');
  if (c.kind === 'database-deleted' && !c.identifier)
    throw new ValidationError('database-deleted needs identifier');
  if (c.kind === 'secret-deleted' && !c.secretId) throw new ValidationError('secret-deleted needs secretId');
  return c as DeletionCase;
}

export interface DeletionOutcome extends DeletionCase {
  action: 'children-scheduled-for-deletion' | 'restored' | 'alerted' | 'none';
  /** Alert text; empty when nothing is worth telling anyone. */
  message: string;
  deletedSecrets?: string[];
}

/** RetireChildSecrets: a deleted database's user secrets go too, with a recovery window. */
export async function retireChildSecrets(deps: Deps, c: DeletionCase): Promise<DeletionOutcome> {
  const all = await deleteChildSecrets(deps, {
    identifier: c.identifier ?? '',
    recoveryWindowInDays: 7,
  });
  // Only what this run scheduled: a decommission that got there first has reported its own.
  const deletedSecrets = all.deletedSecrets.filter((a) => !all.alreadyScheduled.includes(a));
  return {
    ...c,
    action: deletedSecrets.length ? 'children-scheduled-for-deletion' : 'none',
    deletedSecrets,
    message: deletedSecrets.length
      ? `Database ${c.identifier} was deleted; ${deletedSecrets.length} user secret(s) scheduled for deletion (7-day recovery window) with rotation turned off: ${deletedSecrets.join(', ')}`
      : '',
  };
}

/**
 * ProtectDeletedSecret: a credflow secret scheduled for deletion while its database user still
 * exists would strand that user. Tagged credflow:protected -> restored; otherwise an alert.
 */
export async function protectDeletedSecret(deps: Deps, c: DeletionCase): Promise<DeletionOutcome> {
  const secretId = c.secretId ?? '';
  const d = await aws(`DescribeSecret ${secretId}`, () =>
    deps.secrets.send(new DescribeSecretCommand({ SecretId: secretId })),
  );
  const tags = Object.fromEntries((d.Tags ?? []).map((t) => [t.Key, t.Value]));
  if (tags[MANAGED_TAG] !== 'true' || !d.DeletedDate) return { ...c, action: 'none', message: '' };
  if (tags[PROTECTED_TAG] === 'true') {
    await aws(`RestoreSecret ${secretId}`, () =>
      deps.secrets.send(new RestoreSecretCommand({ SecretId: secretId })),
    );
    return {
      ...c,
      action: 'restored',
      message: `Secret ${d.ARN} is tagged ${PROTECTED_TAG} and was scheduled for deletion; it has been restored.`,
    };
  }
  return {
    ...c,
    action: 'alerted',
    // Secrets Manager refuses to read a secret scheduled for deletion, so whether the user
    // still exists cannot be checked from here; the alert says so.
    message: `Secret ${d.ARN} was scheduled for deletion on ${d.DeletedDate.toISOString()} while its database user may still exist; restore it with RestoreSecret if that was a mistake.`,
  };
}
