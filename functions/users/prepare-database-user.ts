import { prepareDatabaseUser } from '../../src/lifecycle/users';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task PrepareDatabaseUser of create-database-user. */
export const handler = async (event: unknown) => prepareDatabaseUser(rotationDepsFromEnv(), event);
