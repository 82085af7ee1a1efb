import { taskHandler } from '../../src/handler';
import { adoptSecret, parseAdoptTask } from '../../src/lifecycle/adopt';

/** Task AdoptSecret of adopt-secrets: the dry-run report, adoption or its undo, for one secret. */
export const handler = taskHandler('credflow-adopt', parseAdoptTask, adoptSecret);
