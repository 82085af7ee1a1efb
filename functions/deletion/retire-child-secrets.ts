import { taskHandler } from '../../src/handler';
import { parseDeletionCase, retireChildSecrets } from '../../src/lifecycle/deletion';

/** Task RetireChildSecrets of on-deletion. */
export const handler = taskHandler('credflow-deletion', parseDeletionCase, retireChildSecrets);
