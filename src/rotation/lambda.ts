import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { aws } from '../aws/errors';
import type { Deps } from '../deps';
import { ValidationError } from '../errors';
import { steps } from './steps';
import type { StepInput, StepName, StepResult } from './types';

/**
 * The Secrets Manager rotation-function contract ({Step, SecretId, ClientRequestToken}): checks
 * that rotation is enabled, as AWS's templates do, then runs the very same step the state
 * machine runs.
 */
export async function handleRotationEvent(
  deps: Deps,
  { step, input }: { step: StepName; input: StepInput },
): Promise<StepResult> {
  const d = await aws(`DescribeSecret ${input.secretId}`, () =>
    deps.secrets.send(new DescribeSecretCommand({ SecretId: input.secretId })),
  );
  if (!d.RotationEnabled)
    throw new ValidationError(`secret ${d.ARN ?? input.secretId} is not enabled for rotation`);
  return steps[step](deps, input);
}
