import { deleteChildSecrets } from '../../src/lifecycle/users';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task DeleteChildSecrets of decommission-database. */
export const handler = async (event: unknown) => deleteChildSecrets(rotationDepsFromEnv(), event);
