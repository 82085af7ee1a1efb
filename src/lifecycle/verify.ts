import { TagResourceCommand, UntagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { aws } from '../aws/errors';
import type { Deps } from '../deps';
import { engineFor as defaultEngineFor } from '../engines';
import { isSystemAccount } from '../engines/common';
import { CredflowError, TransientError } from '../errors';
import { boundUser } from '../rotation/boundary';
import { credentialsOf, type MasterLogin, resolveMaster, useMaster } from '../rotation/master';
import { logsIn } from '../rotation/steps';
import { type Check, type CheckName, resolveStrategy, type VerifyContext } from '../rotation/strategies';
import { STRATEGIES, type StrategyName } from '../rotation/types';
import { describeState, readVersion } from '../rotation/versions';
import { type DbSecret, parseDbSecret } from '../secret';
import { parser } from '../validate';
import { DRIFT_CHECKS, DRIFT_TAG, formatDrift, nextDrift, parseDrift } from './drift';
import { GRANTS_TAG, MANAGED_TAG } from './users';

export type { Check } from '../rotation/strategies';

export interface VerifyReport {
  secretArn: string;
  strategy: StrategyName;
  username: string;
  /** Every check passed. */
  ok: boolean;
  /** A check found the database different from what credflow set up (grants, users). */
  drift: boolean;
  /**
   * The drift recorded on the secret after this verify (its `credflow:drift` tag), when any
   * remains: what differs and since when.
   */
  drifted?: { kinds: string[]; since: string };
  checks: Check[];
  /** One id for every event of this rotation (the rotation token when there is one). */
  correlationId: string;
}

const verifyInput = z.object({
  secretId: z.string().min(1).max(2048),
  strategy: z.enum(STRATEGIES).optional(),
  correlationId: z.string().min(1).max(128).optional(),
});

/** Checks that mean "the database is not what credflow set up". */
const DRIFT = Object.keys(DRIFT_CHECKS) as readonly CheckName[];

/** Parses verifyCredentials's input (a ValidationError naming each bad field). */
export const parseVerifyCredentialsInput = parser(verifyInput, 'invalid verify-credentials input');

/**
 * VerifyCredentials: after a rotation (or any time), checks what the strategy promises:
 * AWSCURRENT logs in and names the user the secret is bound to, then the strategy's own checks
 * (single-user: AWSPREVIOUS refused; alternating: both users hold equal grants; admin-single: no
 * clone) and the grants fingerprint taken at creation. Reports rather than throws, so the
 * workflow decides what a failed check means.
 */
export async function verifyCredentials(
  deps: Deps,
  input: z.infer<typeof verifyInput>,
): Promise<VerifyReport> {
  const state = await describeState(deps.secrets, input.secretId);
  const current = parseDbSecret(
    await readVersion(deps.secrets, state.arn, { VersionId: state.currentVersionId }),
    `AWSCURRENT of ${state.arn}`,
  );
  const strategy = resolveStrategy(input, state.tags, current.masterarn !== undefined);
  const engine = (deps.engineFor ?? defaultEngineFor)(current.engine);
  const checks: Check[] = [];
  const add = (check: CheckName, ok: boolean, detail: string) => checks.push({ check, ok, detail });

  const currentOk = await logsIn(engine, credentialsOf(current));
  add(
    'current-logs-in',
    currentOk,
    currentOk ? `${current.username} logs in` : `${current.username} is refused`,
  );

  // The boundary first: the master looks at no user the secret is not bound to.
  let bound: string | undefined;
  try {
    bound = boundUser(strategy, state.tags, current, state.arn);
  } catch (err) {
    if (!(err instanceof CredflowError)) throw err;
  }
  const owned =
    bound !== undefined &&
    !isSystemAccount(current.username) &&
    strategy.ownedUsers(bound).includes(current.username);
  add(
    'user-bound',
    owned,
    owned
      ? `${current.username} is a user of this secret`
      : `${current.username} is not a user this secret is bound to`,
  );

  if (owned && bound !== undefined) {
    let master: MasterLogin | null | undefined = null;
    const theMaster = async () => {
      if (master === null)
        master = current.masterarn ? await masterLogin(deps, current.masterarn, state.arn) : undefined;
      return master;
    };
    const ctx: VerifyContext = {
      engine,
      bound,
      current,
      previous: () => previousOf(deps, state, current),
      recordedGrants: state.tags[GRANTS_TAG],
      logsIn: (creds) => logsIn(engine, creds),
      add,
      async inspect(names) {
        const m = await theMaster();
        if (!m) return undefined;
        // Only the user's own database: what credflow granted is there, and the master need
        // enter no other.
        return useMaster(m, ({ creds }) => engine.inspectUsers(creds, names, { database: current.dbname }));
      },
    };
    await strategy.verify(ctx);
    const elsewhere = engine.accountsElsewhere?.bind(engine);
    if (elsewhere) {
      const m = await theMaster();
      if (m) {
        const users = strategy.ownedUsers(bound);
        const found = await useMaster(m, ({ creds }) => elsewhere(creds, users));
        const others = users.flatMap((u) => (found[u] ?? []).map((h) => `${u}@${h}`));
        add(
          'no-other-accounts',
          others.length === 0,
          others.length === 0
            ? `no other account is named ${users.join(' or ')}`
            : `other accounts share the user's name and keep their own passwords through a rotation: ${others.join(', ')}`,
        );
      }
    }
  }

  const failed = checks.filter((c) => !c.ok);
  const report: VerifyReport = {
    secretArn: state.arn,
    strategy: strategy.name,
    username: current.username,
    ok: failed.length === 0,
    drift: failed.some((c) => DRIFT.includes(c.check)),
    checks,
    correlationId: input.correlationId ?? state.currentVersionId,
  };
  const drifted = await recordDrift(deps, state, checks);
  if (drifted) report.drifted = drifted;
  const dims = { engine: current.engine, strategy: strategy.name };
  if (!report.ok) deps.metrics?.put('VerificationFailed', 1, dims);
  if (report.drift) deps.metrics?.put('DriftDetected', 1, dims);
  deps.logger.info('VerifyCredentials: done', {
    secretArn: state.arn,
    ok: report.ok,
    failed: failed.map((c) => c.check),
  });
  return report;
}

/**
 * Writes what verify found to the secret's drift tag (only on credflow's managed secrets: the
 * status view lists no other), and only when it changes, so a verify that finds what the last one
 * found makes no write. A throttled write is retried with the task; any other failure to record
 * is logged and leaves the report as it is: bookkeeping never fails a verify.
 */
async function recordDrift(
  deps: Deps,
  state: { arn: string; tags: Record<string, string> },
  checks: readonly Check[],
): Promise<VerifyReport['drifted']> {
  const old = state.tags[DRIFT_TAG];
  const next = nextDrift(parseDrift(old), checks, new Date());
  if (state.tags[MANAGED_TAG] !== 'true') return undefined;
  const value = next ? formatDrift(next) : undefined;
  if (value === old) return next;
  try {
    await aws(`${value ? 'TagResource' : 'UntagResource'} ${state.arn}`, () =>
      value
        ? deps.secrets.send(
            new TagResourceCommand({ SecretId: state.arn, Tags: [{ Key: DRIFT_TAG, Value: value }] }),
          )
        : deps.secrets.send(new UntagResourceCommand({ SecretId: state.arn, TagKeys: [DRIFT_TAG] })),
    );
  } catch (err) {
    if (err instanceof TransientError || !(err instanceof Error)) throw err;
    deps.logger.warn('VerifyCredentials: drift not recorded on the secret', {
      secretArn: state.arn,
      error: err.name,
    });
  }
  return next;
}

async function previousOf(
  deps: Deps,
  state: { arn: string; previousVersionId: string | undefined; currentVersionId: string },
  current: DbSecret,
): Promise<DbSecret | undefined> {
  if (!state.previousVersionId || state.previousVersionId === state.currentVersionId) return undefined;
  const raw = await readVersion(deps.secrets, state.arn, { VersionId: state.previousVersionId });
  if (raw === undefined) return undefined;
  const prev = parseDbSecret(raw, `AWSPREVIOUS of ${state.arn}`);
  return prev.host === current.host ? prev : undefined;
}

/** The master login, or undefined (logged) when the master secret is unusable. */
async function masterLogin(
  deps: Deps,
  masterArn: string,
  secretArn: string,
): Promise<MasterLogin | undefined> {
  try {
    return await resolveMaster(deps, masterArn);
  } catch (err) {
    if (!(err instanceof CredflowError)) throw err;
    deps.logger.warn('VerifyCredentials: master secret unusable; master-side checks skipped', {
      secretArn,
      error: err.name,
    });
    return undefined;
  }
}
