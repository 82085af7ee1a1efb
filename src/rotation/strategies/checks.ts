import { createHash } from 'node:crypto';
import type { VerifyContext } from './types';

/** A stable fingerprint of a user's grants, kept as a tag so verify can spot drift later. */
export function grantsFingerprint(grants: readonly string[]): string {
  return createHash('sha256').update(grants.join('\n')).digest('hex').slice(0, 32);
}

/** The grants-unchanged check: the bound user's grants against the fingerprint taken at creation. */
export function checkGrantsUnchanged(
  ctx: VerifyContext,
  users: Record<string, string[] | null> | undefined,
): void {
  const grants = users?.[ctx.bound];
  if (!ctx.recordedGrants || !grants) return;
  const same = grantsFingerprint(grants) === ctx.recordedGrants;
  ctx.add(
    'grants-unchanged',
    same,
    same ? 'grants as created' : `grants of ${ctx.bound} changed since creation`,
  );
}
