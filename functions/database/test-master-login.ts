import { testMasterLogin } from '../../src/lifecycle/database';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task TestMasterLogin of provision-database and rotate-master-password. */
export const handler = async (event: unknown) => testMasterLogin(rotationDepsFromEnv(), event);
