import {
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  type SecretListEntry,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { aws } from '../aws/errors';
import type { Deps } from '../deps';
import { ValidationError } from '../errors';
import { parser } from '../validate';
import { MANAGED_TAG } from './users';

/**
 * reconcile-rotations: the safety net under on-rotation-failure. It pages through the secrets
 * credflow manages, picks those whose AWSPENDING has waited longer than a threshold while no
 * rotate-secret execution works on them (a lost event, a repair that was throttled or timed
 * out, a native rotation that died), and hands each to on-rotation-failure, whose
 * diagnose/roll-forward/roll-back logic it reuses. No state holds the fleet: one page at a time.
 */

/** A rotate-secret execution that is still running, and the rotation it drives. */
export interface RunningRotation {
  executionArn: string;
  /** The secret as the execution's input names it (a name or an ARN). */
  secretId: string;
  token: string;
}

/** The reconciler's dependencies: the common ones plus a view of running rotate-secret executions. */
export interface ReconcileDeps
  extends Pick<
    Deps,
    'secrets' | 'logger' | 'metrics' | 'alertTopicArn' | 'onRotationFailureArn' | 'reconcileOlderThanMinutes'
  > {
  /** The rotate-secret executions running now; asked only when a page has an old AWSPENDING. */
  runningRotations(): Promise<RunningRotation[]>;
  now?: () => number;
}

/** The reconciler's default threshold: an AWSPENDING older than this is a stalled rotation. */
export const DEFAULT_OLDER_THAN_MINUTES = 30;

const reconcileInput = z.object({
  /** An AWSPENDING older than this many minutes counts as stalled (0: any). */
  olderThanMinutes: z.number().int().min(0).max(43_200).optional(),
  /** ListSecrets' page size: the most secrets (and repairs) one page holds. */
  pageSize: z.number().int().min(1).max(100).default(100),
  nextToken: z.string().min(1).max(4096).optional(),
});

/** Parses FindStalledRotations' input. */
export const parseReconcileInput = parser(reconcileInput, 'invalid reconcile-rotations input');

export interface StalledRotation {
  secretId: string;
  name: string;
  /** The AWSPENDING version: the rotation on-rotation-failure is to finish or undo. */
  token: string;
  pendingSince: string;
  /** Why it is repaired (goes into on-rotation-failure's alert; never a secret value). */
  reason: string;
}

export interface ReconcilePage {
  olderThanMinutes: number;
  pageSize: number;
  /** Managed secrets on this page. */
  scanned: number;
  stalled: StalledRotation[];
  /** Old AWSPENDING left alone because a rotate-secret execution still works on it. */
  running: number;
  nextToken?: string;
  onRotationFailureArn: string;
  alertTopicArn?: string;
}

/** The version holding AWSPENDING, from ListSecrets' SecretVersionsToStages. */
function pendingVersion(s: SecretListEntry): string | undefined {
  return Object.entries(s.SecretVersionsToStages ?? {}).find(([, stages]) =>
    stages.includes('AWSPENDING'),
  )?.[0];
}

/** When a version was created (ListSecretVersionIds pages; a secret holds at most ~100 versions). */
export async function versionCreated(
  secrets: SecretsManagerClient,
  arn: string,
  versionId: string,
): Promise<Date | undefined> {
  let token: string | undefined;
  do {
    const page = await aws(`ListSecretVersionIds ${arn}`, () =>
      secrets.send(
        new ListSecretVersionIdsCommand({
          SecretId: arn,
          MaxResults: 100,
          ...(token ? { NextToken: token } : {}),
        }),
      ),
    );
    const v = page.Versions?.find((x) => x.VersionId === versionId);
    if (v) return v.CreatedDate;
    token = page.NextToken;
  } while (token);
  return undefined;
}

/**
 * FindStalledRotations: one page of credflow-managed secrets (tag `credflow:managed=true`);
 * those whose AWSPENDING version is older than the threshold and that no running rotate-secret
 * execution names (by secret or by token) are returned for repair. A native RotateSecret still
 * running is younger than any sensible threshold. RDS-owned master secrets are RDS's to rotate.
 */
export async function findStalledRotations(
  deps: ReconcileDeps,
  input: z.infer<typeof reconcileInput>,
): Promise<ReconcilePage> {
  const onRotationFailureArn = deps.onRotationFailureArn;
  if (!onRotationFailureArn)
    throw new ValidationError(
      'reconcile-rotations: the on-rotation-failure state machine ARN is not configured',
    );
  const olderThanMinutes =
    input.olderThanMinutes ?? deps.reconcileOlderThanMinutes ?? DEFAULT_OLDER_THAN_MINUTES;
  const cutoff = (deps.now ?? Date.now)() - olderThanMinutes * 60_000;
  const page = await aws('ListSecrets', () =>
    deps.secrets.send(
      new ListSecretsCommand({
        Filters: [
          { Key: 'tag-key', Values: [MANAGED_TAG] },
          { Key: 'tag-value', Values: ['true'] },
        ],
        MaxResults: input.pageSize,
        ...(input.nextToken ? { NextToken: input.nextToken } : {}),
      }),
    ),
  );
  // The two filters match independently, so the pair is checked here.
  const managed = (page.SecretList ?? []).filter(
    (s) => s.ARN && !s.DeletedDate && s.Tags?.some((t) => t.Key === MANAGED_TAG && t.Value === 'true'),
  );
  const old: StalledRotation[] = [];
  for (const s of managed) {
    const pending = pendingVersion(s);
    if (!pending || s.OwningService) continue;
    const arn = s.ARN as string;
    const created = await versionCreated(deps.secrets, arn, pending);
    if (!created || created.getTime() > cutoff) continue;
    old.push({
      secretId: arn,
      name: s.Name ?? arn,
      token: pending,
      pendingSince: created.toISOString(),
      reason: `reconcile-rotations: AWSPENDING has waited since ${created.toISOString()} (over ${olderThanMinutes} min) with no rotation running`,
    });
  }
  let stalled = old;
  if (old.length > 0) {
    const running = await deps.runningRotations();
    stalled = old.filter(
      (c) => !running.some((r) => r.token === c.token || r.secretId === c.secretId || r.secretId === c.name),
    );
  }
  const result: ReconcilePage = {
    olderThanMinutes,
    pageSize: input.pageSize,
    scanned: managed.length,
    stalled,
    running: old.length - stalled.length,
    ...(page.NextToken ? { nextToken: page.NextToken } : {}),
    onRotationFailureArn,
    ...(deps.alertTopicArn ? { alertTopicArn: deps.alertTopicArn } : {}),
  };
  deps.metrics?.put('StuckRotationsFound', stalled.length, {});
  deps.logger.info('FindStalledRotations', {
    scanned: result.scanned,
    stalled: stalled.map((s) => s.secretId),
    running: result.running,
    more: page.NextToken !== undefined,
  });
  return result;
}

/** How many per-secret lines the alert names; the rest are counted. */
const MAX_ALERT_LINES = 20;

/** One Map item's result: on-rotation-failure's outcome, or the error name when it failed. */
const repairOutcome = z.union([
  z.object({
    secretId: z.string().min(1),
    name: z.string().min(1),
    status: z.string(),
    outcome: z.enum(['rolled-forward', 'rolled-back', 'nothing-to-repair']),
    severity: z.enum(['info', 'warning', 'critical']),
  }),
  z.object({ secretId: z.string().min(1), name: z.string().min(1), error: z.string().max(256) }),
]);

const count = z.number().int().min(0);
const totalsSchema = z.object({
  olderThanMinutes: count,
  scanned: count,
  stalled: count,
  rolledForward: count,
  rolledBack: count,
  nothingToRepair: count,
  failed: count,
  critical: count,
  lines: z.array(z.string().max(4096)).max(MAX_ALERT_LINES),
  omitted: count,
  message: z.string(),
  alertTopicArn: z.string().optional(),
});
export type ReconcileTotals = z.infer<typeof totalsSchema>;

const tallyInput = z.object({
  totals: totalsSchema.optional(),
  page: z.object({
    olderThanMinutes: count,
    pageSize: z.number().int().min(1).max(100),
    scanned: count,
    nextToken: z.string().optional(),
    alertTopicArn: z.string().optional(),
  }),
  repairs: z.array(repairOutcome).max(100),
});

/** Parses TallyReconcilePage's input. */
export const parseTallyInput = parser(tallyInput, 'invalid TallyReconcilePage input');

/** The state the reconciler carries from one page to the next: counts and a bounded list. */
export interface ReconcileState {
  olderThanMinutes: number;
  pageSize: number;
  nextToken?: string;
  totals: ReconcileTotals;
}

function lineOf(r: z.infer<typeof repairOutcome>): { line: string; kind: keyof ReconcileTotals } {
  if ('error' in r && r.error === 'SecretBroken')
    return { line: `${r.name}: ACTION NEEDED: AWSCURRENT does not log in (SecretBroken)`, kind: 'failed' };
  if ('error' in r) return { line: `${r.name}: repair failed (${r.error})`, kind: 'failed' };
  const kind = (
    {
      'rolled-forward': 'rolledForward',
      'rolled-back': 'rolledBack',
      'nothing-to-repair': 'nothingToRepair',
    } as const
  )[r.outcome];
  const critical = r.severity === 'critical' ? ' - ACTION NEEDED: AWSCURRENT does not log in' : '';
  return { line: `${r.name}: ${r.outcome}${critical}`, kind };
}

function messageOf(t: Omit<ReconcileTotals, 'message'>): string {
  const head =
    `reconcile-rotations checked ${t.scanned} credflow secret(s): ${t.stalled} had an AWSPENDING older than ` +
    `${t.olderThanMinutes} minute(s) with no rotation running. Rolled forward ${t.rolledForward}, rolled back ` +
    `${t.rolledBack}, nothing left to repair ${t.nothingToRepair}, repair failed ${t.failed}` +
    (t.critical > 0 ? `; ${t.critical} still do NOT log in with AWSCURRENT.` : '.');
  const more = t.omitted > 0 ? [`(and ${t.omitted} more)`] : [];
  return [head, ...t.lines.map((l) => `- ${l}`), ...more].join('\n');
}

/**
 * TallyReconcilePage: adds one page's repairs to the running totals and returns the state the
 * next page starts from. Only counts and the first 20 lines travel on, so the state stays the
 * same size however many secrets there are.
 */
export function tallyReconcilePage(input: z.infer<typeof tallyInput>): ReconcileState {
  const { page } = input;
  const t = input.totals ?? {
    olderThanMinutes: page.olderThanMinutes,
    scanned: 0,
    stalled: 0,
    rolledForward: 0,
    rolledBack: 0,
    nothingToRepair: 0,
    failed: 0,
    critical: 0,
    lines: [],
    omitted: 0,
    message: '',
  };
  const next = { ...t, lines: [...t.lines] };
  next.scanned += page.scanned;
  next.stalled += input.repairs.length;
  for (const r of input.repairs) {
    const { line, kind } = lineOf(r);
    (next[kind] as number) += 1;
    if ('error' in r ? r.error === 'SecretBroken' : r.severity === 'critical') next.critical += 1;
    if (next.lines.length < MAX_ALERT_LINES) next.lines.push(line);
    else next.omitted += 1;
  }
  if (page.alertTopicArn) next.alertTopicArn = page.alertTopicArn;
  next.message = messageOf(next);
  return {
    olderThanMinutes: page.olderThanMinutes,
    pageSize: page.pageSize,
    ...(page.nextToken ? { nextToken: page.nextToken } : {}),
    totals: next,
  };
}
