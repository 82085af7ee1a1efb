import { taskHandler } from '../../src/handler';
import { parseTallyFleetPageInput, tallyFleetPage } from '../../src/lifecycle/fleet-tally';

/** Task TallyFleetPage of rotate-fleet. */
export const handler = taskHandler('credflow-fleet', parseTallyFleetPageInput, tallyFleetPage);
