/**
 * rotate-fleet: every due secret with a tag, rotated within Secrets Manager's write quota. No
 * state ever holds the fleet: the parent execution pages through ListSecrets and hands each page
 * to a rotate-fleet-page child (one rotate-secret per secret, paced), tallies counts into its
 * state and, after `pagesPerExecution` pages, continues as a new execution, so no history grows
 * with the fleet. Secrets whose rotation failed are retried once at the end, then reported.
 * This file: the run's state, PlanFleetRotation (count, pacing) and SelectFleetPage; the tally
 * and summary are in fleet-tally.ts, the pacing in fleet-pacing.ts.
 */
import { createHash } from 'node:crypto';
import { ListSecretsCommand, type SecretListEntry } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { aws } from '../aws/errors';
import type { Deps } from '../deps';
import { ValidationError } from '../errors';
import { USER_TAG } from '../rotation/boundary';
import { cloneOf } from '../rotation/strategies';
import { LAST_ROTATED_TAG } from '../rotation/types';
import { readVersion } from '../rotation/versions';
import { parseDbSecret } from '../secret';
import { parser } from '../validate';
import { DEFAULT_WRITE_BUDGET, initialPacing, type Pacing, planSlots } from './fleet-pacing';
import { DB_TAG, MANAGED_TAG } from './users';

/** ListSecrets pages one SelectFleetPage reads at most before handing back (bounds its run time). */
const MAX_LIST_CALLS = 10;
/** Failed secrets kept for the retry pass; more failures than this are a systemic fault, reported as they are. */
export const RETRY_CAP = 100;

/**
 * The most rotations a fleet runs at once. Each page runs its rotations in an inline Map, and an
 * inline Map runs at most 40 iterations at once on AWS whatever MaxConcurrency asks
 * (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html); the local cloud
 * does the same, so a larger number would promise what neither gives.
 */
export const MAX_FLEET_CONCURRENCY = 40;

/** Why a larger concurrency is refused, for the CLI and the workflow's input check alike. */
export const MAX_FLEET_CONCURRENCY_REASON = `at most ${MAX_FLEET_CONCURRENCY}: each page runs its rotations as an inline Map, which runs at most ${MAX_FLEET_CONCURRENCY} iterations at once on AWS`;

/** Days without a rotation after which rotate-fleet counts a secret with no schedule as due. */
export const DEFAULT_MAX_AGE_DAYS = 30;

const fleetOptions = z.object({
  /** Only secrets carrying this tag (key=value); default: every secret credflow manages. */
  tag: z
    .object({ key: z.string().min(1).max(128), value: z.string().max(256) })
    .default({ key: MANAGED_TAG, value: 'true' }),
  /** Rotations in flight at most; the fleet uses fewer when its write budget needs fewer. */
  maxConcurrency: z
    .number()
    .int()
    .min(1)
    .max(MAX_FLEET_CONCURRENCY, { message: MAX_FLEET_CONCURRENCY_REASON })
    .default(25),
  /** Secrets Manager writes per second this run may use (default half the regional quota of 50). */
  writeBudget: z.number().positive().max(10_000).default(DEFAULT_WRITE_BUDGET),
  /**
   * Secrets per page (one rotate-fleet-page execution each). At most 100: a page's outcomes come
   * back as one task result of ~0.9 KB a secret, well under Step Functions' 256 KiB.
   */
  pageSize: z.number().int().min(1).max(100).default(100),
  /** Pages per execution before it continues as a new one (bounds its history). */
  pagesPerExecution: z.number().int().min(1).max(1000).default(200),
  /** Rotate every selected secret, due or not. */
  force: z.boolean().default(false),
  /** Not rotated for this many days counts as due when no schedule says otherwise. */
  maxAgeDays: z.number().int().min(1).max(3650).default(DEFAULT_MAX_AGE_DAYS),
  /** The moment "due" is judged at (ISO 8601); default: when the run starts. */
  now: z.iso.datetime().optional(),
  /**
   * Due for longer than this many hours counts as overdue (the SecretsOverdue metric): the daily
   * schedule plus an hour's slack, so only a secret a previous run should have rotated counts.
   */
  overdueAfterHours: z.number().int().min(1).max(8760).default(25),
});
export type FleetInput = z.input<typeof fleetOptions>;

/** A secret the fleet rotates: its ARN and the user group it belongs to. */
export interface FleetItem {
  secretId: string;
  group: string;
}

export interface FleetTotals {
  /** Due secrets counted when the run started (what "remaining" is measured against). */
  selected: number;
  succeeded: number;
  /** Failed for good (after the retry, or not retried). */
  failed: number;
  skipped: number;
  /** Why they were skipped: `not due`, `untagged`, `owned by rds`, `deleted`. */
  skippedByReason?: Record<string, number>;
  /** Failed once and queued for the retry pass. */
  retried: number;
  /** Of those, rotated on the retry. */
  recovered: number;
  /** Failed while the retry list was full: reported without a retry. */
  notRetried: number;
  /** Throttled Secrets Manager requests the rotations met. */
  throttled: number;
  /** Final failures by error name. */
  byError: Record<string, number>;
  startedMs: number;
}

/** The page a rotate-fleet-page execution runs: groups of secrets with their start times. */
export interface PagePlan {
  /** Its execution name (derived from the run, so the CLI finds it). */
  name: string;
  count: number;
  concurrency: number;
  retryPass: boolean;
  /** Secrets of one database user share a group and rotate one after another. */
  items: { secretId: string; startAt: string; group: string }[][];
}

/** Everything a fleet run carries from state to state: counts and bounded lists, never the fleet. */
export interface FleetState {
  options: z.infer<typeof fleetOptions> & {
    now: string;
    rotateSecretArn: string;
    rotateFleetPageArn: string;
    /** Prefix of every execution name of this run. */
    runId: string;
  };
  cursor: { phase: 'select' | 'retry' | 'done'; nextToken?: string | undefined; exhausted: boolean };
  /** Pages started in the whole run, and in this execution. */
  pages: number;
  pagesInExecution: number;
  /** Executions of the run so far (1, then one more per continuation). */
  executions: number;
  pacing: Pacing;
  totals: FleetTotals;
  retry: FleetItem[];
  /** The first final failures, for the report. */
  failures: { secretId: string; name: string; error: string; executionArn?: string | undefined }[];
  current?: PagePlan | undefined;
  /** Set when this execution's page budget is spent: the next execution's name. */
  continuation?: string | undefined;
}

/** A run's counts before its first page: `selected` due secrets, nothing done yet. */
export function freshTotals(selected: number, startedMs: number): FleetTotals {
  return {
    selected,
    succeeded: 0,
    failed: 0,
    skipped: 0,
    retried: 0,
    recovered: 0,
    notRetried: 0,
    throttled: 0,
    byError: {},
    startedMs,
  };
}

/** The short name of a secret ARN (`arn:...:secret:credflow/db/app-AbCdEf` -> `credflow/db/app`). */
export function secretName(arn: string): string {
  const m = /:secret:(.+)-[A-Za-z0-9]{6}$/.exec(arn);
  return m?.[1] ?? arn;
}

/**
 * A run's execution-name prefix: the first execution's name, shortened with a hash so that
 * `<prefix>-p<page>` stays within the 80 characters Step Functions allows.
 */
export function runIdOf(executionName: string): string {
  if (executionName.length <= 48) return executionName;
  const hash = createHash('sha256').update(executionName).digest('hex').slice(0, 8);
  return `${executionName.slice(0, 39)}-${hash}`;
}

export function pageExecutionName(runId: string, page: number, retryPass: boolean): string {
  return `${runId}-${retryPass ? 'r' : 'p'}${page}`;
}

export function continuationName(runId: string, execution: number): string {
  return `${runId}-c${execution}`;
}

/**
 * When a secret is next rotated, as rotate-fleet judges it: its NextRotationDate, else its last
 * rotation (or creation) plus maxAgeDays; undefined when nothing dates it. The CLI's `secrets`
 * and the console show this same answer.
 */
export function nextRotationOf(
  s: Pick<SecretListEntry, 'NextRotationDate' | 'LastRotatedDate' | 'CreatedDate' | 'Tags'>,
  maxAgeDays: number = DEFAULT_MAX_AGE_DAYS,
): Date | undefined {
  if (s.NextRotationDate) return new Date(s.NextRotationDate);
  const tagged = s.Tags?.find((t) => t.Key === LAST_ROTATED_TAG)?.Value;
  const last = [s.LastRotatedDate, tagged ? new Date(tagged) : undefined, s.CreatedDate]
    .filter((d): d is Date => d !== undefined && !Number.isNaN(new Date(d).getTime()))
    .map((d) => new Date(d))
    .sort((a, b) => b.getTime() - a.getTime())[0];
  return last ? new Date(last.getTime() + maxAgeDays * 86_400_000) : undefined;
}

/** When a secret became due (minus infinity when nothing dates it). */
function dueSince(s: SecretListEntry, maxAgeDays: number): number {
  return nextRotationOf(s, maxAgeDays)?.getTime() ?? Number.NEGATIVE_INFINITY;
}

/** Why a listed secret is not rotated, or undefined when it is. */
function skipReason(s: SecretListEntry, o: FleetState['options']): string | undefined {
  if (!s.ARN || s.DeletedDate) return 'deleted';
  // RDS-owned master secrets rotate through RDS.
  if (s.OwningService) return `owned by ${s.OwningService}`;
  if (!s.Tags?.some((t) => t.Key === o.tag.key && t.Value === o.tag.value)) return 'untagged';
  if (!o.force && dueSince(s, o.maxAgeDays) > Date.parse(o.now)) return 'not due';
  return undefined;
}

/** One ListSecrets page of the tagged secrets, in name order (stable while rotations change them). */
async function listPage(deps: Deps, o: FleetState['options'], token: string | undefined, max = 100) {
  return aws('ListSecrets', () =>
    deps.secrets.send(
      new ListSecretsCommand({
        Filters: [
          { Key: 'tag-key', Values: [o.tag.key] },
          { Key: 'tag-value', Values: [o.tag.value] },
        ],
        SortBy: 'name',
        SortOrder: 'asc',
        MaxResults: max,
        ...(token ? { NextToken: token } : {}),
      }),
    ),
  );
}

const planInput = z.object({
  executionName: z.string().min(1).max(80),
  input: z.union([
    z.object({ carry: z.object({ options: z.object({}).passthrough() }).passthrough() }),
    fleetOptions,
  ]),
});

/** Parses PlanFleetRotation's input (a ValidationError naming each bad field). */
export const parsePlanFleetRotationInput = parser(planInput, 'invalid rotate-fleet input');

/**
 * PlanFleetRotation: a new run counts its due secrets (page by page, holding none of them) and
 * starts its pacing; a continuation takes over the state its predecessor carried.
 */
export async function planFleetRotation(deps: Deps, req: z.infer<typeof planInput>): Promise<FleetState> {
  if ('carry' in req.input) {
    const carried = req.input.carry as unknown as FleetState;
    return {
      ...carried,
      pagesInExecution: 0,
      executions: carried.executions + 1,
      continuation: undefined,
    };
  }
  const rotateSecretArn = deps.rotateSecretArn;
  const rotateFleetPageArn = deps.rotateFleetPageArn;
  if (!rotateSecretArn || !rotateFleetPageArn)
    throw new ValidationError(
      'rotate-fleet: the rotate-secret and rotate-fleet-page state machine ARNs are not configured',
    );
  const started = Date.now();
  const options = {
    ...req.input,
    now: req.input.now ?? new Date(started).toISOString(),
    rotateSecretArn,
    rotateFleetPageArn,
    runId: runIdOf(req.executionName),
  };
  const now = Date.parse(options.now);
  let selected = 0;
  let overdue = 0;
  let token: string | undefined;
  do {
    const page = await listPage(deps, options, token);
    for (const s of page.SecretList ?? []) {
      if (skipReason(s, options) === undefined) selected++;
      if (!s.OwningService && now - dueSince(s, options.maxAgeDays) > options.overdueAfterHours * 3_600_000)
        overdue++;
    }
    token = page.NextToken;
  } while (token);
  deps.logger.info('PlanFleetRotation', {
    selected,
    overdue,
    runId: options.runId,
    writeBudget: options.writeBudget,
  });
  deps.metrics?.put('FleetSecretsSelected', selected, {});
  deps.metrics?.put('SecretsOverdue', overdue, {});
  return {
    options,
    cursor: { phase: 'select', exhausted: false },
    pages: 0,
    pagesInExecution: 0,
    executions: 1,
    pacing: initialPacing(options.writeBudget, options.maxConcurrency, started),
    totals: freshTotals(selected, started),
    retry: [],
    failures: [],
  };
}

/**
 * The key two secrets share when they belong to one database user: the bound user (tag) on its
 * database, or else what AWSCURRENT names, so `app` and `app_clone` kept apart fall together.
 */
async function groupOf(deps: Deps, s: SecretListEntry): Promise<string> {
  const tag = (k: string) => s.Tags?.find((t) => t.Key === k)?.Value;
  const bound = tag(USER_TAG);
  if (bound) return `${tag(DB_TAG) ?? ''}/${bound}`;
  const arn = s.ARN as string;
  try {
    const v = parseDbSecret(await readVersion(deps.secrets, arn, { VersionStage: 'AWSCURRENT' }));
    const suffix = cloneOf('');
    const base = v.username.endsWith(suffix) ? v.username.slice(0, -suffix.length) : v.username;
    return `${v.host}:${v.port ?? ''}/${base}`;
  } catch (err) {
    // An unreadable secret rotates alone; rotate-secret reports the real problem.
    deps.logger.warn('SelectFleetPage: cannot read the secret to group it', {
      secretArn: arn,
      error: (err as Error).name,
    });
    return arn;
  }
}

/**
 * Groups (one database user each) in a stable order, and start times dealt round-robin over
 * them, so consecutive slots go to different users and a group's second secret comes later.
 */
function plan(state: FleetState, items: FleetItem[], retryPass: boolean, nowMs: number): FleetState {
  const groups = new Map<string, FleetItem[]>();
  for (const it of items) groups.set(it.group, [...(groups.get(it.group) ?? []), it]);
  const ordered = [...groups.values()].map((g) => g.sort((a, b) => a.secretId.localeCompare(b.secretId)));
  ordered.sort((a, b) => (a[0]?.secretId ?? '').localeCompare(b[0]?.secretId ?? ''));
  const { slots, pacing } = planSlots(state.pacing, items.length, nowMs);
  const out = ordered.map((g) => g.map((it) => ({ secretId: it.secretId, startAt: '', group: it.group })));
  let k = 0;
  for (let depth = 0; k < items.length; depth++)
    for (const g of out) {
      const it = g[depth];
      if (it) it.startAt = new Date(slots[k++] as number).toISOString();
    }
  const page = state.pages + 1;
  return {
    ...state,
    pacing,
    pages: page,
    current: {
      name: pageExecutionName(state.options.runId, page, retryPass),
      count: items.length,
      concurrency: pacing.concurrency,
      retryPass,
      items: out,
    },
  };
}

/** What SelectFleetPage hands on when there is nothing to rotate this time (HasPageItems reads `count`). */
const NO_PAGE: PagePlan = { name: '', count: 0, concurrency: 1, retryPass: false, items: [] };

/** After a page or an empty scan: on to the retry pass, or done, once ListSecrets has no more. */
export function advancePhase(state: FleetState): FleetState['cursor'] {
  const c = state.cursor;
  if (c.phase === 'select' && !c.exhausted) return c;
  if (c.phase === 'done') return c;
  return { ...c, phase: state.retry.length > 0 ? 'retry' : 'done' };
}

const fleetStateSchema = z.custom<FleetState>(
  (v) =>
    typeof v === 'object' && v !== null && 'options' in v && 'cursor' in v && 'pacing' in v && 'totals' in v,
  'not a rotate-fleet state',
);

/** Parses a fleet state handed from state to state (a ValidationError if it is not one). */
export const parseFleetState = parser(fleetStateSchema, 'invalid rotate-fleet state');

/**
 * SelectFleetPage: the next page of due secrets (scanning up to MAX_LIST_CALLS ListSecrets
 * pages for `pageSize` of them), or in the retry pass the next secrets that failed, grouped by
 * database user and given start times at the fleet's current rate.
 */
export async function selectFleetPage(deps: Deps, input: FleetState): Promise<FleetState> {
  let state: FleetState = { ...input, current: NO_PAGE, pagesInExecution: input.pagesInExecution + 1 };
  if (state.pagesInExecution >= state.options.pagesPerExecution)
    state.continuation = continuationName(state.options.runId, state.executions + 1);
  const o = state.options;
  if (state.cursor.phase === 'retry') {
    const items = state.retry.slice(0, o.pageSize);
    state = { ...state, retry: state.retry.slice(items.length) };
    return plan(state, items, true, Date.now());
  }
  if (state.cursor.phase === 'done') return state;
  const items: FleetItem[] = [];
  let token = state.cursor.nextToken;
  let skipped = 0;
  const byReason: Record<string, number> = { ...(state.totals.skippedByReason ?? {}) };
  let exhausted = false;
  for (let calls = 0; calls < MAX_LIST_CALLS && items.length < o.pageSize; calls++) {
    // Asking for no more than the page still needs keeps a page within pageSize.
    const page = await listPage(deps, o, token, Math.min(100, o.pageSize - items.length));
    const entries = page.SecretList ?? [];
    for (const s of entries) {
      const why = skipReason(s, o);
      if (why !== undefined) {
        skipped++;
        byReason[why] = (byReason[why] ?? 0) + 1;
      } else items.push({ secretId: s.ARN as string, group: await groupOf(deps, s) });
    }
    token = page.NextToken;
    if (!token) {
      exhausted = true;
      break;
    }
  }
  state = {
    ...state,
    cursor: { phase: 'select', nextToken: token, exhausted },
    totals: { ...state.totals, skipped: state.totals.skipped + skipped, skippedByReason: byReason },
  };
  if (items.length === 0) return { ...state, cursor: advancePhase(state) };
  return plan(state, items, false, Date.now());
}
