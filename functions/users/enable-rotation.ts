import { enableRotation } from '../../src/lifecycle/users';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task EnableRotation of create-database-user. */
export const handler = async (event: unknown) =>
  enableRotation(rotationDepsFromEnv(), event, process.env['ROTATION_LAMBDA_ARN']);
