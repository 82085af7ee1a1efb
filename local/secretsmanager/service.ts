import { randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type {
  CancelRotateSecretRequest,
  CancelRotateSecretResponse,
  CreateSecretRequest,
  CreateSecretResponse,
  DeleteSecretRequest,
  DeleteSecretResponse,
  DescribeSecretRequest,
  DescribeSecretResponse,
  GetRandomPasswordRequest,
  GetRandomPasswordResponse,
  GetSecretValueRequest,
  GetSecretValueResponse,
  ListSecretsRequest,
  ListSecretsResponse,
  ListSecretVersionIdsRequest,
  ListSecretVersionIdsResponse,
  PutSecretValueRequest,
  PutSecretValueResponse,
  RestoreSecretRequest,
  RestoreSecretResponse,
  RotateSecretRequest,
  RotateSecretResponse,
  RotationRulesType,
  SecretListEntry,
  Tag,
  TagResourceRequest,
  UntagResourceRequest,
  UpdateSecretRequest,
  UpdateSecretResponse,
  UpdateSecretVersionStageRequest,
  UpdateSecretVersionStageResponse,
} from '@aws-sdk/client-secrets-manager';
import type { Statement } from 'better-sqlite3';
import type { AwsEvent } from '../events/event';
import { eventTime } from '../events/event';
import type { EventLog } from '../events/log';
import {
  AwsError,
  invalidParameter,
  invalidRequest,
  resourceExists,
  resourceNotFound,
  validationError,
} from '../http/errors';
import type { LambdaRegistry } from '../lambda/registry';
import type { LocalLogger } from '../log';
import type { Migration, Store } from '../store/db';
import { DEFAULT_KMS_KEY_ID, DecryptionError, type Keyring } from '../store/keyring';
import { matchesFilters } from './filters';
import {
  AWSCURRENT,
  AWSPENDING,
  attachStages,
  checkStageQuota,
  dropPendingOnManualChange,
  moveStage,
  type StageMap,
  stagesByVersion,
  stagesOf,
  validateStageName,
} from './labels';
import { generatePassword } from './password';
import { type RotationEventName, RotationRunner } from './rotation';
import { nextRotationDate, parseRotationRules } from './rotation-rules';

export const MARKED_FOR_DELETION =
  "You can't perform this operation on the secret because it was marked for deletion.";
export const PREVIOUS_ROTATION_INCOMPLETE =
  "A previous rotation isn't complete. That rotation will be reattempted.";
/** AWS keeps about this many versions; beyond it the oldest deprecated ones go. */
export const MAX_VERSIONS = 100;
const DAY_MS = 86_400_000;
const NAME_RE = /^[A-Za-z0-9/_+=.@-]+$/;
/** Services name their secrets with a `!` (`rds!db-<uuid>`), which clients cannot use. */
const SERVICE_NAME_RE = /^[A-Za-z0-9/_+=.@!-]+$/;
const ARN_SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Who is calling, for the CloudTrail-shaped events. */
export interface Caller {
  requestId?: string | undefined;
  accessKeyId?: string | undefined;
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  /** An AWS service acting for itself (`rds`): may change the secrets it owns. */
  service?: string | undefined;
}

export interface SecretsManagerDeps {
  store: Store;
  keyring: Keyring;
  events: EventLog;
  lambdas: LambdaRegistry;
  region: string;
  accountId: string;
  logger: LocalLogger;
}

interface SecretRow {
  arn: string;
  name: string;
  description: string | null;
  kms_key_id: string | null;
  owning_service: string | null;
  created_ms: number;
  last_changed_ms: number;
  last_accessed_ms: number | null;
  last_rotated_ms: number | null;
  rotation_enabled: number;
  rotation_lambda_arn: string | null;
  rotation_rules: string | null;
  next_rotation_ms: number | null;
  deleted_ms: number | null;
  purge_ms: number | null;
  tags: string;
}

interface VersionRow {
  seq: number;
  secret_arn: string;
  version_id: string;
  created_ms: number;
  last_accessed_ms: number | null;
  kms_key_id: string;
  kind: 'string' | 'binary' | null;
  ciphertext: Buffer | null;
}

interface SecretValue {
  kind: 'string' | 'binary';
  bytes: Buffer;
}

const MIGRATIONS: Migration[] = [
  {
    id: '001-secrets',
    up: `
      CREATE TABLE sm_secrets (
        arn TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT,
        kms_key_id TEXT,
        owning_service TEXT,
        created_ms INTEGER NOT NULL,
        last_changed_ms INTEGER NOT NULL,
        last_accessed_ms INTEGER,
        last_rotated_ms INTEGER,
        rotation_enabled INTEGER NOT NULL DEFAULT 0,
        rotation_lambda_arn TEXT,
        rotation_rules TEXT,
        next_rotation_ms INTEGER,
        deleted_ms INTEGER,
        purge_ms INTEGER,
        tags TEXT NOT NULL DEFAULT '[]');
      CREATE INDEX sm_secrets_purge ON sm_secrets (purge_ms) WHERE purge_ms IS NOT NULL;
      CREATE TABLE sm_versions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        secret_arn TEXT NOT NULL REFERENCES sm_secrets (arn) ON DELETE CASCADE,
        version_id TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        last_accessed_ms INTEGER,
        kms_key_id TEXT NOT NULL,
        kind TEXT,
        ciphertext BLOB,
        UNIQUE (secret_arn, version_id));
      CREATE TABLE sm_stages (
        secret_arn TEXT NOT NULL REFERENCES sm_secrets (arn) ON DELETE CASCADE,
        stage TEXT NOT NULL,
        version_id TEXT NOT NULL,
        PRIMARY KEY (secret_arn, stage),
        FOREIGN KEY (secret_arn, version_id) REFERENCES sm_versions (secret_arn, version_id) ON DELETE CASCADE);`,
  },
];

function requestValue(input: {
  SecretString?: string | undefined;
  SecretBinary?: Uint8Array | undefined;
}): SecretValue | undefined {
  if (input.SecretString !== undefined && input.SecretBinary !== undefined) {
    throw invalidParameter(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  }
  if (input.SecretString !== undefined)
    return { kind: 'string', bytes: Buffer.from(input.SecretString, 'utf8') };
  if (input.SecretBinary !== undefined) return { kind: 'binary', bytes: Buffer.from(input.SecretBinary) };
  return undefined;
}

function sameValue(a: SecretValue, b: SecretValue): boolean {
  return a.kind === b.kind && a.bytes.length === b.bytes.length && timingSafeEqual(a.bytes, b.bytes);
}

const dayOf = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;
const dateOrUndefined = (ms: number | null) => (ms === null ? undefined : new Date(ms));

/** CloudTrail's requestParameters: the request in camelCase, never a secret value. */
function cloudTrailParameters(input: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    if (v === undefined || k === 'SecretString' || k === 'SecretBinary') continue;
    const key = k === 'RotationLambdaARN' ? 'rotationLambdaARN' : k[0]!.toLowerCase() + k.slice(1);
    out[key] = v instanceof Date ? eventTime(v) : v;
  }
  return out;
}

/**
 * The local Secrets Manager: the API's semantics over the store, values sealed by the keyring.
 * Methods take and return the SDK's request/response shapes; the JSON protocol adapter in
 * `api.ts` only parses and serializes. Every change is one transaction that also records its
 * CloudTrail-shaped event.
 */
export class SecretsManager {
  private readonly runner: RotationRunner;
  private readonly statements = new Map<string, Statement>();
  private clock: () => Date = () => new Date();

  constructor(private readonly deps: SecretsManagerDeps) {
    deps.store.migrate('secretsmanager', MIGRATIONS);
    this.runner = new RotationRunner(
      deps.lambdas,
      {
        serviceEvent: (arn, name, extra) => this.serviceEvent(arn, name, extra),
        complete: (arn, token) => this.completeRotation(arn, token),
      },
      deps.logger,
    );
  }

  /** For tests of time-driven behaviour (recovery windows, schedules). */
  setClock(clock: () => Date): void {
    this.clock = clock;
  }

  /** Resolves when the rotation of `secretId` (or every rotation) has finished. */
  async awaitIdle(secretId?: string): Promise<void> {
    const arn = secretId === undefined ? undefined : this.lookup(secretId)?.arn;
    await this.runner.awaitIdle(arn);
  }

  // ---------------------------------------------------------------- operations

  createSecret(input: CreateSecretRequest, caller: Caller = {}): CreateSecretResponse {
    return this.create(input, caller, undefined, undefined);
  }

  getSecretValue(input: GetSecretValueRequest): GetSecretValueResponse {
    this.purgeExpired();
    return this.deps.store.tx(() => {
      const s = this.findActive(input.SecretId);
      let version: VersionRow | undefined;
      if (input.VersionId !== undefined) {
        version = this.version(s.arn, input.VersionId);
        if (!version) throw this.noValue(`VersionId: ${input.VersionId}`);
        if (
          input.VersionStage !== undefined &&
          this.stageMap(s.arn).get(input.VersionStage) !== input.VersionId
        ) {
          throw this.noValue(`VersionId: ${input.VersionId} and staging label: ${input.VersionStage}`);
        }
      } else {
        const stage = input.VersionStage ?? AWSCURRENT;
        const id = this.stageMap(s.arn).get(stage);
        version = id === undefined ? undefined : this.version(s.arn, id);
        if (!version) throw this.noValue(`staging label: ${stage}`);
      }
      if (version.kind === null) {
        throw this.noValue(
          input.VersionId !== undefined
            ? `VersionId: ${input.VersionId}`
            : `staging label: ${input.VersionStage}`,
        );
      }
      const value = this.unseal(version);
      const today = dayOf(this.now());
      if (s.last_accessed_ms !== today)
        this.sql('UPDATE sm_secrets SET last_accessed_ms = ? WHERE arn = ?').run(today, s.arn);
      if (version.last_accessed_ms !== today) {
        this.sql('UPDATE sm_versions SET last_accessed_ms = ? WHERE seq = ?').run(today, version.seq);
      }
      return {
        ARN: s.arn,
        Name: s.name,
        VersionId: version.version_id,
        ...(value.kind === 'string'
          ? { SecretString: value.bytes.toString('utf8') }
          : { SecretBinary: new Uint8Array(value.bytes) }),
        VersionStages: stagesOf(this.stageMap(s.arn), version.version_id),
        CreatedDate: new Date(version.created_ms),
      };
    });
  }

  putSecretValue(input: PutSecretValueRequest, caller: Caller = {}): PutSecretValueResponse {
    this.purgeExpired();
    return this.deps.store.tx(() => {
      const s = this.findActive(input.SecretId);
      this.refuseManaged(s, caller);
      const value = requestValue(input);
      if (!value) throw invalidParameter('You must provide either SecretString or SecretBinary.');
      const stages = input.VersionStages ?? [AWSCURRENT];
      const token = input.ClientRequestToken ?? randomUUID();
      const put = this.putVersion(s, token, value, stages, true);
      const out: PutSecretValueResponse = {
        ARN: s.arn,
        Name: s.name,
        VersionId: token,
        VersionStages: put.stages,
      };
      if (put.abandoned) this.serviceEvent(s.arn, 'RotationAbandoned');
      this.apiEvent('PutSecretValue', caller, input, { arn: s.arn, versionId: token });
      return out;
    });
  }

  updateSecret(input: UpdateSecretRequest, caller: Caller = {}): UpdateSecretResponse {
    this.purgeExpired();
    return this.deps.store.tx(() => {
      let s = this.findActive(input.SecretId);
      this.refuseManaged(s, caller);
      const value = requestValue(input);
      if (input.Description !== undefined || input.KmsKeyId !== undefined) {
        this.sql(
          'UPDATE sm_secrets SET description = coalesce(?, description), kms_key_id = coalesce(?, kms_key_id), last_changed_ms = ? WHERE arn = ?',
        ).run(input.Description ?? null, input.KmsKeyId ?? null, this.now(), s.arn);
        s = this.row(s.arn)!;
      }
      let versionId: string | undefined;
      let abandoned = false;
      if (value) {
        versionId = input.ClientRequestToken ?? randomUUID();
        abandoned = this.putVersion(s, versionId, value, [AWSCURRENT], true).abandoned;
      }
      if (abandoned) this.serviceEvent(s.arn, 'RotationAbandoned');
      this.apiEvent('UpdateSecret', caller, input, { arn: s.arn, ...(versionId ? { versionId } : {}) });
      return { ARN: s.arn, Name: s.name, ...(versionId ? { VersionId: versionId } : {}) };
    });
  }

  updateSecretVersionStage(
    input: UpdateSecretVersionStageRequest,
    caller: Caller = {},
  ): UpdateSecretVersionStageResponse {
    this.purgeExpired();
    return this.deps.store.tx(() => {
      const s = this.findActive(input.SecretId);
      const before = this.stageMap(s.arn);
      const ids = new Set(
        (
          this.sql('SELECT version_id FROM sm_versions WHERE secret_arn = ?').all(s.arn) as {
            version_id: string;
          }[]
        ).map((r) => r.version_id),
      );
      const after = moveStage(before, ids, {
        stage: input.VersionStage ?? '',
        moveToVersionId: input.MoveToVersionId,
        removeFromVersionId: input.RemoveFromVersionId,
      });
      checkStageQuota(after);
      this.writeStages(s.arn, after);
      this.pruneVersions(s.arn);
      this.touch(s.arn);
      this.apiEvent('UpdateSecretVersionStage', caller, input, { arn: s.arn });
      return { ARN: s.arn, Name: s.name };
    });
  }

  describeSecret(input: DescribeSecretRequest): DescribeSecretResponse {
    this.purgeExpired();
    const s = this.find(input.SecretId);
    const e = this.entry(s);
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
      PrimaryRegion: e.PrimaryRegion,
    };
  }

  listSecrets(input: ListSecretsRequest = {}): ListSecretsResponse {
    this.purgeExpired();
    let rows = this.sql('SELECT * FROM sm_secrets').all() as SecretRow[];
    if (!input.IncludePlannedDeletion) rows = rows.filter((r) => r.deleted_ms === null);
    const filters = input.Filters ?? [];
    rows = rows.filter((r) =>
      matchesFilters(filters, {
        name: r.name,
        description: r.description ?? undefined,
        tags: JSON.parse(r.tags) as Tag[],
        owningService: r.owning_service ?? undefined,
        primaryRegion: this.deps.region,
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
    const { items, nextToken } = this.page(rows, input.MaxResults, input.NextToken);
    return { SecretList: items.map((r) => this.entry(r)), ...(nextToken ? { NextToken: nextToken } : {}) };
  }

  listSecretVersionIds(input: ListSecretVersionIdsRequest): ListSecretVersionIdsResponse {
    this.purgeExpired();
    const s = this.find(input.SecretId);
    const stages = stagesByVersion(this.stageMap(s.arn));
    let versions = this.sql('SELECT * FROM sm_versions WHERE secret_arn = ? ORDER BY seq').all(
      s.arn,
    ) as VersionRow[];
    if (!input.IncludeDeprecated) versions = versions.filter((v) => stages.has(v.version_id));
    const { items, nextToken } = this.page(versions, input.MaxResults, input.NextToken);
    return {
      ARN: s.arn,
      Name: s.name,
      Versions: items.map((v) => ({
        VersionId: v.version_id,
        VersionStages: stages.get(v.version_id) ?? [],
        LastAccessedDate: dateOrUndefined(v.last_accessed_ms),
        CreatedDate: new Date(v.created_ms),
        KmsKeyIds: [v.kms_key_id === DEFAULT_KMS_KEY_ID ? 'DefaultEncryptionKey' : v.kms_key_id],
      })),
      ...(nextToken ? { NextToken: nextToken } : {}),
    };
  }

  deleteSecret(input: DeleteSecretRequest, caller: Caller = {}): DeleteSecretResponse {
    this.purgeExpired();
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
    const out = this.deps.store.tx(() => {
      const s = this.find(input.SecretId);
      this.refuseManaged(s, caller);
      if (s.deleted_ms !== null && !force) throw invalidRequest(MARKED_FOR_DELETION);
      const now = this.now();
      let deletionDate: Date;
      if (force) {
        this.sql('DELETE FROM sm_secrets WHERE arn = ?').run(s.arn);
        deletionDate = new Date(now);
      } else {
        deletionDate = new Date(now + days * DAY_MS);
        this.sql('UPDATE sm_secrets SET deleted_ms = ?, purge_ms = ?, last_changed_ms = ? WHERE arn = ?').run(
          now,
          deletionDate.getTime(),
          now,
          s.arn,
        );
      }
      this.apiEvent('DeleteSecret', caller, input, {
        arn: s.arn,
        name: s.name,
        deletionDate: eventTime(deletionDate),
      });
      return { ARN: s.arn, Name: s.name, DeletionDate: deletionDate };
    });
    this.runner.cancel(out.ARN);
    return out;
  }

  restoreSecret(input: RestoreSecretRequest, caller: Caller = {}): RestoreSecretResponse {
    this.purgeExpired();
    return this.deps.store.tx(() => {
      const s = this.find(input.SecretId);
      this.sql(
        'UPDATE sm_secrets SET deleted_ms = NULL, purge_ms = NULL, last_changed_ms = ? WHERE arn = ?',
      ).run(this.now(), s.arn);
      this.apiEvent('RestoreSecret', caller, input, { arn: s.arn, name: s.name });
      return { ARN: s.arn, Name: s.name };
    });
  }

  rotateSecret(input: RotateSecretRequest, caller: Caller = {}): RotateSecretResponse {
    this.purgeExpired();
    const started = this.deps.store.tx(() => {
      const s = this.findActive(input.SecretId);
      this.refuseManaged(s, caller);
      const lambdaArn = input.RotationLambdaARN ?? s.rotation_lambda_arn ?? undefined;
      if (lambdaArn === undefined) {
        throw invalidRequest('No Lambda rotation function ARN is associated with this secret.');
      }
      if (!this.deps.lambdas.has(lambdaArn)) {
        throw new AwsError(
          'AccessDeniedException',
          'Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.',
        );
      }
      const rules =
        input.RotationRules ??
        (s.rotation_rules ? (JSON.parse(s.rotation_rules) as RotationRulesType) : undefined);
      const storedRules = rules ? this.normalizeRules(rules) : undefined;
      const immediately = input.RotateImmediately ?? true;
      const token = input.ClientRequestToken ?? randomUUID();
      const before = this.stageMap(s.arn);
      if (immediately) {
        const pending = before.get(AWSPENDING);
        if (pending !== undefined && pending !== before.get(AWSCURRENT))
          throw invalidRequest(PREVIOUS_ROTATION_INCOMPLETE);
        if (this.version(s.arn, token)) {
          throw resourceExists("You can't modify an existing version, you can only create a new version.");
        }
      }
      const now = this.now();
      const next = storedRules
        ? nextRotationDate(storedRules, new Date(s.last_rotated_ms ?? now)).getTime()
        : null;
      this.sql(
        `UPDATE sm_secrets SET rotation_enabled = 1, rotation_lambda_arn = ?, rotation_rules = ?,
           next_rotation_ms = ?, last_changed_ms = ? WHERE arn = ?`,
      ).run(lambdaArn, storedRules ? JSON.stringify(storedRules) : null, next, now, s.arn);
      if (immediately) {
        // The placeholder: a version with the token's id, labelled AWSPENDING, without a value yet.
        this.sql(
          'INSERT INTO sm_versions (secret_arn, version_id, created_ms, kms_key_id, kind, ciphertext) VALUES (?, ?, ?, ?, NULL, NULL)',
        ).run(s.arn, token, now, s.kms_key_id ?? DEFAULT_KMS_KEY_ID);
        this.writeStages(s.arn, attachStages(before, token, [AWSPENDING]));
        this.pruneVersions(s.arn);
      }
      this.apiEvent('RotateSecret', caller, input, {
        arn: s.arn,
        ...(immediately ? { versionId: token } : {}),
      });
      return { s, lambdaArn, token, immediately };
    });
    if (started.immediately) this.runner.start(started.s.arn, started.token, started.lambdaArn);
    return {
      ARN: started.s.arn,
      Name: started.s.name,
      ...(started.immediately ? { VersionId: started.token } : {}),
    };
  }

  cancelRotateSecret(input: CancelRotateSecretRequest, caller: Caller = {}): CancelRotateSecretResponse {
    this.purgeExpired();
    const out = this.deps.store.tx(() => {
      const s = this.findActive(input.SecretId);
      const stages = this.stageMap(s.arn);
      const pending = stages.get(AWSPENDING);
      this.sql(
        'UPDATE sm_secrets SET rotation_enabled = 0, next_rotation_ms = NULL, last_changed_ms = ? WHERE arn = ?',
      ).run(this.now(), s.arn);
      const versionId = pending !== undefined && pending !== stages.get(AWSCURRENT) ? pending : undefined;
      this.apiEvent('CancelRotateSecret', caller, input, { arn: s.arn });
      return { ARN: s.arn, Name: s.name, ...(versionId ? { VersionId: versionId } : {}) };
    });
    this.runner.cancel(out.ARN);
    return out;
  }

  getRandomPassword(input: GetRandomPasswordRequest = {}): GetRandomPasswordResponse {
    return { RandomPassword: generatePassword(input) };
  }

  tagResource(input: TagResourceRequest, caller: Caller = {}): Record<string, never> {
    this.purgeExpired();
    return this.deps.store.tx(() => {
      const s = this.findActive(input.SecretId);
      const tags = JSON.parse(s.tags) as Tag[];
      for (const t of this.validTags(input.Tags ?? [], caller)) {
        const at = tags.findIndex((x) => x.Key === t.Key);
        if (at >= 0) tags[at] = t;
        else tags.push(t);
      }
      this.checkTagCount(tags);
      this.sql('UPDATE sm_secrets SET tags = ?, last_changed_ms = ? WHERE arn = ?').run(
        JSON.stringify(tags),
        this.now(),
        s.arn,
      );
      this.apiEvent('TagResource', caller, input, {});
      return {};
    });
  }

  untagResource(input: UntagResourceRequest, caller: Caller = {}): Record<string, never> {
    this.purgeExpired();
    return this.deps.store.tx(() => {
      const s = this.findActive(input.SecretId);
      const drop = new Set(input.TagKeys ?? []);
      if (!caller.service && [...drop].some((k) => k.startsWith('aws:'))) {
        throw invalidParameter("Tag keys beginning with 'aws:' are reserved for AWS use.");
      }
      const tags = (JSON.parse(s.tags) as Tag[]).filter((t) => !drop.has(t.Key ?? ''));
      this.sql('UPDATE sm_secrets SET tags = ?, last_changed_ms = ? WHERE arn = ?').run(
        JSON.stringify(tags),
        this.now(),
        s.arn,
      );
      this.apiEvent('UntagResource', caller, input, {});
      return {};
    });
  }

  // ------------------------------------------------- secrets other services own

  /**
   * Creates a secret owned by an AWS service (RDS's `rds!db-<uuid>` master secret): clients
   * can read it but not change, rotate or delete it. `aws:` tags are allowed here.
   */
  createManagedSecret(
    owningService: string,
    input: CreateSecretRequest,
    opts: { rotationRules?: RotationRulesType } = {},
  ): CreateSecretResponse {
    return this.create(input, { service: owningService }, owningService, opts.rotationRules);
  }

  /** The owning service stores a new value (a new master password, say) as AWSCURRENT. */
  putManagedSecretValue(owningService: string, input: PutSecretValueRequest): PutSecretValueResponse {
    return this.putSecretValue(input, { service: owningService });
  }

  updateManagedSecret(owningService: string, input: UpdateSecretRequest): UpdateSecretResponse {
    return this.updateSecret(input, { service: owningService });
  }

  deleteManagedSecret(owningService: string, input: DeleteSecretRequest): DeleteSecretResponse {
    return this.deleteSecret(input, { service: owningService });
  }

  // ------------------------------------------------------------------ internals

  private now(): number {
    return this.clock().getTime();
  }

  private sql(source: string): Statement {
    let s = this.statements.get(source);
    if (!s) {
      s = this.deps.store.db.prepare(source);
      this.statements.set(source, s);
    }
    return s;
  }

  /** Removes secrets whose recovery window has passed. Checked lazily, at every call. */
  purgeExpired(): void {
    const now = this.now();
    // Look before deleting, so a read-only call takes no write lock.
    if (this.sql('SELECT 1 FROM sm_secrets WHERE purge_ms IS NOT NULL AND purge_ms <= ? LIMIT 1').get(now)) {
      this.sql('DELETE FROM sm_secrets WHERE purge_ms IS NOT NULL AND purge_ms <= ?').run(now);
    }
  }

  private create(
    input: CreateSecretRequest,
    caller: Caller,
    owningService: string | undefined,
    rotationRules: RotationRulesType | undefined,
  ): CreateSecretResponse {
    this.purgeExpired();
    const name = input.Name ?? '';
    if (name.length < 1 || name.length > 512 || !(owningService ? SERVICE_NAME_RE : NAME_RE).test(name)) {
      throw invalidParameter(
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      );
    }
    const value = requestValue(input);
    const tags = this.validTags(input.Tags ?? [], caller);
    this.checkTagCount(tags);
    const rules = rotationRules ? this.normalizeRules(rotationRules) : undefined;
    return this.deps.store.tx(() => {
      const existing = this.sql('SELECT * FROM sm_secrets WHERE name = ?').get(name) as SecretRow | undefined;
      if (existing) {
        if (existing.deleted_ms !== null) {
          throw invalidRequest(
            "You can't create this secret because a secret with this name is already scheduled for deletion.",
          );
        }
        // A retry of the same request (same token, same value) is answered as the first was.
        const retried = input.ClientRequestToken
          ? this.version(existing.arn, input.ClientRequestToken)
          : undefined;
        if (retried && value && retried.kind !== null && sameValue(this.unseal(retried), value)) {
          return { ARN: existing.arn, Name: existing.name, VersionId: retried.version_id };
        }
        throw resourceExists(`The operation failed because the secret ${name} already exists.`);
      }
      const arn = this.newArn(name);
      const now = this.now();
      this.sql(
        `INSERT INTO sm_secrets (arn, name, description, kms_key_id, owning_service, created_ms, last_changed_ms,
           rotation_enabled, rotation_rules, next_rotation_ms, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        arn,
        name,
        input.Description ?? null,
        input.KmsKeyId ?? null,
        owningService ?? null,
        now,
        now,
        rules ? 1 : 0,
        rules ? JSON.stringify(rules) : null,
        rules ? nextRotationDate(rules, new Date(now)).getTime() : null,
        JSON.stringify(tags),
      );
      let versionId: string | undefined;
      if (value) {
        versionId = input.ClientRequestToken ?? randomUUID();
        this.putVersion(this.row(arn)!, versionId, value, [AWSCURRENT], false);
      }
      this.apiEvent('CreateSecret', caller, input, { arn, ...(versionId ? { versionId } : {}) });
      return { ARN: arn, Name: name, ...(versionId ? { VersionId: versionId } : {}) };
    });
  }

  /**
   * Stores `value` as version `token` with `stages` (the shared core of CreateSecret,
   * PutSecretValue and UpdateSecret). A token already used with the same value is a no-op;
   * with another value it is refused; a token naming RotateSecret's empty placeholder fills it.
   */
  private putVersion(
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
    const before = this.stageMap(s.arn);
    const existing = this.version(s.arn, token);
    if (existing && existing.kind !== null) {
      if (sameValue(this.unseal(existing), value))
        return { stages: stagesOf(before, token), abandoned: false };
      throw resourceExists("You can't modify an existing version, you can only create a new version.");
    }
    const kmsKeyId = s.kms_key_id ?? DEFAULT_KMS_KEY_ID;
    const blob = this.deps.keyring.encrypt(kmsKeyId, value.bytes, this.aad(s.arn, token, value.kind));
    if (existing) {
      this.sql('UPDATE sm_versions SET kind = ?, ciphertext = ?, kms_key_id = ? WHERE seq = ?').run(
        value.kind,
        blob,
        kmsKeyId,
        existing.seq,
      );
    } else {
      this.sql(
        'INSERT INTO sm_versions (secret_arn, version_id, created_ms, kms_key_id, kind, ciphertext) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(s.arn, token, this.now(), kmsKeyId, value.kind, blob);
    }
    let after = attachStages(before, token, stages);
    let abandoned = false;
    if (manual && stages.includes(AWSCURRENT)) {
      const r = dropPendingOnManualChange(before, after, token);
      after = r.map;
      abandoned = r.abandoned;
    }
    checkStageQuota(after);
    this.writeStages(s.arn, after);
    this.pruneVersions(s.arn);
    this.touch(s.arn);
    return { stages: stagesOf(after, token), abandoned };
  }

  private completeRotation(arn: string, token: string): string | undefined {
    return this.deps.store.tx(() => {
      const s = this.row(arn);
      if (!s || s.deleted_ms !== null) return 'the secret was deleted during rotation';
      const stages = this.stageMap(arn);
      if (stages.get(AWSCURRENT) !== token) return `finishSecret did not make version ${token} AWSCURRENT`;
      // As after a native rotation, Secrets Manager itself takes AWSPENDING off the new current version.
      if (stages.get(AWSPENDING) === token) {
        const withoutPending = new Map(stages);
        withoutPending.delete(AWSPENDING);
        this.writeStages(arn, withoutPending);
      }
      const now = this.now();
      const next =
        s.rotation_enabled && s.rotation_rules
          ? nextRotationDate(JSON.parse(s.rotation_rules) as RotationRulesType, new Date(now)).getTime()
          : null;
      this.sql(
        'UPDATE sm_secrets SET last_rotated_ms = ?, last_changed_ms = ?, next_rotation_ms = ? WHERE arn = ?',
      ).run(now, now, next, arn);
      this.serviceEvent(arn, 'RotationSucceeded');
      return undefined;
    });
  }

  private normalizeRules(rules: RotationRulesType): RotationRulesType {
    parseRotationRules(rules);
    const out: RotationRulesType = {};
    if (rules.AutomaticallyAfterDays !== undefined) out.AutomaticallyAfterDays = rules.AutomaticallyAfterDays;
    if (rules.Duration !== undefined) out.Duration = rules.Duration;
    if (rules.ScheduleExpression !== undefined) out.ScheduleExpression = rules.ScheduleExpression;
    return out;
  }

  private validTags(tags: readonly Tag[], caller: Caller): Tag[] {
    const seen = new Set<string>();
    for (const t of tags) {
      const key = t.Key ?? '';
      if (key.length < 1 || key.length > 128 || (t.Value ?? '').length > 256) {
        throw invalidParameter('Tag keys must be 1 to 128 characters and tag values at most 256 characters.');
      }
      if (!caller.service && key.toLowerCase().startsWith('aws:')) {
        throw invalidParameter("Tag keys beginning with 'aws:' are reserved for AWS use.");
      }
      if (seen.has(key)) throw invalidParameter(`Duplicate tag key: ${key}`);
      seen.add(key);
    }
    return tags.map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' }));
  }

  private checkTagCount(tags: readonly Tag[]): void {
    if (tags.length > 50) {
      throw new AwsError(
        'LimitExceededException',
        'The request failed because it would exceed one of the Secrets Manager quotas: at most 50 tags.',
      );
    }
  }

  private refuseManaged(s: SecretRow, caller: Caller): void {
    if (s.owning_service !== null && caller.service !== s.owning_service) {
      throw invalidRequest(
        `You can't perform this operation on the secret because it's managed by ${s.owning_service}.`,
      );
    }
  }

  private lookup(secretId: string | undefined): SecretRow | undefined {
    if (!secretId) return undefined;
    if (secretId.startsWith('arn:')) {
      const exact = this.row(secretId);
      if (exact) return exact;
      // A partial ARN: everything but the hyphen and six random characters.
      const partial = this.sql(
        'SELECT * FROM sm_secrets WHERE length(arn) = ? AND substr(arn, 1, ?) = ?',
      ).all(secretId.length + 7, secretId.length + 1, `${secretId}-`) as SecretRow[];
      return partial.length === 1 ? partial[0] : undefined;
    }
    return this.sql('SELECT * FROM sm_secrets WHERE name = ?').get(secretId) as SecretRow | undefined;
  }

  private row(arn: string): SecretRow | undefined {
    return this.sql('SELECT * FROM sm_secrets WHERE arn = ?').get(arn) as SecretRow | undefined;
  }

  private find(secretId: string | undefined): SecretRow {
    const s = this.lookup(secretId);
    if (!s) throw resourceNotFound("Secrets Manager can't find the specified secret.");
    return s;
  }

  private findActive(secretId: string | undefined): SecretRow {
    const s = this.find(secretId);
    if (s.deleted_ms !== null) throw invalidRequest(MARKED_FOR_DELETION);
    return s;
  }

  private version(arn: string, versionId: string): VersionRow | undefined {
    return this.sql('SELECT * FROM sm_versions WHERE secret_arn = ? AND version_id = ?').get(
      arn,
      versionId,
    ) as VersionRow | undefined;
  }

  private noValue(what: string): AwsError {
    return resourceNotFound(`Secrets Manager can't find the specified secret value for ${what}`);
  }

  private stageMap(arn: string): Map<string, string> {
    const rows = this.sql('SELECT stage, version_id FROM sm_stages WHERE secret_arn = ?').all(arn) as {
      stage: string;
      version_id: string;
    }[];
    return new Map(rows.map((r) => [r.stage, r.version_id]));
  }

  private writeStages(arn: string, map: StageMap): void {
    this.sql('DELETE FROM sm_stages WHERE secret_arn = ?').run(arn);
    const insert = this.sql('INSERT INTO sm_stages (secret_arn, stage, version_id) VALUES (?, ?, ?)');
    for (const [stage, versionId] of map) insert.run(arn, stage, versionId);
  }

  /** Drops the oldest deprecated (unlabelled) versions beyond MAX_VERSIONS. */
  private pruneVersions(arn: string): void {
    const { n } = this.sql('SELECT count(*) AS n FROM sm_versions WHERE secret_arn = ?').get(arn) as {
      n: number;
    };
    if (n <= MAX_VERSIONS) return;
    this.sql(
      `DELETE FROM sm_versions WHERE seq IN (
         SELECT v.seq FROM sm_versions v WHERE v.secret_arn = ?
           AND NOT EXISTS (SELECT 1 FROM sm_stages s WHERE s.secret_arn = v.secret_arn AND s.version_id = v.version_id)
         ORDER BY v.seq LIMIT ?)`,
    ).run(arn, n - MAX_VERSIONS);
  }

  private touch(arn: string): void {
    this.sql('UPDATE sm_secrets SET last_changed_ms = ? WHERE arn = ?').run(this.now(), arn);
  }

  private aad(arn: string, versionId: string, kind: string): string {
    return `secretsmanager\n${arn}\n${versionId}\n${kind}`;
  }

  private unseal(v: VersionRow): SecretValue {
    if (v.kind === null || v.ciphertext === null) throw resourceNotFound('The version has no value.');
    try {
      return {
        kind: v.kind,
        bytes: this.deps.keyring.decrypt(
          v.kms_key_id,
          v.ciphertext,
          this.aad(v.secret_arn, v.version_id, v.kind),
        ),
      };
    } catch (err) {
      if (!(err instanceof DecryptionError)) throw err;
      this.deps.logger.error('secret value does not decrypt', {
        secretArn: v.secret_arn,
        versionId: v.version_id,
      });
      throw new AwsError(
        'DecryptionFailure',
        "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
      );
    }
  }

  private newArn(name: string): string {
    for (;;) {
      let suffix = '';
      for (let i = 0; i < 6; i++) suffix += ARN_SUFFIX[randomInt(ARN_SUFFIX.length)];
      const arn = `arn:aws:secretsmanager:${this.deps.region}:${this.deps.accountId}:secret:${name}-${suffix}`;
      if (!this.row(arn)) return arn;
    }
  }

  private entry(s: SecretRow): SecretListEntry {
    const tags = JSON.parse(s.tags) as Tag[];
    const versions = Object.fromEntries(stagesByVersion(this.stageMap(s.arn)));
    const configured = s.rotation_enabled === 1 || s.rotation_lambda_arn !== null;
    return {
      ARN: s.arn,
      Name: s.name,
      Description: s.description ?? undefined,
      KmsKeyId: s.kms_key_id !== null && s.kms_key_id !== DEFAULT_KMS_KEY_ID ? s.kms_key_id : undefined,
      RotationEnabled: configured ? s.rotation_enabled === 1 : undefined,
      RotationLambdaARN: s.rotation_lambda_arn ?? undefined,
      RotationRules: s.rotation_rules ? (JSON.parse(s.rotation_rules) as RotationRulesType) : undefined,
      LastRotatedDate: dateOrUndefined(s.last_rotated_ms),
      LastChangedDate: new Date(s.last_changed_ms),
      LastAccessedDate: dateOrUndefined(s.last_accessed_ms),
      DeletedDate: dateOrUndefined(s.deleted_ms),
      NextRotationDate: s.rotation_enabled === 1 ? dateOrUndefined(s.next_rotation_ms) : undefined,
      Tags: tags.length > 0 ? tags : undefined,
      SecretVersionsToStages: Object.keys(versions).length > 0 ? versions : undefined,
      OwningService: s.owning_service ?? undefined,
      CreatedDate: new Date(s.created_ms),
      PrimaryRegion: this.deps.region,
    };
  }

  private page<T>(items: T[], maxResults: number | undefined, nextToken: string | undefined) {
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

  // --------------------------------------------------------------------- events

  private identity(caller: Caller): Record<string, unknown> {
    if (caller.service) {
      return { type: 'AWSService', invokedBy: `${caller.service}.amazonaws.com` };
    }
    return {
      type: 'IAMUser',
      principalId: caller.accessKeyId ?? 'local',
      arn: `arn:aws:iam::${this.deps.accountId}:user/credflow-local`,
      accountId: this.deps.accountId,
      accessKeyId: caller.accessKeyId ?? '',
      userName: 'credflow-local',
    };
  }

  private apiEvent(
    eventName: string,
    caller: Caller,
    request: object,
    responseElements: Record<string, unknown>,
  ): AwsEvent {
    const now = new Date(this.now());
    const eventID = randomUUID();
    return this.deps.events.publish({
      id: eventID,
      source: 'aws.secretsmanager',
      'detail-type': 'AWS API Call via CloudTrail',
      time: now,
      detail: {
        eventVersion: '1.08',
        userIdentity: this.identity(caller),
        eventTime: eventTime(now),
        eventSource: 'secretsmanager.amazonaws.com',
        eventName,
        awsRegion: this.deps.region,
        sourceIPAddress: caller.service
          ? `${caller.service}.amazonaws.com`
          : (caller.sourceIp ?? '127.0.0.1'),
        userAgent: caller.service ? `${caller.service}.amazonaws.com` : (caller.userAgent ?? ''),
        requestParameters: cloudTrailParameters(request),
        responseElements: Object.keys(responseElements).length > 0 ? responseElements : null,
        requestID: caller.requestId ?? randomUUID(),
        eventID,
        readOnly: false,
        eventType: 'AwsApiCall',
        managementEvent: true,
        recipientAccountId: this.deps.accountId,
        eventCategory: 'Management',
      },
    });
  }

  private serviceEvent(
    arn: string,
    eventName: RotationEventName,
    extra: Record<string, unknown> = {},
  ): AwsEvent {
    const now = new Date(this.now());
    const eventID = randomUUID();
    return this.deps.events.publish({
      id: eventID,
      source: 'aws.secretsmanager',
      'detail-type': 'AWS Service Event via CloudTrail',
      time: now,
      detail: {
        eventVersion: '1.08',
        userIdentity: { accountId: this.deps.accountId, invokedBy: 'secretsmanager.amazonaws.com' },
        eventTime: eventTime(now),
        eventSource: 'secretsmanager.amazonaws.com',
        eventName,
        awsRegion: this.deps.region,
        sourceIPAddress: 'secretsmanager.amazonaws.com',
        userAgent: 'secretsmanager.amazonaws.com',
        requestParameters: null,
        responseElements: null,
        additionalEventData: { SecretId: arn },
        ...(extra['errorCode'] ? { errorCode: extra['errorCode'] } : {}),
        requestID: randomUUID(),
        eventID,
        readOnly: false,
        eventType: 'AwsServiceEvent',
        managementEvent: true,
        recipientAccountId: this.deps.accountId,
        eventCategory: 'Management',
      },
    });
  }
}
