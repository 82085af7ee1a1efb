import { summarizeFleetRotation } from '../../src/lifecycle/fleet';

/** Task SummarizeFleetRotation of rotate-fleet. */
export const handler = async (event: unknown) => summarizeFleetRotation(event);
