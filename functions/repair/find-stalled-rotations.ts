import { findStalledRotations } from '../../src/lifecycle/reconcile';
import { reconcileFromEnv } from '../../src/lifecycle/reconcile-deps';

/** Task FindStalledRotations of reconcile-rotations. */
export const handler = async (event: unknown) => {
  const { deps, config, close } = reconcileFromEnv();
  try {
    return await findStalledRotations(deps, event, config);
  } finally {
    close();
  }
};
