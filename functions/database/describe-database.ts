import { describeDatabase } from '../../src/lifecycle/database';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task DescribeDatabase: one poll of the provision, rotate-master and decommission wait loops. */
export const handler = async (event: unknown) => describeDatabase(rotationDepsFromEnv(), event);
