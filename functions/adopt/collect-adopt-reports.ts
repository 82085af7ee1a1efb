import { taskHandler } from '../../src/handler';
import { collectAdoptReports, parseCollectInput } from '../../src/lifecycle/adopt';

/** Task CollectAdoptReports of adopt-secrets. */
export const handler = taskHandler('credflow-adopt', parseCollectInput, collectAdoptReports);
