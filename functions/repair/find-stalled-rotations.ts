import { taskHandler } from '../../src/handler';
import { findStalledRotations, parseReconcileInput } from '../../src/lifecycle/reconcile';
import { reconcileDepsFromEnv } from '../../src/lifecycle/reconcile-deps';

/** Task FindStalledRotations of reconcile-rotations. */
export const handler = taskHandler(reconcileDepsFromEnv, parseReconcileInput, findStalledRotations);
