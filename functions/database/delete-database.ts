import { deleteDatabase } from '../../src/lifecycle/database';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task DeleteDatabase of decommission-database. */
export const handler = async (event: unknown) => deleteDatabase(rotationDepsFromEnv(), event);
