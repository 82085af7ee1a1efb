import { rotateMasterPassword } from '../../src/lifecycle/database';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task RotateMasterPassword of rotate-master-password. */
export const handler = async (event: unknown) => rotateMasterPassword(rotationDepsFromEnv(), event);
