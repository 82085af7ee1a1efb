import { taskHandler } from '../../src/handler';
import { parseStepInput } from '../../src/rotation/input';
import { setSecret } from '../../src/rotation/steps';

/** Task SetSecret of rotate-secret. */
export const handler = taskHandler('credflow-rotation', parseStepInput, setSecret);
