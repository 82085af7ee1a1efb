import { parseDeletionCase, protectDeletedSecret } from '../../src/lifecycle/deletion';
import { rotationDepsFromEnv } from '../../src/rotation/deps';

/** Task ProtectDeletedSecret of on-deletion. */
export const handler = async (event: unknown) =>
  protectDeletedSecret(rotationDepsFromEnv(), parseDeletionCase(event));
