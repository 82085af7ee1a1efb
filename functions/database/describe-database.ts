import { taskHandler } from '../../src/handler';
import { describeDatabase, parseDescribeDatabaseInput } from '../../src/lifecycle/database';

/** Task DescribeDatabase (and its twins) of provision-database, rotate-master-password and decommission-database. */
export const handler = taskHandler('credflow-database', parseDescribeDatabaseInput, describeDatabase);
