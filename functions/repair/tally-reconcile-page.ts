import { tallyReconcilePage } from '../../src/lifecycle/reconcile';

/** Task TallyReconcilePage of reconcile-rotations. */
export const handler = async (event: unknown) => tallyReconcilePage(event);
