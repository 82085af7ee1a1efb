import { taskHandler } from '../../src/handler';
import { createDatabase, parseCreateDatabaseInput } from '../../src/lifecycle/database';

/** Task CreateDatabase of provision-database. */
export const handler = taskHandler('credflow-database', parseCreateDatabaseInput, createDatabase);
