import { taskHandler } from '../../src/handler';
import { deleteDatabase, parseDeleteDatabaseInput } from '../../src/lifecycle/database';

/** Task DeleteDatabase of decommission-database. */
export const handler = taskHandler('credflow-database', parseDeleteDatabaseInput, deleteDatabase);
