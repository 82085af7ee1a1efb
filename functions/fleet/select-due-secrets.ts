import { selectDueSecrets } from '../../src/lifecycle/fleet';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task SelectDueSecrets of rotate-fleet. */
export const handler = async (event: unknown) =>
  selectDueSecrets(rotationDepsFromEnv(), event, process.env['ROTATE_SECRET_STATE_MACHINE_ARN']);
