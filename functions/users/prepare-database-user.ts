import { taskHandler } from '../../src/handler';
import { parsePrepareDatabaseUserInput, prepareDatabaseUser } from '../../src/lifecycle/users';

/** Task PrepareDatabaseUser of create-database-user. */
export const handler = taskHandler('credflow-users', parsePrepareDatabaseUserInput, prepareDatabaseUser);
