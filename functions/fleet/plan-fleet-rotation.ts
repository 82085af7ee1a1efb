import { taskHandler } from '../../src/handler';
import { parsePlanFleetRotationInput, planFleetRotation } from '../../src/lifecycle/fleet';

/** Task PlanFleetRotation of rotate-fleet. */
export const handler = taskHandler('credflow-fleet', parsePlanFleetRotationInput, planFleetRotation);
