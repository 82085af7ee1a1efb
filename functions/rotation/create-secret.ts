import { rotationDepsFromEnv } from '../../src/rotation/deps';
import { parseStepInput } from '../../src/rotation/input';
import { createSecret } from '../../src/rotation/steps';

/** Task CreateSecret of rotate-secret. */
export const handler = async (event: unknown) => createSecret(rotationDepsFromEnv(), parseStepInput(event));
