import { taskHandler } from '../../src/handler';
import { parseTallyInput, tallyReconcilePage } from '../../src/lifecycle/reconcile';

/** Task TallyReconcilePage of reconcile-rotations. */
export const handler = taskHandler('credflow-reconcile', parseTallyInput, (_deps, input) =>
  tallyReconcilePage(input),
);
