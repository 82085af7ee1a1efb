import { taskHandler } from '../../src/handler';
import { parseRotateMasterPasswordInput, rotateMasterPassword } from '../../src/lifecycle/database';

/** Task RotateMasterPassword of rotate-master-password. */
export const handler = taskHandler('credflow-database', parseRotateMasterPasswordInput, rotateMasterPassword);
