import { diagnoseRotation } from '../../src/lifecycle/repair';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task DiagnoseRotation of on-rotation-failure. */
export const handler = async (event: unknown) =>
  diagnoseRotation(rotationDepsFromEnv(), event, process.env['ALERT_TOPIC_ARN']);
