import type { Check, CheckName } from '../rotation/strategies';

/**
 * The drift verify found, recorded on the secret itself so that `credflow status` (which reads
 * only ListSecrets) can list a drifted secret and say since when. Its value is the kinds of
 * drift, joined by `+`, a space, and when verify first found them (ISO 8601, seconds):
 * `grants+clone 2026-12-07T13:00:00Z`. Only the characters AWS allows in a tag value.
 *
 * The tag is bookkeeping, not a boundary: nothing decides anything from it. Whoever may tag the
 * secret can add or remove it, which shows or hides one row of the status view until the next
 * verify writes what it finds.
 */
export const DRIFT_TAG = 'credflow:drift';

/** What differs from the record, in the order a value lists them. */
export const DRIFT_KINDS = ['grants', 'clone', 'binding', 'accounts'] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

/** The verify checks that mean "the database is not what credflow set up", by kind. */
export const DRIFT_CHECKS: Readonly<Partial<Record<CheckName, DriftKind>>> = {
  'grants-unchanged': 'grants',
  'clone-grants-equal': 'clone',
  'no-clone': 'clone',
  'user-bound': 'binding',
  'no-other-accounts': 'accounts',
};

export interface DriftRecord {
  kinds: DriftKind[];
  /** When verify first found drift that is still there (ISO 8601). */
  since: string;
}

const ordered = (kinds: Iterable<DriftKind>) => DRIFT_KINDS.filter((k) => new Set(kinds).has(k));

/** The tag's value for a record. */
export function formatDrift(r: DriftRecord): string {
  return `${ordered(r.kinds).join('+')} ${new Date(r.since).toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
}

/**
 * Reads a tag value; undefined when it is not one credflow writes (anyone who may tag the secret
 * can write anything there, so nothing but known kinds and a date comes out of it).
 */
export function parseDrift(value: string | undefined): DriftRecord | undefined {
  const m = /^([a-z]+(?:\+[a-z]+)*) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?Z)$/.exec(value ?? '');
  if (!m?.[1] || !m[2] || Number.isNaN(Date.parse(m[2]))) return undefined;
  const named = m[1].split('+');
  const kinds = ordered(named.filter((k): k is DriftKind => (DRIFT_KINDS as readonly string[]).includes(k)));
  if (kinds.length !== named.length) return undefined;
  return { kinds, since: new Date(m[2]).toISOString() };
}

/**
 * The record after a verify: kinds whose checks failed are added (keeping the earlier `since`
 * while any drift remains), kinds whose checks all ran and passed are cleared, and kinds verify
 * could not check this time (the master unusable, the user not bound) are kept. Undefined: no
 * drift remains, the tag goes.
 */
export function nextDrift(
  recorded: DriftRecord | undefined,
  checks: readonly Check[],
  now: Date,
): DriftRecord | undefined {
  const failed = new Set<DriftKind>();
  const passed = new Set<DriftKind>();
  for (const c of checks) {
    const kind = DRIFT_CHECKS[c.check];
    if (kind) (c.ok ? passed : failed).add(kind);
  }
  for (const k of failed) passed.delete(k);
  const kinds = ordered([...(recorded?.kinds ?? []).filter((k) => !passed.has(k)), ...failed]);
  if (kinds.length === 0) return undefined;
  return { kinds, since: recorded?.since ?? now.toISOString() };
}
