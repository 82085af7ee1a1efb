import { taskHandler } from '../../src/handler';
import { parseDiagnosis, rollBackRotation } from '../../src/lifecycle/repair';

/** Task RollBackRotation of on-rotation-failure. */
export const handler = taskHandler('credflow-repair', parseDiagnosis, rollBackRotation);
