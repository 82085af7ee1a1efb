import { rotationDepsFromEnv } from '../../src/rotation/deps';
import { parseStepInput } from '../../src/rotation/input';
import { finishSecret } from '../../src/rotation/steps';

/** Task FinishSecret of rotate-secret. */
export const handler = async (event: unknown) => finishSecret(rotationDepsFromEnv(), parseStepInput(event));
