import { taskHandler } from '../../src/handler';
import { parseVerifyCredentialsInput, verifyCredentials } from '../../src/lifecycle/verify';

/** Task VerifyCredentials of verify-credentials and VerifyRotation of rotate-secret. */
export const handler = taskHandler('credflow-verify', parseVerifyCredentialsInput, verifyCredentials);
