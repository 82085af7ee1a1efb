import { createDatabase } from '../../src/lifecycle/database';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task CreateDatabase of provision-database. */
export const handler = async (event: unknown) => createDatabase(rotationDepsFromEnv(), event);
