import { createHash } from 'node:crypto';
import type { VerifyContext } from './types';

/**
 * Marks fingerprints of the grants credflow made (in the user's database, by the master), so a
 * fingerprint an older credflow took over every grant the user held is told apart and not
 * reported as drift.
 */
const FINGERPRINT_VERSION = 'v2:';

/** A stable fingerprint of a user's grants, kept as a tag so verify can spot drift later. */
export function grantsFingerprint(grants: readonly string[]): string {
  return `${FINGERPRINT_VERSION}${createHash('sha256').update(grants.join('\n')).digest('hex').slice(0, 32)}`;
}

/** The grants-unchanged check: the bound user's grants against the fingerprint taken at creation. */
export function checkGrantsUnchanged(
  ctx: VerifyContext,
  users: Record<string, string[] | null> | undefined,
): void {
  const grants = users?.[ctx.bound];
  // An older credflow's fingerprint covered other tenants' grants too: not comparable.
  if (!ctx.recordedGrants?.startsWith(FINGERPRINT_VERSION) || !grants) return;
  const same = grantsFingerprint(grants) === ctx.recordedGrants;
  ctx.add(
    'grants-unchanged',
    same,
    same ? 'grants as created' : `grants of ${ctx.bound} changed since creation`,
  );
}
