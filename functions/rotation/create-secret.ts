import { taskHandler } from '../../src/handler';
import { parseStepInput } from '../../src/rotation/input';
import { createSecret } from '../../src/rotation/steps';

/** Task CreateSecret of rotate-secret. */
export const handler = taskHandler('credflow-rotation', parseStepInput, createSecret);
