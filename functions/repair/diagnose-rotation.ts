import { taskHandler } from '../../src/handler';
import { diagnoseRotation, parseFailureEvent } from '../../src/lifecycle/repair';

/** Task DiagnoseRotation of on-rotation-failure. */
export const handler = taskHandler('credflow-repair', parseFailureEvent, diagnoseRotation);
