import { taskHandler } from '../../src/handler';
import { describeRotationFailure, parseDescribeRotationFailureInput } from '../../src/lifecycle/fleet-tally';

/** Task DescribeRotationFailure of rotate-fleet-page. */
export const handler = taskHandler('credflow-fleet', parseDescribeRotationFailureInput, (_deps, input) =>
  describeRotationFailure(input),
);
