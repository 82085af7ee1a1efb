import { taskHandler } from '../../src/handler';
import { classifyDeletion, parseDeletionEvent } from '../../src/lifecycle/deletion';

/** Task ClassifyDeletion of on-deletion. */
export const handler = taskHandler('credflow-deletion', parseDeletionEvent, classifyDeletion);
