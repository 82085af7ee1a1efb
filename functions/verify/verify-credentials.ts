import { verifyCredentials } from '../../src/lifecycle/verify';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task VerifyCredentials of verify-credentials and VerifyRotation of rotate-secret. */
export const handler = async (event: unknown) => verifyCredentials(rotationDepsFromEnv(), event);
