import { createDatabaseUser } from '../../src/lifecycle/users';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task CreateDatabaseUser of create-database-user. */
export const handler = async (event: unknown) => createDatabaseUser(rotationDepsFromEnv(), event);
