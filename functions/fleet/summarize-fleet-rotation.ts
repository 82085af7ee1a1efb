import { taskHandler } from '../../src/handler';
import { parseSummarizeFleetRotationInput, summarizeFleetRotation } from '../../src/lifecycle/fleet-tally';

/** Task SummarizeFleetRotation of rotate-fleet. */
export const handler = taskHandler(
  'credflow-fleet',
  parseSummarizeFleetRotationInput,
  summarizeFleetRotation,
);
