import { taskHandler } from '../../src/handler';
import { parseFleetState, selectFleetPage } from '../../src/lifecycle/fleet';

/** Task SelectFleetPage of rotate-fleet. */
export const handler = taskHandler('credflow-fleet', parseFleetState, selectFleetPage);
