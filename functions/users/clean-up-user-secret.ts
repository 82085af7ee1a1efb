import { taskHandler } from '../../src/handler';
import { cleanUpUserSecret, parsePreparedUser } from '../../src/lifecycle/users';

/** Task CleanUpUserSecret of create-database-user (failure branch). */
export const handler = taskHandler('credflow-users', parsePreparedUser, cleanUpUserSecret);
