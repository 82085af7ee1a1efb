import { taskHandler } from '../../src/handler';
import { parseDeletionCase, protectDeletedSecret } from '../../src/lifecycle/deletion';

/** Task ProtectDeletedSecret of on-deletion. */
export const handler = taskHandler('credflow-deletion', parseDeletionCase, protectDeletedSecret);
