import { taskHandler } from '../../src/handler';
import { parseDiagnosis, rollForwardRotation } from '../../src/lifecycle/repair';

/** Task RollForwardRotation of on-rotation-failure. */
export const handler = taskHandler('credflow-repair', parseDiagnosis, rollForwardRotation);
