import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { ValidationError } from '../errors';
import { parseRotationEvent } from './input';
import { steps } from './steps';
import type { RotationDeps, StepResult } from './types';
import { aws } from './versions';

/**
 * The Secrets Manager rotation-function contract ({Step, SecretId, ClientRequestToken}): checks
 * that rotation is enabled, as AWS's templates do, then runs the very same step the state
 * machine runs.
 */
export async function handleRotationEvent(deps: RotationDeps, event: unknown): Promise<StepResult> {
  const { step, input } = parseRotationEvent(event);
  const d = await aws(`DescribeSecret ${input.secretId}`, () =>
    deps.secrets.send(new DescribeSecretCommand({ SecretId: input.secretId })),
  );
  if (!d.RotationEnabled)
    throw new ValidationError(`secret ${d.ARN ?? input.secretId} is not enabled for rotation`);
  return steps[step](deps, input);
}
