/**
 * The privilege boundary (DESIGN.md section 3): a secret is bound to one database user when
 * credflow creates it, and a rotation of that secret only ever touches that user (and, for
 * alternating users, its clone). The tag below names the user; the database records the same
 * binding (a role comment, a bindings table) and the master checks it before any change, so a
 * person who can write the secret or its tags still cannot point a rotation at another user.
 */
import { assertNotSystemAccount, DEFAULT_CONNECTION_LIMIT, MAX_CONNECTION_LIMIT } from '../engines/common';
import { ValidationError } from '../errors';
import { type DbSecret, defaultPort } from '../secret';
import type { RotationStrategy } from './strategies/types';
import { CONNECTION_LIMIT_TAG } from './types';

/** The user a secret was created for (set by create-database-user). */
export const USER_TAG = 'credflow:user';

/**
 * The user a secret is bound to: its credflow:user tag. A single-user secret without one (made
 * outside credflow) is bound to its own AWSCURRENT user: it changes only a password it already
 * holds. Strategies that use the master refuse a secret credflow did not create.
 */
export function boundUser(
  strategy: RotationStrategy,
  tags: Record<string, string>,
  current: DbSecret,
  secretArn: string,
): string {
  const tagged = tags[USER_TAG];
  if (tagged) return tagged;
  if (strategy.needsMaster) {
    throw new ValidationError(
      `${strategy.name} rotation of ${secretArn} refused: the secret has no ${USER_TAG} tag, so credflow did not create its user; the master only changes users credflow created for a secret`,
    );
  }
  return current.username;
}

/**
 * Refuses, before any SQL, a version whose user is a system or RDS account or is not one this
 * secret may hold.
 */
export function assertOwned(strategy: RotationStrategy, bound: string, username: string, what: string): void {
  assertNotSystemAccount(username);
  if (!strategy.ownedUsers(bound).includes(username)) {
    throw new ValidationError(
      `${what} names user ${JSON.stringify(username)}, but the secret is bound to ${JSON.stringify(bound)}: a ${strategy.name} rotation changes only ${strategy
        .ownedUsers(bound)
        .map((u) => JSON.stringify(u))
        .join(' and ')}`,
    );
  }
}

/** Refuses a master whose login is one of the users this secret may change. */
export function assertMasterApart(
  strategy: RotationStrategy,
  bound: string,
  masterUsername: string,
  masterArn: string,
): void {
  if (strategy.ownedUsers(bound).some((u) => u.toLowerCase() === masterUsername.toLowerCase())) {
    throw new ValidationError(
      `master secret ${masterArn} logs in as ${JSON.stringify(masterUsername)}, a user this secret would change: refused`,
    );
  }
}

/** The connection limit a secret's users get: its tag when that is a whole number in range, else the default. */
export function connectionLimitOf(tags: Record<string, string>): number {
  const tagged = String(tags[CONNECTION_LIMIT_TAG]);
  const n = /^\d{1,5}$/.test(tagged) ? Number(tagged) : Number.NaN;
  return n >= 1 && n <= MAX_CONNECTION_LIMIT ? n : DEFAULT_CONNECTION_LIMIT;
}

/**
 * Refuses, before any login, an AWSPENDING that points at another server or database than
 * AWSCURRENT: a rotation changes the password of the secret's user where the secret says it
 * lives, never logs in somewhere a writer of AWSPENDING chose.
 */
export function assertSameTarget(current: DbSecret, pending: DbSecret, what: string): void {
  const differs = targetDifferences(current, pending);
  if (differs.length > 0) {
    throw new ValidationError(
      `${what} points at another ${differs.join(', ')} than AWSCURRENT: a rotation never moves a secret to another server or database; nothing changed`,
    );
  }
}

/** Which of engine, host, port (the engine's default when absent) and dbname differ. */
export function targetDifferences(a: DbSecret, b: DbSecret): ('engine' | 'host' | 'port' | 'dbname')[] {
  const where = (v: DbSecret) => ({
    engine: v.engine,
    host: v.host,
    port: String(v.port ?? defaultPort(v.engine)),
    dbname: v.dbname ?? '',
  });
  const [x, y] = [where(a), where(b)];
  return (['engine', 'host', 'port', 'dbname'] as const).filter((k) => x[k] !== y[k]);
}
