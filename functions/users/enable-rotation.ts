import { taskHandler } from '../../src/handler';
import { enableRotation, parsePreparedUser } from '../../src/lifecycle/users';

/** Task EnableRotation of create-database-user. */
export const handler = taskHandler('credflow-users', parsePreparedUser, enableRotation);
