/** The three rotation strategies (DESIGN.md section 3, seeds 000/001/003/004). */
export const STRATEGIES = ['single-user', 'alternating-users', 'admin-single-user'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

/** Tag on a user secret that names its strategy; read when the input names none. */
export const STRATEGY_TAG = 'credflow:strategy';

/** When credflow last finished a rotation of the secret (ISO 8601); LastRotatedDate covers native ones. */
export const LAST_ROTATED_TAG = 'credflow:last-rotated';
/**
 * What the last rotation left: the repair writes `broken`, `rolled-back` or `rolled-forward`; a
 * rotation that finishes writes `ok` (its AWSCURRENT was just tested), so a secret a person
 * repaired, or a later rotation fixed, stops being reported as broken.
 */
export const STATUS_TAG = 'credflow:rotation-status';
/**
 * When the repair first wrote the present `broken`, `rolled-back` or `rolled-forward` status (ISO
 * 8601): `credflow status` says since when from it, as LastChangedDate moves with every later
 * tag or value write. Bookkeeping, not a boundary: a value that is not a date is ignored.
 */
export const STATUS_SINCE_TAG = 'credflow:rotation-status-since';

/** A `credflow:rotation-status-since` value as a date, or undefined when it is not one. */
export function statusSince(value: string | undefined): Date | undefined {
  if (!value || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?Z$/.test(value)) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
/**
 * The connection limit create-user gave the secret's user: a clone made later gets the same.
 * A missing or malformed tag means the default (DEFAULT_CONNECTION_LIMIT), never "unlimited".
 */
export const CONNECTION_LIMIT_TAG = 'credflow:connection-limit';

export const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type StepName = (typeof STEPS)[number];

export interface StepInput {
  /** Secret name or ARN. */
  secretId: string;
  /** The ClientRequestToken: the id of the version being rotated in. */
  token: string;
  /** Overrides the strategy tag. */
  strategy?: StrategyName | undefined;
}

export type StepOutcome =
  /** The step did its work. */
  | 'applied'
  /** A previous run of this step already did it (idempotent rerun). */
  | 'already-done'
  /** The token's version is already AWSCURRENT: the rotation finished earlier. */
  | 'already-current';

export interface StepResult {
  step: StepName;
  secretArn: string;
  token: string;
  strategy: StrategyName;
  outcome: StepOutcome;
  /** The database user the pending version holds (never its password). */
  username?: string;
  /**
   * Secrets Manager requests of this step that AWS throttled (retried by the SDK, or fatal):
   * rotate-fleet slows down when its rotations report any.
   */
  throttled: number;
}
