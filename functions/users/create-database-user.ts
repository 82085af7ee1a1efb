import { taskHandler } from '../../src/handler';
import { createDatabaseUser, parsePreparedUser } from '../../src/lifecycle/users';

/** Task CreateDatabaseUser of create-database-user. */
export const handler = taskHandler('credflow-users', parsePreparedUser, createDatabaseUser);
