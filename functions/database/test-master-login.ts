import { taskHandler } from '../../src/handler';
import { parseTestMasterLoginInput, testMasterLogin } from '../../src/lifecycle/database';

/** Task TestMasterLogin of provision-database (and TestRotatedMasterLogin of rotate-master-password). */
export const handler = taskHandler('credflow-database', parseTestMasterLoginInput, testMasterLogin);
