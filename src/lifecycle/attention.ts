import {
  ListSecretsCommand,
  type SecretListEntry,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { aws } from '../aws/errors';
import { RDS_CLUSTER_TAG, RDS_INSTANCE_TAG } from '../rotation/master';
import { STATUS_SINCE_TAG, statusSince } from '../rotation/types';
import { DRIFT_TAG, parseDrift } from './drift';
import { DEFAULT_MAX_AGE_DAYS, nextRotationOf } from './fleet';
import { DEFAULT_OLDER_THAN_MINUTES, versionCreated } from './reconcile';
import { DB_TAG, MANAGED_TAG, STATUS_TAG } from './users';

/**
 * What needs attention, first: one pure classification of ListSecrets entries (tags, rotation
 * configuration, version stages) into the kinds below, worst first, plus a thin reader that pages
 * ListSecrets at its maximum of 100 and asks ListSecretVersionIds only for secrets holding an
 * AWSPENDING (to date it). Secret values are never read here; a live login check is the
 * caller's (`observe`), asked only when the operator wants one.
 */
export const ATTENTION_KINDS = [
  /** AWSCURRENT does not log in: the repair's status tag, or a live check. */
  'broken',
  /** The last rotation failed; the repair rolled it back or forward (status tag). */
  'failing',
  /** An AWSPENDING older than the reconciler's threshold. */
  'stuck',
  /** Past its next rotation (nextRotationOf, as rotate-fleet judges "due"). */
  'overdue',
  /** The database differs from the record (grants, clone): as the last verify recorded it. */
  'drifted',
  /** credflow's tags without the database-side binding: only where a check reported it. */
  'unbound',
  /** A database secret rotated by a function that is not credflow's, or an RDS-console secret. */
  'unadopted',
] as const;
export type AttentionKind = (typeof ATTENTION_KINDS)[number];

export interface AttentionRow {
  kind: AttentionKind;
  /** The secret's name. */
  secret: string;
  arn: string | undefined;
  /** The database identifier (credflow:db tag, RDS's tag, or a known identifier in the name). */
  database: string | undefined;
  /** Since when (ISO): the AWSPENDING's creation, the missed rotation, the status tag's change. */
  since: string | undefined;
  /** One line on what was found (never a secret value). */
  detail: string;
  /** The command to look at next. */
  look: string;
  /** Milder kinds the same secret also has. */
  also: AttentionKind[];
}

/** What a live check found for one secret (`--check-logins`); absent fields were not checked. */
export interface Observation {
  logsIn?: boolean;
  bound?: boolean;
  drifted?: boolean;
}

export interface ClassifyOptions {
  now: number;
  /** An AWSPENDING older than this many minutes is stuck (the reconciler's threshold). */
  stuckAfterMinutes: number;
  maxAgeDays: number;
  /** When each secret's AWSPENDING version was created, by ARN. */
  pendingSince?: ReadonlyMap<string, Date>;
  /** Live checks, by ARN. */
  observed?: ReadonlyMap<string, Observation>;
  /** Database identifiers credflow manages (to place an unadopted secret by its name). */
  knownDatabases?: ReadonlySet<string>;
}

/** How the secrets that need nobody are counted. */
export interface HealthyCounts {
  /** credflow's secrets with nothing to do. */
  ok: number;
  /** credflow's secrets with a rotation in flight younger than the threshold. */
  rotating: number;
  /** RDS-managed master secrets (RDS rotates them). */
  rdsMasters: number;
  /** Neither credflow's nor database-shaped by their metadata: not looked at. */
  other: number;
  /** Scheduled for deletion. */
  deleted: number;
}

export interface AttentionView {
  rows: AttentionRow[];
  healthy: HealthyCounts;
  scanned: number;
  /** What this view could not see, said once (e.g. unbound without --check-logins). */
  notes: string[];
}

const rank = (k: AttentionKind) => ATTENTION_KINDS.indexOf(k);

/** Worst first, then the oldest `since`, then by name. */
export function byAttention(a: AttentionRow, b: AttentionRow): number {
  return (
    rank(a.kind) - rank(b.kind) ||
    (a.since ?? '').localeCompare(b.since ?? '') ||
    a.secret.localeCompare(b.secret)
  );
}

const tagOf = (s: SecretListEntry, key: string) => s.Tags?.find((t) => t.Key === key)?.Value;

/** credflow's rotation function (credflow-<stage>-rotationLambda), by its ARN. */
export function isCredflowRotationFunction(arn: string): boolean {
  return /:function:credflow-[^:]+-rotationLambda(:[^:]+)?$/.test(arn);
}

function pendingVersionOf(s: SecretListEntry): string | undefined {
  return Object.entries(s.SecretVersionsToStages ?? {}).find(
    ([, stages]) => stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT'),
  )?.[0];
}

/** Whether a listed secret has an AWSPENDING apart from AWSCURRENT (the reader dates those). */
export function hasPending(s: SecretListEntry): boolean {
  return pendingVersionOf(s) !== undefined;
}

const iso = (d: Date | string | undefined) => (d === undefined ? undefined : new Date(d).toISOString());

function rdsDatabase(s: SecretListEntry): string | undefined {
  const arn = tagOf(s, RDS_INSTANCE_TAG) ?? tagOf(s, RDS_CLUSTER_TAG);
  return arn?.split(':').at(-1);
}

/** An identifier credflow manages that a name names as one of its path segments. */
function databaseInName(name: string, known: ReadonlySet<string> | undefined): string | undefined {
  if (!known) return undefined;
  return name.split('/').find((part) => known.has(part));
}

/**
 * What one listed secret needs, worst kind first with the milder ones in `also`; or the healthy
 * bucket it is counted in.
 */
export function classifySecret(
  s: SecretListEntry,
  o: ClassifyOptions,
): { row: AttentionRow } | { healthy: keyof HealthyCounts } {
  if (s.DeletedDate) return { healthy: 'deleted' };
  if (s.OwningService) return { healthy: s.OwningService === 'rds' ? 'rdsMasters' : 'other' };
  const name = s.Name ?? s.ARN ?? '';
  const arn = s.ARN;
  const managed = tagOf(s, MANAGED_TAG) === 'true';
  const base = { secret: name, arn };

  if (!managed) {
    const lambda = s.RotationLambdaARN;
    const foreign = lambda !== undefined && lambda !== '' && !isCredflowRotationFunction(lambda);
    const rdsConsole = name.startsWith('rds-db-credentials/');
    if (!foreign && !rdsConsole) return { healthy: 'other' };
    return {
      row: {
        ...base,
        kind: 'unadopted',
        database: databaseInName(name, o.knownDatabases),
        since: iso(s.CreatedDate),
        detail: foreign
          ? `rotated by ${lambda?.split(':').at(-1) ?? lambda}, not by credflow`
          : 'an RDS database secret credflow does not manage',
        look: `credflow adopt ${name} --dry-run`,
        also: [],
      },
    };
  }

  const database = tagOf(s, DB_TAG);
  const status = tagOf(s, STATUS_TAG);
  const seen = arn ? o.observed?.get(arn) : undefined;
  const found: Omit<AttentionRow, 'secret' | 'arn' | 'database' | 'also'>[] = [];
  // Since the repair recorded the status; LastChangedDate (moved by any later write) otherwise.
  const changed = statusSince(tagOf(s, STATUS_SINCE_TAG))?.toISOString() ?? iso(s.LastChangedDate);

  if (seen?.logsIn === false || (status === 'broken' && seen?.logsIn !== true)) {
    found.push({
      kind: 'broken',
      since: changed,
      detail:
        seen?.logsIn === false
          ? 'AWSCURRENT does not log in (checked now)'
          : 'AWSCURRENT does not log in (the repair found it so)',
      look: `credflow executions --secret ${name}`,
    });
  }
  if (status === 'rolled-back' || status === 'rolled-forward') {
    found.push({
      kind: 'failing',
      since: changed,
      detail: `the last rotation failed and was ${status}`,
      look: `credflow executions --secret ${name}`,
    });
  }
  const pending = pendingVersionOf(s);
  const pendingSince = arn ? o.pendingSince?.get(arn) : undefined;
  let rotating = false;
  if (pending) {
    const stuck = pendingSince !== undefined && o.now - pendingSince.getTime() > o.stuckAfterMinutes * 60_000;
    if (stuck) {
      found.push({
        kind: 'stuck',
        since: iso(pendingSince),
        detail: `AWSPENDING ${pending} older than ${o.stuckAfterMinutes} min`,
        look: 'credflow reconcile',
      });
    } else rotating = true;
  } else {
    const next = nextRotationOf(s, o.maxAgeDays);
    if (next && next.getTime() < o.now) {
      found.push({
        kind: 'overdue',
        since: next.toISOString(),
        detail: s.RotationEnabled ? 'its scheduled rotation did not happen' : 'past its rotation age',
        look: `credflow rotate-now ${name}`,
      });
    }
  }
  const drift = tagOf(s, DRIFT_TAG);
  if (drift !== undefined || seen?.drifted === true) {
    // Anyone who may tag the secret can write this tag: only known kinds and a date are read.
    const recorded = parseDrift(drift);
    found.push({
      kind: 'drifted',
      since: recorded?.since,
      detail: recorded
        ? `verify found the ${recorded.kinds.join(', ')} different from the record`
        : drift !== undefined
          ? `a ${DRIFT_TAG} tag credflow did not write`
          : 'the database differs from the record',
      look: `credflow verify ${name}`,
    });
  }
  if (seen?.bound === false) {
    found.push({
      kind: 'unbound',
      since: undefined,
      detail: 'tagged by credflow, but the database does not bind the user to it',
      look: `credflow adopt ${name} --dry-run`,
    });
  }
  const [worst, ...rest] = found;
  if (!worst) return { healthy: rotating ? 'rotating' : 'ok' };
  return { row: { ...base, database, ...worst, also: rest.map((r) => r.kind) } };
}

/** Classifies a whole listing: the rows worst first, and the counts of the rest. */
export function classifyAttention(entries: readonly SecretListEntry[], o: ClassifyOptions): AttentionView {
  const known = new Set(o.knownDatabases ?? []);
  for (const s of entries) {
    const db = tagOf(s, DB_TAG) ?? rdsDatabase(s);
    if (db) known.add(db);
  }
  const healthy: HealthyCounts = { ok: 0, rotating: 0, rdsMasters: 0, other: 0, deleted: 0 };
  const rows: AttentionRow[] = [];
  for (const s of entries) {
    const r = classifySecret(s, { ...o, knownDatabases: known });
    if ('row' in r) rows.push(r.row);
    else healthy[r.healthy]++;
  }
  const checkedBinding = [...(o.observed?.values() ?? [])].some((x) => x.bound !== undefined);
  const notes: string[] = [];
  if (!checkedBinding) notes.push('unbound not checked (it needs the master: --check-logins)');
  return { rows: rows.sort(byAttention), healthy, scanned: entries.length, notes };
}

export interface ReadAttentionOptions {
  now?: number;
  stuckAfterMinutes?: number;
  maxAgeDays?: number;
  /** A live check of credflow's secrets (GetSecretValue, a login); asked once per managed secret. */
  observe?: (s: SecretListEntry) => Promise<Observation>;
  /** How many ListSecretVersionIds / observe calls run at once. */
  concurrency?: number;
  /**
   * Creation dates of AWSPENDING versions already read, by `<arn> <versionId>` (a version's date
   * never changes); read from and added to, so a caller that polls asks once per version.
   */
  versionDates?: Map<string, Date>;
}

/** Every secret ListSecrets lists, deleted ones included, 100 a page (its maximum). */
export async function listAllSecrets(
  secrets: SecretsManagerClient,
  /** Stop after this many (a page may run over): the console's bound on what it polls. */
  max = Number.POSITIVE_INFINITY,
): Promise<{ entries: SecretListEntry[]; pages: number; truncated: boolean }> {
  const entries: SecretListEntry[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await aws('ListSecrets', () =>
      secrets.send(
        new ListSecretsCommand({ MaxResults: 100, IncludePlannedDeletion: true, NextToken: token }),
      ),
    );
    pages++;
    entries.push(...(page.SecretList ?? []));
    token = page.NextToken;
  } while (token && entries.length < max);
  return { entries, pages, truncated: token !== undefined };
}

/**
 * The view over listed secrets: ListSecretVersionIds for each credflow secret holding an
 * AWSPENDING (to date it), `observe` if given, then the classification.
 */
export async function attentionOf(
  secrets: SecretsManagerClient,
  entries: readonly SecretListEntry[],
  opts: ReadAttentionOptions = {},
): Promise<AttentionView> {
  const managed = entries.filter(
    (s) => !s.DeletedDate && !s.OwningService && tagOf(s, MANAGED_TAG) === 'true',
  );
  const pendingSince = new Map<string, Date>();
  const observed = new Map<string, Observation>();
  await eachLimited(managed.filter(hasPending), opts.concurrency ?? 4, async (s) => {
    const v = pendingVersionOf(s);
    if (!s.ARN || !v) return;
    const key = `${s.ARN} ${v}`;
    const known = opts.versionDates?.get(key);
    if (known) {
      pendingSince.set(s.ARN, known);
      return;
    }
    const created = await versionCreated(secrets, s.ARN, v);
    if (!created) return;
    pendingSince.set(s.ARN, new Date(created));
    opts.versionDates?.set(key, new Date(created));
  });
  const observe = opts.observe;
  if (observe) {
    await eachLimited(managed, opts.concurrency ?? 4, async (s) => {
      if (s.ARN) observed.set(s.ARN, await observe(s));
    });
  }
  return classifyAttention(entries, {
    now: opts.now ?? Date.now(),
    stuckAfterMinutes: opts.stuckAfterMinutes ?? DEFAULT_OLDER_THAN_MINUTES,
    maxAgeDays: opts.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS,
    pendingSince,
    observed,
  });
}

/**
 * Reads the view through the AWS APIs: ListSecrets at 100 a page (tags, rotation, stages),
 * ListSecretVersionIds for each secret holding an AWSPENDING, and `observe` if given.
 */
export async function readAttention(
  secrets: SecretsManagerClient,
  opts: ReadAttentionOptions = {},
): Promise<AttentionView & { pages: number }> {
  const { entries, pages } = await listAllSecrets(secrets);
  return { ...(await attentionOf(secrets, entries, opts)), pages };
}

async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
