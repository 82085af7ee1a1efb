import type { SecretListEntry } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import type { Deps } from '../deps';
import { ValidationError } from '../errors';
import { USER_TAG } from '../rotation/boundary';
import { cloneOf } from '../rotation/strategies';
import { LAST_ROTATED_TAG } from '../rotation/types';
import { readVersion } from '../rotation/versions';
import { parseDbSecret } from '../secret';
import { parser } from '../validate';
import { MANAGED_TAG, secretsTagged } from './users';

export const fleetInput = z.object({
  /** Only secrets carrying this tag (key=value); default: every secret credflow manages. */
  tag: z
    .object({ key: z.string().min(1).max(128), value: z.string().max(256) })
    .default({ key: MANAGED_TAG, value: 'true' }),
  maxConcurrency: z.number().int().min(1).max(1000).default(10),
  /** Rotate every selected secret, due or not. */
  force: z.boolean().default(false),
  /** Not rotated for this many days counts as due when no schedule says otherwise. */
  maxAgeDays: z.number().int().min(1).max(3650).default(30),
  /** The moment "due" is judged at (ISO 8601); default: now. */
  now: z.iso.datetime().optional(),
  /**
   * Due for longer than this many hours counts as overdue (the SecretsOverdue metric): the daily
   * schedule plus an hour's slack, so only a secret a previous run should have rotated counts.
   */
  overdueAfterHours: z.number().int().min(1).max(8760).default(25),
});
export type FleetInput = z.input<typeof fleetInput>;

export interface FleetItem {
  secretId: string;
  name: string;
}

export interface FleetSelection {
  /** Secrets that share a database user rotate one after another, so they share a group. */
  groups: FleetItem[][];
  total: number;
  maxConcurrency: number;
  rotateSecretArn: string;
  skipped: { secretId: string; reason: string }[];
}

/** When a secret became due: its NextRotationDate, else its last rotation plus maxAgeDays. */
function dueSince(s: SecretListEntry, maxAgeDays: number): number {
  if (s.NextRotationDate) return s.NextRotationDate.getTime();
  const tagged = s.Tags?.find((t) => t.Key === LAST_ROTATED_TAG)?.Value;
  const last = [s.LastRotatedDate, tagged ? new Date(tagged) : undefined, s.CreatedDate]
    .filter((d): d is Date => d !== undefined && !Number.isNaN(d.getTime()))
    .sort((a, b) => b.getTime() - a.getTime())[0];
  return last ? last.getTime() + maxAgeDays * 86_400_000 : Number.NEGATIVE_INFINITY;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Parses selectDueSecrets's input (a ValidationError naming each bad field). */
export const parseSelectDueSecretsInput = parser(fleetInput, 'invalid rotate-fleet input');

/**
 * SelectDueSecrets: the tagged, due, credflow-rotated secrets (RDS-owned master secrets rotate
 * through RDS and are left out), grouped so that two secrets for the same database user (say
 * `app` and `app_clone` kept in separate secrets) never rotate at the same time.
 */
export async function selectDueSecrets(
  deps: Deps,
  input: z.infer<typeof fleetInput>,
): Promise<FleetSelection> {
  const rotateSecretArn = deps.rotateSecretArn;
  if (!rotateSecretArn)
    throw new ValidationError('rotate-fleet: the rotate-secret state machine ARN is not configured');
  const now = input.now ? Date.parse(input.now) : Date.now();
  const entries = await secretsTagged(deps, input.tag.key, input.tag.value);

  const skipped: FleetSelection['skipped'] = [];
  let overdue = 0;
  const candidates = entries.filter((s) => {
    if (s.OwningService) {
      skipped.push({ secretId: s.ARN ?? '', reason: `owned by ${s.OwningService}` });
      return false;
    }
    const due = dueSince(s, input.maxAgeDays);
    if (now - due > input.overdueAfterHours * 3_600_000) overdue++;
    if (!input.force && due > now) {
      skipped.push({ secretId: s.ARN ?? '', reason: 'not due' });
      return false;
    }
    return true;
  });

  const groups = new Map<string, FleetItem[]>();
  await mapLimit(candidates, 16, async (s) => {
    const arn = s.ARN as string;
    let key = arn;
    try {
      const v = parseDbSecret(await readVersion(deps.secrets, arn, { VersionStage: 'AWSCURRENT' }));
      // The bound user, so both users of an alternating pair fall into one group.
      const bound = s.Tags?.find((t) => t.Key === USER_TAG)?.Value;
      const base =
        bound ?? (v.username.endsWith(cloneOf('')) ? v.username.slice(0, -cloneOf('').length) : v.username);
      key = `${v.host}:${v.port ?? ''}/${base}`;
    } catch (err) {
      // An unreadable secret still rotates alone; rotate-secret reports the real problem.
      deps.logger.warn('SelectDueSecrets: cannot read the secret to group it', {
        secretArn: arn,
        error: (err as Error).name,
      });
    }
    const item = { secretId: arn, name: s.Name ?? arn };
    const g = groups.get(key);
    if (g) g.push(item);
    else groups.set(key, [item]);
  });
  const sorted = [...groups.values()].map((g) => g.sort((a, b) => a.name.localeCompare(b.name)));
  sorted.sort((a, b) => (a[0]?.name ?? '').localeCompare(b[0]?.name ?? ''));
  deps.logger.info('SelectDueSecrets', {
    selected: candidates.length,
    groups: sorted.length,
    skipped: skipped.length,
    overdue,
  });
  deps.metrics?.put('FleetSecretsSelected', candidates.length, {});
  deps.metrics?.put('SecretsOverdue', overdue, {});
  return {
    groups: sorted,
    total: candidates.length,
    maxConcurrency: input.maxConcurrency,
    rotateSecretArn,
    skipped,
  };
}

const outcome = z.object({
  secretId: z.string(),
  name: z.string().optional(),
  outcome: z
    .object({
      status: z.string().optional(),
      executionArn: z.string().optional(),
      Error: z.string().optional(),
      Cause: z.string().optional(),
    })
    .optional(),
});

export interface FleetSummary {
  total: number;
  succeeded: number;
  failed: number;
  skipped: number;
  results: {
    secretId: string;
    name: string;
    status: 'SUCCEEDED' | 'FAILED';
    executionArn?: string;
    error?: string;
  }[];
}

/**
 * The error of a failed rotation: a `startExecution.sync` Task fails with States.TaskFailed and
 * the child execution's description (with its own Error) as the cause, as on AWS.
 */
function childError(error: string | undefined, cause: string | undefined): string | undefined {
  if (error !== 'States.TaskFailed' || !cause) return error;
  try {
    const child = JSON.parse(cause) as { Error?: unknown };
    return typeof child.Error === 'string' ? child.Error : error;
  } catch {
    return error;
  }
}

const summarizeFleetRotationInput = z.object({
  selection: z.object({ skipped: z.array(z.unknown()).default([]) }).passthrough(),
  results: z.array(z.array(outcome)),
});

/** Parses summarizeFleetRotation's input (a ValidationError naming each bad field). */
export const parseSummarizeFleetRotationInput = parser(
  summarizeFleetRotationInput,
  'invalid SummarizeFleetRotation input',
);

/** SummarizeFleetRotation: one line per secret, counts on top. */
export function summarizeFleetRotation(
  deps: Pick<Deps, 'metrics'>,
  input: z.infer<typeof summarizeFleetRotationInput>,
): FleetSummary {
  const results: FleetSummary['results'] = input.results.flat().map((r) => {
    const ok = r.outcome?.status === 'SUCCEEDED';
    const error = childError(r.outcome?.Error, r.outcome?.Cause);
    return {
      secretId: r.secretId,
      name: r.name ?? r.secretId,
      status: ok ? 'SUCCEEDED' : 'FAILED',
      ...(r.outcome?.executionArn ? { executionArn: r.outcome.executionArn } : {}),
      ...(!ok ? { error: error ?? r.outcome?.status ?? 'unknown' } : {}),
    };
  });
  const succeeded = results.filter((r) => r.status === 'SUCCEEDED').length;
  deps.metrics?.put('FleetSecretsRotated', succeeded, {});
  deps.metrics?.put('FleetSecretsFailed', results.length - succeeded, {});
  return {
    total: results.length,
    succeeded,
    failed: results.length - succeeded,
    skipped: input.selection.skipped.length,
    results,
  };
}
