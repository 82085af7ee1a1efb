import { validateUserLogin } from '../../src/lifecycle/users';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task ValidateUserLogin of create-database-user. */
export const handler = async (event: unknown) => validateUserLogin(rotationDepsFromEnv(), event);
