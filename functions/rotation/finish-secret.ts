import { taskHandler } from '../../src/handler';
import { parseStepInput } from '../../src/rotation/input';
import { finishSecret } from '../../src/rotation/steps';

/** Task FinishSecret of rotate-secret. */
export const handler = taskHandler('credflow-rotation', parseStepInput, finishSecret);
