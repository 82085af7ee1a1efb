import { disableDeletionProtection } from '../../src/lifecycle/database';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task DisableDeletionProtection of decommission-database. */
export const handler = async (event: unknown) => disableDeletionProtection(rotationDepsFromEnv(), event);
