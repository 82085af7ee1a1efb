import { taskHandler } from '../../src/handler';
import { checkConnectivity, parseCheckConnectivityInput } from '../../src/preflight/check';

/** Task CheckConnectivity of check-connectivity. */
export const handler = taskHandler('credflow-preflight', parseCheckConnectivityInput, checkConnectivity);
