import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-secrets-manager';
import { NotFoundError, RotationInProgressError, RotationStateError, TransientError } from '../errors';
import type { StepName } from './types';

export interface SecretState {
  arn: string;
  name: string;
  versions: Record<string, string[]>;
  tags: Record<string, string>;
  currentVersionId: string;
  /** The version holding AWSPENDING, if any. */
  pendingVersionId: string | undefined;
  previousVersionId: string | undefined;
}

/** Translates SDK failures into our typed errors so the ASL can Retry/Catch on them. */
export function translateAwsError(err: unknown, what: string): Error {
  if (err instanceof ResourceNotFoundException)
    return new NotFoundError(`${what}: not found`, { cause: err });
  const e = err as {
    name?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
    code?: string;
  };
  const status = e.$metadata?.httpStatusCode;
  if (
    e.$retryable ||
    (status !== undefined && status >= 500) ||
    e.name === 'ThrottlingException' ||
    e.name === 'TimeoutError' ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(e.code ?? '')
  ) {
    return new TransientError(`${what}: ${e.name ?? 'error'}`, { cause: err });
  }
  if (e.name === 'InvalidRequestException' && /marked for deletion/i.test(String((err as Error).message))) {
    return new NotFoundError(`${what}: the secret is marked for deletion`, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** Runs an SDK call, translating its errors. */
export async function aws<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw translateAwsError(err, what);
  }
}

function labelHolder(versions: Record<string, string[]>, label: string): string | undefined {
  return Object.entries(versions).find(([, stages]) => stages.includes(label))?.[0];
}

/** Reads the secret's versions and tags once per step. */
export async function describeState(secrets: SecretsManagerClient, secretId: string): Promise<SecretState> {
  const d: DescribeSecretCommandOutput = await aws(`DescribeSecret ${secretId}`, () =>
    secrets.send(new DescribeSecretCommand({ SecretId: secretId })),
  );
  if (d.DeletedDate) throw new NotFoundError(`secret ${secretId} is marked for deletion`);
  const versions = (d.VersionIdsToStages ?? {}) as Record<string, string[]>;
  const currentVersionId = labelHolder(versions, 'AWSCURRENT');
  if (!currentVersionId) throw new RotationStateError(`secret ${d.ARN} has no AWSCURRENT version`);
  const tags: Record<string, string> = {};
  for (const t of d.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
  return {
    arn: d.ARN ?? secretId,
    name: d.Name ?? secretId,
    versions,
    tags,
    currentVersionId,
    pendingVersionId: labelHolder(versions, 'AWSPENDING'),
    previousVersionId: labelHolder(versions, 'AWSPREVIOUS'),
  };
}

/**
 * The check every step makes first (AWS's templates): the token must be a version carrying
 * AWSPENDING; if it already carries AWSCURRENT the rotation is over and the step is a no-op.
 * createSecret alone may start from a token that is not yet a version (the Step Functions
 * path has no RotateSecret placeholder), but only while no other version holds AWSPENDING.
 * Returns 'current' when the step should do nothing.
 */
export function checkToken(state: SecretState, step: StepName, token: string): 'proceed' | 'current' {
  const stages = state.versions[token];
  if (stages?.includes('AWSCURRENT')) return 'current';
  if (stages && !stages.includes('AWSPENDING')) {
    throw new RotationStateError(
      `version ${token} of ${state.arn} is not AWSPENDING: it cannot be rotated in`,
    );
  }
  if (!stages) {
    const pendingElsewhere =
      state.pendingVersionId !== undefined && state.pendingVersionId !== state.currentVersionId;
    if (step !== 'createSecret') {
      throw new RotationStateError(`version ${token} of ${state.arn} does not exist: run createSecret first`);
    }
    if (pendingElsewhere) {
      throw new RotationInProgressError(
        `A previous rotation isn't complete: ${state.arn} has AWSPENDING on version ${state.pendingVersionId}`,
      );
    }
  }
  return 'proceed';
}

/** Reads one version's SecretString, or undefined when the version holds no value yet. */
export async function readVersion(
  secrets: SecretsManagerClient,
  secretId: string,
  select: { VersionId?: string; VersionStage?: string },
): Promise<string | undefined> {
  try {
    const v = await secrets.send(new GetSecretValueCommand({ SecretId: secretId, ...select }));
    return v.SecretString;
  } catch (err) {
    if (err instanceof ResourceNotFoundException) return undefined;
    throw translateAwsError(err, `GetSecretValue ${secretId}`);
  }
}
