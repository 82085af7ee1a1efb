import { rollForwardRotation } from '../../src/lifecycle/repair';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task RollForwardRotation of on-rotation-failure. */
export const handler = async (event: unknown) => rollForwardRotation(rotationDepsFromEnv(), event);
