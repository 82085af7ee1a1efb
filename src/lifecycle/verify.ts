import { z } from 'zod';
import { engineFor as defaultEngineFor } from '../engines';
import { CredflowError, RotationStateError } from '../errors';
import { credentialsOf, type MasterLogin, resolveMaster, useMaster } from '../rotation/master';
import { alternateUsername, logsIn } from '../rotation/steps';
import { STRATEGIES, type Strategy } from '../rotation/types';
import { describeState, readVersion, resolveStrategy } from '../rotation/versions';
import { parseDbSecret } from '../secret';
import { parseWith } from '../validate';
import type { LifecycleDeps } from './database';
import { GRANTS_TAG, grantsFingerprint } from './users';

export interface Check {
  check: 'current-logs-in' | 'previous-rejected' | 'clone-grants-equal' | 'no-clone' | 'grants-unchanged';
  ok: boolean;
  detail: string;
}

export interface VerifyReport {
  secretArn: string;
  strategy: Strategy;
  username: string;
  /** Every check passed. */
  ok: boolean;
  /** A check found the database different from what credflow set up (grants, users). */
  drift: boolean;
  checks: Check[];
  /** One id for every event of this rotation (the rotation token when there is one). */
  correlationId: string;
}

const verifyInput = z.object({
  secretId: z.string().min(1).max(2048),
  strategy: z.enum(STRATEGIES).optional(),
  correlationId: z.string().min(1).max(128).optional(),
});

/**
 * VerifyCredentials: after a rotation (or any time), checks what the strategy promises.
 * AWSCURRENT logs in; single-user: the AWSPREVIOUS password no longer does; alternating: the
 * two users hold equal grants; admin-single: no `<user>_clone` exists; and the user's grants
 * still match the fingerprint taken when credflow created it. Reports rather than throws, so
 * the workflow decides what a failed check means.
 */
export async function verifyCredentials(deps: LifecycleDeps, event: unknown): Promise<VerifyReport> {
  const input = parseWith(verifyInput, event, 'invalid verify-credentials input');
  const state = await describeState(deps.secrets, input.secretId);
  const current = parseDbSecret(
    await readVersion(deps.secrets, state.arn, { VersionId: state.currentVersionId }),
    `AWSCURRENT of ${state.arn}`,
  );
  const strategy = resolveStrategy(
    { secretId: state.arn, token: state.currentVersionId, strategy: input.strategy },
    state.tags,
    current.masterarn !== undefined,
  );
  const engine = (deps.engineFor ?? defaultEngineFor)(current.engine);
  const checks: Check[] = [];
  const add = (check: Check['check'], ok: boolean, detail: string) => checks.push({ check, ok, detail });

  const currentOk = await logsIn(engine, credentialsOf(current));
  add(
    'current-logs-in',
    currentOk,
    currentOk ? `${current.username} logs in` : `${current.username} is refused`,
  );

  if (
    strategy === 'single-user' &&
    state.previousVersionId &&
    state.previousVersionId !== state.currentVersionId
  ) {
    const raw = await readVersion(deps.secrets, state.arn, { VersionId: state.previousVersionId });
    if (raw !== undefined) {
      const prev = parseDbSecret(raw, `AWSPREVIOUS of ${state.arn}`);
      if (prev.username === current.username && prev.password !== current.password) {
        const stillWorks = await logsIn(engine, credentialsOf(prev));
        add(
          'previous-rejected',
          !stillWorks,
          stillWorks ? 'the AWSPREVIOUS password still logs in' : 'the AWSPREVIOUS password is refused',
        );
      }
    }
  }

  const baseUser = current.username.endsWith('_clone')
    ? alternateUsername(current.username)
    : current.username;
  const other = alternateUsername(current.username);
  const recorded = state.tags[GRANTS_TAG];
  // What the master must look at: grants where they are compared; admin-single's clone at least
  // for existence (from the same pass when grants are read anyway).
  const grantsOf =
    strategy === 'alternating-users'
      ? [current.username, other]
      : recorded
        ? strategy === 'admin-single-user'
          ? [baseUser, other]
          : [baseUser]
        : [];
  const master =
    current.masterarn && (grantsOf.length > 0 || strategy === 'admin-single-user')
      ? await masterLogin(deps, current.masterarn, state.arn)
      : undefined;
  if (master) {
    const { users, cloneExists } = await useMaster(master, async ({ creds: admin }) => {
      const users = grantsOf.length > 0 ? await engine.inspectUsers(admin, grantsOf) : {};
      const seen = users[other];
      const cloneExists =
        strategy === 'admin-single-user' &&
        (seen === undefined ? await engine.userExists(admin, other) : seen !== null);
      return { users, cloneExists };
    });
    if (strategy === 'alternating-users') {
      const a = users[current.username];
      const b = users[other];
      if (a && b) {
        const equal = a.join('\n') === b.join('\n');
        add(
          'clone-grants-equal',
          equal,
          equal
            ? `${current.username} and ${other} hold the same grants`
            : `${current.username} and ${other} hold different grants`,
        );
      }
    }
    if (strategy === 'admin-single-user') {
      add('no-clone', !cloneExists, cloneExists ? `${other} exists` : `no ${other}`);
    }
    const baseGrants = users[baseUser];
    if (recorded && baseGrants) {
      const now = grantsFingerprint(baseGrants);
      add(
        'grants-unchanged',
        now === recorded,
        now === recorded ? 'grants as created' : `grants of ${baseUser} changed since creation`,
      );
    }
  }
  const failed = checks.filter((c) => !c.ok);
  const report: VerifyReport = {
    secretArn: state.arn,
    strategy,
    username: current.username,
    ok: failed.length === 0,
    drift: failed.some(
      (c) => c.check === 'clone-grants-equal' || c.check === 'grants-unchanged' || c.check === 'no-clone',
    ),
    checks,
    correlationId: input.correlationId ?? state.currentVersionId,
  };
  deps.logger.info('VerifyCredentials: done', {
    secretArn: state.arn,
    ok: report.ok,
    failed: failed.map((c) => c.check),
  });
  return report;
}

/** The master login, or undefined (logged) when the master secret is unusable. */
async function masterLogin(
  deps: LifecycleDeps,
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

/** Throws when a report has a failed check; for callers that want verify as a gate. */
export function assertVerified(report: VerifyReport): void {
  if (!report.ok) {
    const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.check}: ${c.detail}`);
    throw new RotationStateError(`verification of ${report.secretArn} failed: ${failed.join('; ')}`);
  }
}
