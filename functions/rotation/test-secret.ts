import { taskHandler } from '../../src/handler';
import { parseStepInput } from '../../src/rotation/input';
import { testSecret } from '../../src/rotation/steps';

/** Task TestSecret of rotate-secret. */
export const handler = taskHandler('credflow-rotation', parseStepInput, testSecret);
