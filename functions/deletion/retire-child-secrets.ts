import { parseDeletionCase, retireChildSecrets } from '../../src/lifecycle/deletion';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task RetireChildSecrets of on-deletion. */
export const handler = async (event: unknown) =>
  retireChildSecrets(rotationDepsFromEnv(), parseDeletionCase(event));
