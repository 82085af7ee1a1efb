import { rotationDepsFromEnv } from '../../src/rotation/deps';
import { parseStepInput } from '../../src/rotation/input';
import { testSecret } from '../../src/rotation/steps';

/** Task TestSecret of rotate-secret. */
export const handler = async (event: unknown) => testSecret(rotationDepsFromEnv(), parseStepInput(event));
