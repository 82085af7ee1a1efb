import type { Credentials, DatabaseEngine } from '../../engines/types';
import type { DbSecret } from '../../secret';
import type { MasterLogin } from '../master';
import type { StrategyName } from '../types';

/** What setSecret hands a strategy: the versions involved and how to reach the master. */
export interface SetContext {
  /** The secret's ARN: the binding every user of this secret carries on the database side. */
  secretArn: string;
  engine: DatabaseEngine;
  /** The user the secret was created for (its credflow:user tag). */
  bound: string;
  current: DbSecret;
  pending: DbSecret;
  /** The connection limit every user of this secret gets (its CONNECTION_LIMIT_TAG). */
  connectionLimit: number;
  /** AWSPREVIOUS when it exists and names the same user on the same host. */
  previous(): Promise<DbSecret | undefined>;
  /**
   * Runs `fn` with the master login, after the checks every master operation needs (same engine
   * family and endpoint as the user, the master not among the users this secret may touch).
   */
  withMaster<T>(fn: (master: MasterLogin) => Promise<T>): Promise<T>;
}

/** A verify check's name: what the strategy promises after a rotation. */
export type CheckName =
  | 'current-logs-in'
  | 'user-bound'
  | 'previous-rejected'
  | 'clone-grants-equal'
  | 'no-clone'
  | 'grants-unchanged'
  | 'no-other-accounts';

export interface Check {
  check: CheckName;
  ok: boolean;
  detail: string;
}

/** What verify hands a strategy. */
export interface VerifyContext {
  engine: DatabaseEngine;
  bound: string;
  current: DbSecret;
  /** AWSPREVIOUS, when it exists and is another version than AWSCURRENT. */
  previous(): Promise<DbSecret | undefined>;
  /**
   * Grants of `names` (null: the user does not exist) over one master pass; undefined when the
   * secret names no usable master, so master-side checks are skipped.
   */
  inspect(names: readonly string[]): Promise<Record<string, string[] | null> | undefined>;
  /** The grants fingerprint recorded when credflow created the user, if any. */
  recordedGrants: string | undefined;
  logsIn(creds: Credentials): Promise<boolean>;
  add(check: CheckName, ok: boolean, detail: string): void;
}

/**
 * One rotation strategy (DESIGN.md section 3). A fourth strategy is one new file implementing
 * this and one line in `./index.ts`; the steps, verify and user creation hold no strategy names.
 */
export interface RotationStrategy {
  readonly name: StrategyName;
  /** Whether setSecret logs in as the master (then the secret must name one in `masterarn`). */
  readonly needsMaster: boolean;
  /**
   * The privilege boundary: every username a secret bound to `bound` may ever hold, and so the
   * only users a rotation of it may change. AWSCURRENT and AWSPENDING must name one of these.
   */
  ownedUsers(bound: string): readonly string[];
  /** The user the next version belongs to. */
  pendingUsername(current: DbSecret, bound: string): string;
  /** Makes the database accept the pending password (setSecret's strategy-specific part). */
  setPassword(ctx: SetContext): Promise<string>;
  /** Adds the checks this strategy promises after a rotation. */
  verify(ctx: VerifyContext): Promise<void>;
}
