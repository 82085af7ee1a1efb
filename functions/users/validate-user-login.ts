import { taskHandler } from '../../src/handler';
import { parsePreparedUser, validateUserLogin } from '../../src/lifecycle/users';

/** Task ValidateUserLogin of create-database-user. */
export const handler = taskHandler('credflow-users', parsePreparedUser, validateUserLogin);
