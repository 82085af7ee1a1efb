import { taskHandler } from '../../src/handler';
import { deleteDatabase, parseDeleteDatabaseInput } from '../../src/lifecycle/decommission';

/** Task DeleteDatabase of decommission-database. */
export const handler = taskHandler('credflow-database', parseDeleteDatabaseInput, deleteDatabase);
