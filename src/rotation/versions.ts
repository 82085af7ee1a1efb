import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-secrets-manager';
import { aws, translateAwsError } from '../aws/errors';
import { NotFoundError, RotationInProgressError, RotationStateError } from '../errors';
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

/** One version's SecretString and its creation time (GetSecretValue returns both). */
export interface VersionRead {
  value: string | undefined;
  createdDate: Date | undefined;
}

/** Reads one version, or undefined when the version does not exist (or holds no value yet). */
export async function readVersionWithDate(
  secrets: SecretsManagerClient,
  secretId: string,
  select: { VersionId?: string; VersionStage?: string },
): Promise<VersionRead | undefined> {
  try {
    const v = await secrets.send(new GetSecretValueCommand({ SecretId: secretId, ...select }));
    return { value: v.SecretString, createdDate: v.CreatedDate };
  } catch (err) {
    if (err instanceof ResourceNotFoundException) return undefined;
    throw translateAwsError(err, `GetSecretValue ${secretId}`);
  }
}

/** Reads one version's SecretString, or undefined when the version holds no value yet. */
export async function readVersion(
  secrets: SecretsManagerClient,
  secretId: string,
  select: { VersionId?: string; VersionStage?: string },
): Promise<string | undefined> {
  return (await readVersionWithDate(secrets, secretId, select))?.value;
}
