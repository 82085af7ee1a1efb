import { rollBackRotation } from '../../src/lifecycle/repair';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task RollBackRotation of on-rotation-failure. */
export const handler = async (event: unknown) => rollBackRotation(rotationDepsFromEnv(), event);
