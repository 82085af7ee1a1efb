import { cleanUpUserSecret } from '../../src/lifecycle/users';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task CleanUpUserSecret of create-database-user (failure branch). */
export const handler = async (event: unknown) => cleanUpUserSecret(rotationDepsFromEnv(), event);
