/**
 * Secrets Manager's quotas, as AWS documents them ("AWS Secrets Manager quotas",
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html):
 * request rates per API group, per account and region, none adjustable; the secret value size;
 * versions per secret. Rates apply at the protocol layer (`withRateQuotas` wraps the JSON
 * service), so calls from Step Functions' `aws-sdk:secretsmanager` integration count too, as on
 * AWS; the cloud's own services (RDS writing its managed secrets) call the service directly.
 */
import { AwsError } from '../http/errors';
import type { JsonService } from '../http/registry';
import { type QuotaSettings, TokenBucket } from '../quotas';

/** One row of AWS's quota table: operations that share one per-second rate. */
export interface RateQuota {
  operations: readonly string[];
  perSecond: number;
}

/** AWS's table, row by row. Operations not listed have no rate quota of their own here. */
export const RATE_QUOTAS: readonly RateQuota[] = [
  { operations: ['DescribeSecret', 'GetSecretValue'], perSecond: 10_000 },
  {
    // "not adjustable": the regional write quota every writer in the account shares.
    operations: [
      'PutSecretValue',
      'RemoveRegionsFromReplication',
      'ReplicateSecretToRegion',
      'StopReplicationToReplica',
      'UpdateSecret',
      'UpdateSecretVersionStage',
    ],
    perSecond: 50,
  },
  { operations: ['RestoreSecret'], perSecond: 50 },
  { operations: ['RotateSecret', 'CancelRotateSecret'], perSecond: 50 },
  { operations: ['TagResource', 'UntagResource'], perSecond: 50 },
  {
    operations: ['DeleteResourcePolicy', 'GetResourcePolicy', 'PutResourcePolicy', 'ValidateResourcePolicy'],
    perSecond: 50,
  },
  { operations: ['BatchGetSecretValue'], perSecond: 100 },
  { operations: ['CreateSecret'], perSecond: 50 },
  { operations: ['DeleteSecret'], perSecond: 50 },
  { operations: ['GetRandomPassword'], perSecond: 50 },
  { operations: ['ListSecretVersionIds'], perSecond: 50 },
  { operations: ['ListSecrets'], perSecond: 100 },
];

/** The regional write quota a fleet shares with every other writer: PutSecretValue + UpdateSecret + UpdateSecretVersionStage. */
export const WRITE_QUOTA_PER_SECOND = 50;

/** Secret value size: 65,536 bytes (SecretString as UTF-8, or SecretBinary). */
export const MAX_SECRET_VALUE_BYTES = 65_536;

/** Secrets Manager keeps about this many versions and never removes one younger than a day. */
export const MAX_VERSIONS = 100;
export const VERSION_MIN_AGE_MS = 86_400_000;

/** AWS's documented LimitExceededException text. */
const QUOTA_EXCEEDED = 'The request failed because it would exceed one of the Secrets Manager quotas.';

/** What AWS answers when a rate quota is exceeded (HTTP 400, the SDKs retry it as throttling). */
export function throttlingError(): AwsError {
  return new AwsError('ThrottlingException', 'Rate exceeded');
}

/** The token buckets of one account and region, and how many calls each operation got. */
export class SecretsManagerQuotas {
  private readonly buckets = new Map<string, TokenBucket>();
  /** Calls per operation since start (throttled ones included): what a rotation costs. */
  readonly calls = new Map<string, number>();
  /** Calls refused with ThrottlingException, per operation. */
  readonly throttled = new Map<string, number>();

  constructor(
    readonly settings: QuotaSettings,
    private readonly quotas: readonly RateQuota[] = RATE_QUOTAS,
    now?: () => number,
  ) {
    this.setClock(now);
  }

  /** Full buckets on this clock (milliseconds): tests drive time instead of racing it. */
  setClock(now?: () => number): void {
    this.buckets.clear();
    for (const q of this.quotas) {
      const bucket = new TokenBucket(q.perSecond, q.perSecond, now);
      for (const op of q.operations) this.buckets.set(op, bucket);
    }
  }

  /**
   * A smaller quota for the group of `operation` from now on: tests model an account whose
   * quota other writers are already using.
   */
  limit(operation: string, perSecond: number, now?: () => number): void {
    const group = this.quotas.find((q) => q.operations.includes(operation));
    const bucket = new TokenBucket(perSecond, perSecond, now);
    for (const op of group?.operations ?? [operation]) this.buckets.set(op, bucket);
  }

  /** Counts the call; throws AWS's ThrottlingException when its group's bucket is empty. */
  admit(operation: string): void {
    this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
    if (!this.settings.rates) return;
    const bucket = this.buckets.get(operation);
    if (bucket && !bucket.take()) {
      this.throttled.set(operation, (this.throttled.get(operation) ?? 0) + 1);
      throw throttlingError();
    }
  }

  /** The value size quota: SecretString counts its UTF-8 bytes, not its characters. */
  checkValueSize(bytes: number): void {
    if (this.settings.limits && bytes > MAX_SECRET_VALUE_BYTES) {
      throw new AwsError(
        'LimitExceededException',
        `${QUOTA_EXCEEDED} A secret value is at most 65,536 bytes.`,
      );
    }
  }

  /**
   * Before a new version is stored: with `count` versions already and `removable` of them
   * unlabelled and older than a day, is there room? AWS removes old unlabelled versions past
   * 100 but keeps every version of the last 24 hours, so a secret updated too often runs out.
   */
  checkVersionRoom(count: number, removable: number): void {
    if (this.settings.limits && count - removable >= MAX_VERSIONS) {
      throw new AwsError(
        'LimitExceededException',
        `${QUOTA_EXCEEDED} A secret keeps every version created in the last 24 hours and at most about ${MAX_VERSIONS} in all.`,
      );
    }
  }

  /** The age below which a version is never removed (none when limits are off). */
  get versionMinAgeMs(): number {
    return this.settings.limits ? VERSION_MIN_AGE_MS : 0;
  }
}

/** The JSON service with every operation counted and admitted by its rate quota first. */
export function withRateQuotas(service: JsonService, quotas: SecretsManagerQuotas): JsonService {
  const operations = Object.fromEntries(
    Object.entries(service.operations).map(([op, fn]) => [
      op,
      (input: Record<string, unknown>, ctx: Parameters<typeof fn>[1]) => {
        quotas.admit(op);
        return fn(input, ctx);
      },
    ]),
  );
  return { ...service, operations };
}

/** What the version quota needs of an operation's context. */
interface VersionContext {
  readonly db: {
    versionCounts(arn: string, createdBefore: number): { count: number; removable: number };
    pruneVersions(arn: string, keep: number, createdBefore?: number): void;
  };
  readonly quotas?: SecretsManagerQuotas | undefined;
  now(): number;
}

/** Before a new version of `arn` is stored: LimitExceededException when there is no room. */
export function beforeNewVersion(ctx: VersionContext, arn: string): void {
  if (!ctx.quotas) return;
  const c = ctx.db.versionCounts(arn, ctx.now() - ctx.quotas.versionMinAgeMs);
  ctx.quotas.checkVersionRoom(c.count, c.removable);
}

/** After a write: the oldest unlabelled versions past the quota go (never one of the last 24 h). */
export function pruneVersions(ctx: VersionContext, arn: string): void {
  ctx.db.pruneVersions(arn, MAX_VERSIONS, ctx.now() - (ctx.quotas?.versionMinAgeMs ?? 0));
}
