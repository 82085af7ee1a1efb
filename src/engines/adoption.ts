/** The check both engines make, in the admin session that binds an existing user for adoption. */
import { ValidationError } from '../errors';
import { assertNotSystemAccount } from './common';
import type { AdoptionFacts } from './types';

/**
 * Refuses, before the binding is written, a user that does not exist, is a system or RDS
 * account, holds more than database-level privileges, or is bound to another secret. The other
 * secret is never named.
 */
export function assertBindable(username: string, facts: AdoptionFacts | undefined, binding: string): void {
  assertNotSystemAccount(username);
  if (!facts?.exists) throw new ValidationError(`user ${JSON.stringify(username)} does not exist`);
  if (facts.elevated.length > 0) {
    throw new ValidationError(
      `user ${JSON.stringify(username)} holds more than database-level privileges (${facts.elevated.join(', ')}): credflow does not adopt it`,
    );
  }
  if (facts.binding !== undefined && facts.binding !== binding) {
    throw new ValidationError(`user ${JSON.stringify(username)} is bound to another secret`);
  }
}
