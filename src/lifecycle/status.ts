import type { SecretListEntry } from '@aws-sdk/client-secrets-manager';
import { STATUS_TAG } from '../rotation/types';
import { nextRotationOf } from './fleet';

/**
 * A secret's status as the CLI and the console show it, most urgent first. `broken`: the repair
 * left an AWSCURRENT that does not log in (a person must act); `rolled-back` and
 * `rolled-forward`: a failed rotation was repaired and AWSCURRENT logs in.
 */
export const SECRET_STATUSES = [
  'broken',
  'rotating',
  'due',
  'rolled-back',
  'rolled-forward',
  'scheduled-for-deletion',
  'ok',
] as const;

/** How urgent a status is: 0 first; unknown statuses after the known urgent ones. */
export function statusRank(status: string): number {
  const i = (SECRET_STATUSES as readonly string[]).indexOf(status);
  return i < 0 ? SECRET_STATUSES.indexOf('rolled-forward') : i;
}

/** Sorts rows most urgent first (broken on top), then by name. */
export function byUrgency<T extends { status: string; name: string }>(a: T, b: T): number {
  return statusRank(a.status) - statusRank(b.status) || a.name.localeCompare(b.name);
}

/**
 * The one status of a listed secret: scheduled for deletion, a rotation in flight, the repair's
 * tag (broken, rolled-back, rolled-forward), due, or ok.
 */
export function secretStatusOf(s: SecretListEntry, now: number = Date.now()): string {
  if (s.DeletedDate) return 'scheduled-for-deletion';
  const tag = s.Tags?.find((t) => t.Key === STATUS_TAG)?.Value;
  if (tag === 'broken') return tag;
  const pending = Object.values(s.SecretVersionsToStages ?? {}).some(
    (stages) => stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT'),
  );
  if (pending) return 'rotating';
  if (tag && tag !== 'ok') return tag;
  const next = s.OwningService === 'rds' && !s.RotationEnabled ? undefined : nextRotationOf(s);
  return next && next.getTime() < now ? 'due' : 'ok';
}

const SECRET_ARN = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)-[A-Za-z0-9]{6}$/;

/** Whether two references (names or ARNs) name the same secret. */
export function sameSecret(a: string, b: string): boolean {
  if (a === b) return true;
  const name = (x: string) => SECRET_ARN.exec(x)?.[1] ?? x;
  return name(a) === name(b);
}

/**
 * What an execution was for, from its input: the secret, the database (`db`, `db/user`), the
 * fleet's tag, or the secret an EventBridge event names. Undefined when the input names none.
 */
export function executionSubject(input: string | undefined): string | undefined {
  if (!input) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(input);
  } catch {
    return undefined;
  }
  return subjectOf(v, 0);
}

function subjectOf(v: unknown, depth: number): string | undefined {
  if (depth > 3 || typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const str = (x: unknown) => (typeof x === 'string' && x ? x : undefined);
  const secret = str(o['secretId']) ?? str(o['secretArn']);
  if (secret) return secret;
  const db = str(o['dbIdentifier']);
  if (db) return str(o['username']) ? `${db}/${o['username']}` : db;
  const id = str(o['identifier']);
  if (id) return id;
  const tag = o['tag'] as { key?: unknown; value?: unknown } | undefined;
  if (tag && typeof tag.key === 'string') return `tag ${tag.key}=${String(tag.value ?? '')}`;
  const detail = o['detail'] as Record<string, unknown> | undefined;
  if (detail && typeof detail === 'object') {
    const extra = detail['additionalEventData'] as Record<string, unknown> | undefined;
    const params = detail['requestParameters'] as Record<string, unknown> | undefined;
    const named = str(extra?.['SecretId']) ?? str(params?.['secretId']) ?? str(detail['SourceIdentifier']);
    if (named) return named;
    if (typeof detail['input'] === 'string') return executionSubject(detail['input']);
  }
  if (o['request']) return subjectOf(o['request'], depth + 1);
  if (o['options']) return subjectOf(o['options'], depth + 1);
  return undefined;
}
