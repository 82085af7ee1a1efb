import type {
  APIErrorType,
  BatchGetSecretValueRequest,
  BatchGetSecretValueResponse,
  CancelRotateSecretRequest,
  CancelRotateSecretResponse,
  CreateSecretRequest,
  CreateSecretResponse,
  DeleteResourcePolicyRequest,
  DeleteResourcePolicyResponse,
  DeleteSecretRequest,
  DeleteSecretResponse,
  DescribeSecretRequest,
  DescribeSecretResponse,
  GetRandomPasswordRequest,
  GetRandomPasswordResponse,
  GetResourcePolicyRequest,
  GetResourcePolicyResponse,
  GetSecretValueRequest,
  GetSecretValueResponse,
  ListSecretsRequest,
  ListSecretsResponse,
  ListSecretVersionIdsRequest,
  ListSecretVersionIdsResponse,
  PutResourcePolicyRequest,
  PutResourcePolicyResponse,
  PutSecretValueRequest,
  PutSecretValueResponse,
  RestoreSecretRequest,
  RestoreSecretResponse,
  RotateSecretRequest,
  RotateSecretResponse,
  RotationRulesType,
  TagResourceRequest,
  UntagResourceRequest,
  UpdateSecretRequest,
  UpdateSecretResponse,
  UpdateSecretVersionStageRequest,
  UpdateSecretVersionStageResponse,
  ValidateResourcePolicyRequest,
  ValidateResourcePolicyResponse,
} from '@aws-sdk/client-secrets-manager';
import type { EventLog } from '../events/log';
import { AwsError } from '../http/errors';
import type { LocalIam } from '../iam/local-iam';
import type { LambdaRegistry } from '../lambda/registry';
import type { LocalLogger } from '../log';
import type { Store } from '../store/db';
import type { Keyring } from '../store/keyring';
import { lookup, type SecretsContext } from './context';
import { deleteSecret, restoreSecret } from './deletion';
import { generatePassword } from './password';
import {
  deleteResourcePolicy,
  getResourcePolicy,
  putResourcePolicy,
  validateResourcePolicy,
} from './policies';
import type { SecretsManagerQuotas } from './quotas';
import { cancelRotateSecret, completeRotation, removeTestVersion, rotateSecret } from './rotation';
import { RotationRunner } from './rotation-runner';
import { createSecret, describeSecret, listSecrets, updateSecret } from './secrets';
import { SecretsStore } from './store';
import { tagResource, untagResource } from './tags';
import { type Caller, CloudTrail } from './trail';
import { getSecretValue, listSecretVersionIds, putSecretValue, updateSecretVersionStage } from './versions';

export type { Caller } from './trail';

export interface SecretsManagerDeps {
  store: Store;
  keyring: Keyring;
  events: EventLog;
  lambdas: LambdaRegistry;
  region: string;
  accountId: string;
  logger: LocalLogger;
  /** AWS's quotas (sizes, versions; rates are applied by `withRateQuotas` at the protocol layer). */
  quotas?: SecretsManagerQuotas | undefined;
  /** IAM: Secrets Manager invokes rotation functions as `secretsmanager.amazonaws.com`. */
  iam?: LocalIam | undefined;
}

/**
 * The local Secrets Manager: the API's semantics over the store, values sealed by the keyring.
 * Methods take and return the SDK's request/response shapes; the JSON protocol adapter in
 * `api.ts` only parses and serializes. Every change is one transaction that also records its
 * CloudTrail-shaped event. The operations live by concern (secrets.ts, versions.ts, tags.ts,
 * deletion.ts, rotation.ts); this class holds the state they share and expires secrets whose
 * recovery window has passed before each call.
 */
export class SecretsManager {
  private readonly ctx: SecretsContext;
  private readonly runner: RotationRunner;
  private clock: () => Date = () => new Date();

  constructor(deps: SecretsManagerDeps) {
    const now = () => this.clock().getTime();
    this.ctx = {
      db: new SecretsStore(deps.store),
      keyring: deps.keyring,
      trail: new CloudTrail(deps.events, deps, now),
      lambdas: deps.lambdas,
      logger: deps.logger,
      region: deps.region,
      accountId: deps.accountId,
      quotas: deps.quotas,
      now,
    };
    this.runner = new RotationRunner(
      deps.lambdas,
      {
        serviceEvent: (arn, name, extra) => this.ctx.trail.serviceEvent(arn, name, extra),
        complete: (arn, token) => completeRotation(this.ctx, arn, token),
        authorizeInvoke: (fn, secretArn) => {
          const iam = deps.iam;
          if (!iam?.enabled) return;
          const own = deps.lambdas.resolve(fn);
          iam.requireInvoke(iam.service('secretsmanager.amazonaws.com'), own ? deps.lambdas.arn(own) : fn, {
            'aws:SourceAccount': deps.accountId,
            'aws:SourceArn': secretArn,
          });
        },
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
    const arn = secretId === undefined ? undefined : lookup(this.ctx, secretId)?.arn;
    await this.runner.awaitIdle(arn);
  }

  /**
   * What IAM needs to know of a secret before a call acts on it (local/secretsmanager/authz.ts):
   * its ARN, tags, resource policy and rotation function; undefined when there is no such secret.
   */
  authzView(secretId: string | undefined):
    | {
        arn: string;
        tags: { Key: string; Value: string }[];
        policy: string | null;
        rotationLambdaArn: string | null;
      }
    | undefined {
    const s = lookup(this.ctx, secretId);
    if (!s) return undefined;
    return {
      arn: s.arn,
      tags: JSON.parse(s.tags) as { Key: string; Value: string }[],
      policy: s.resource_policy,
      rotationLambdaArn: s.rotation_lambda_arn,
    };
  }

  /** Removes secrets whose recovery window has passed. Checked lazily, at every call. */
  purgeExpired(): void {
    this.ctx.db.purgeExpired(this.ctx.now());
  }

  // ---------------------------------------------------------------- operations

  createSecret(input: CreateSecretRequest, caller: Caller = {}): CreateSecretResponse {
    this.purgeExpired();
    return createSecret(this.ctx, input, caller, undefined, undefined);
  }

  getSecretValue(input: GetSecretValueRequest): GetSecretValueResponse {
    this.purgeExpired();
    return getSecretValue(this.ctx, input);
  }

  /**
   * BatchGetSecretValue (its API reference): up to 20 secrets by id (`SecretIdList`), or a page of
   * the secrets ListSecrets' `Filters` select (`MaxResults`, `NextToken`). Each is read as
   * GetSecretValue reads its AWSCURRENT, and only if its caller may GetSecretValue it
   * (`denial`: IAM's message otherwise). A secret that cannot be read (denied, not found,
   * scheduled for deletion) is reported in `Errors` with its error code and not returned; the
   * others still are.
   */
  batchGetSecretValue(
    input: BatchGetSecretValueRequest,
    denial?: (secretId: string) => string | undefined,
  ): BatchGetSecretValueResponse {
    this.purgeExpired();
    let ids = input.SecretIdList ?? [];
    let nextToken: string | undefined;
    if (input.Filters) {
      const page = listSecrets(this.ctx, {
        Filters: input.Filters,
        MaxResults: input.MaxResults ?? 20,
        ...(input.NextToken ? { NextToken: input.NextToken } : {}),
      });
      ids = (page.SecretList ?? []).map((e) => e.ARN ?? '');
      nextToken = page.NextToken;
    }
    const values: GetSecretValueResponse[] = [];
    const errors: APIErrorType[] = [];
    for (const id of ids) {
      const denied = denial?.(id);
      if (denied !== undefined) {
        errors.push({ SecretId: id, ErrorCode: 'AccessDeniedException', Message: denied });
        continue;
      }
      try {
        values.push(getSecretValue(this.ctx, { SecretId: id }));
      } catch (err) {
        if (!(err instanceof AwsError)) throw err;
        errors.push({ SecretId: id, ErrorCode: err.code, Message: err.message });
      }
    }
    return { SecretValues: values, Errors: errors, ...(nextToken ? { NextToken: nextToken } : {}) };
  }

  putSecretValue(input: PutSecretValueRequest, caller: Caller = {}): PutSecretValueResponse {
    this.purgeExpired();
    return putSecretValue(this.ctx, input, caller);
  }

  updateSecret(input: UpdateSecretRequest, caller: Caller = {}): UpdateSecretResponse {
    this.purgeExpired();
    return updateSecret(this.ctx, input, caller);
  }

  updateSecretVersionStage(
    input: UpdateSecretVersionStageRequest,
    caller: Caller = {},
  ): UpdateSecretVersionStageResponse {
    this.purgeExpired();
    return updateSecretVersionStage(this.ctx, input, caller);
  }

  describeSecret(input: DescribeSecretRequest): DescribeSecretResponse {
    this.purgeExpired();
    return describeSecret(this.ctx, input);
  }

  listSecrets(input: ListSecretsRequest = {}): ListSecretsResponse {
    this.purgeExpired();
    return listSecrets(this.ctx, input);
  }

  listSecretVersionIds(input: ListSecretVersionIdsRequest): ListSecretVersionIdsResponse {
    this.purgeExpired();
    return listSecretVersionIds(this.ctx, input);
  }

  deleteSecret(input: DeleteSecretRequest, caller: Caller = {}): DeleteSecretResponse {
    this.purgeExpired();
    const out = deleteSecret(this.ctx, input, caller);
    this.runner.cancel(out.ARN);
    return out;
  }

  restoreSecret(input: RestoreSecretRequest, caller: Caller = {}): RestoreSecretResponse {
    this.purgeExpired();
    return restoreSecret(this.ctx, input, caller);
  }

  /**
   * Starts the rotation (asynchronous, as on AWS); with RotateImmediately false, answers once the
   * configuration test (testSecret on a temporary AWSPENDING version) has run and its version is
   * gone again. A failing test is logged; the configuration stays.
   */
  async rotateSecret(input: RotateSecretRequest, caller: Caller = {}): Promise<RotateSecretResponse> {
    this.purgeExpired();
    const { response, started, tested } = rotateSecret(this.ctx, input, caller);
    if (started) this.runner.start(started.arn, started.token, started.lambdaArn);
    if (tested) {
      try {
        await this.runner.testConfiguration(tested.arn, tested.token, tested.lambdaArn);
      } finally {
        removeTestVersion(this.ctx, tested.arn, tested.token);
      }
    }
    return response;
  }

  cancelRotateSecret(input: CancelRotateSecretRequest, caller: Caller = {}): CancelRotateSecretResponse {
    this.purgeExpired();
    const out = cancelRotateSecret(this.ctx, input, caller);
    this.runner.cancel(out.ARN);
    return out;
  }

  getRandomPassword(input: GetRandomPasswordRequest = {}): GetRandomPasswordResponse {
    return { RandomPassword: generatePassword(input) };
  }

  tagResource(input: TagResourceRequest, caller: Caller = {}): Record<string, never> {
    this.purgeExpired();
    return tagResource(this.ctx, input, caller);
  }

  untagResource(input: UntagResourceRequest, caller: Caller = {}): Record<string, never> {
    this.purgeExpired();
    return untagResource(this.ctx, input, caller);
  }

  putResourcePolicy(input: PutResourcePolicyRequest, caller: Caller = {}): PutResourcePolicyResponse {
    this.purgeExpired();
    return putResourcePolicy(this.ctx, input, caller);
  }

  getResourcePolicy(input: GetResourcePolicyRequest): GetResourcePolicyResponse {
    this.purgeExpired();
    return getResourcePolicy(this.ctx, input);
  }

  deleteResourcePolicy(
    input: DeleteResourcePolicyRequest,
    caller: Caller = {},
  ): DeleteResourcePolicyResponse {
    this.purgeExpired();
    return deleteResourcePolicy(this.ctx, input, caller);
  }

  validateResourcePolicy(input: ValidateResourcePolicyRequest): ValidateResourcePolicyResponse {
    this.purgeExpired();
    return validateResourcePolicy(this.ctx, input);
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
    this.purgeExpired();
    return createSecret(this.ctx, input, { service: owningService }, owningService, opts.rotationRules);
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
}
