import { rotationDepsFromEnv } from '../../src/rotation/deps';
import { parseStepInput } from '../../src/rotation/input';
import { setSecret } from '../../src/rotation/steps';

/** Task SetSecret of rotate-secret. */
export const handler = async (event: unknown) => setSecret(rotationDepsFromEnv(), parseStepInput(event));
