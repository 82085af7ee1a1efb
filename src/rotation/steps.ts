import {
  GetRandomPasswordCommand,
  PutSecretValueCommand,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { throttledSoFar } from '../aws/call-stats';
import { aws } from '../aws/errors';
import type { Deps } from '../deps';
import { engineFor as defaultEngineFor } from '../engines';
import type { Credentials, DatabaseEngine } from '../engines/types';
import { AuthenticationError, RotationInProgressError, RotationStateError, ValidationError } from '../errors';
import { type DbSecret, parseDbSecret, serialiseSecret } from '../secret';
import {
  assertMasterApart,
  assertOwned,
  assertSameTarget,
  boundUser,
  connectionLimitOf,
  targetDifferences,
} from './boundary';
import { credentialsOf, type MasterLogin, useMaster, withMaster } from './master';
import { namedStrategy, type RotationStrategy, resolveStrategy, type SetContext } from './strategies';
import { LAST_ROTATED_TAG, STATUS_TAG, type StepInput, type StepName, type StepResult } from './types';
import { checkToken, describeState, readVersion, readVersionWithDate, type SecretState } from './versions';

interface Loaded {
  state: SecretState;
  strategy: RotationStrategy;
  /** The user the secret is bound to. */
  bound: string;
  current: DbSecret;
  engine: DatabaseEngine;
}

/**
 * Everything a step reads before acting; also applies the version check and the privilege
 * boundary on AWSCURRENT.
 */
async function load(deps: Deps, input: StepInput, step: StepName): Promise<Loaded | StepResult> {
  const state = await describeState(deps.secrets, input.secretId);
  const currentRaw = await readVersion(deps.secrets, state.arn, { VersionId: state.currentVersionId });
  const current = parseDbSecret(currentRaw, `AWSCURRENT of ${state.arn}`);
  const strategy = resolveStrategy(input, state.tags, current.masterarn !== undefined);
  if (checkToken(state, step, input.token) === 'current') {
    deps.logger.info('version is already AWSCURRENT: nothing to do', {
      step,
      secretArn: state.arn,
      token: input.token,
    });
    return {
      step,
      secretArn: state.arn,
      token: input.token,
      strategy: strategy.name,
      outcome: 'already-current',
      throttled: throttledSoFar(),
    };
  }
  const bound = boundUser(strategy, state.tags, current, state.arn);
  assertOwned(strategy, bound, current.username, `AWSCURRENT of ${state.arn}`);
  const engine = (deps.engineFor ?? defaultEngineFor)(current.engine);
  return { state, strategy, bound, current, engine };
}

function done(
  step: StepName,
  l: Loaded,
  token: string,
  outcome: StepResult['outcome'],
  username?: string,
): StepResult {
  return {
    step,
    secretArn: l.state.arn,
    token,
    strategy: l.strategy.name,
    outcome,
    ...(username ? { username } : {}),
    throttled: throttledSoFar(),
  };
}

/** Parses a pending value and checks it against the boundary like AWSCURRENT. */
function pendingOf(l: Loaded, raw: string): DbSecret {
  const pending = parseDbSecret(raw, `AWSPENDING of ${l.state.arn}`);
  assertOwned(l.strategy, l.bound, pending.username, `AWSPENDING of ${l.state.arn}`);
  return pending;
}

/** The token's AWSPENDING value (see pendingOf). */
async function readPending(deps: Deps, l: Loaded, token: string): Promise<DbSecret> {
  const raw = await readVersion(deps.secrets, l.state.arn, { VersionId: token, VersionStage: 'AWSPENDING' });
  if (raw === undefined)
    throw new RotationStateError(`version ${token} of ${l.state.arn} holds no pending value yet`);
  return pendingOf(l, raw);
}

/** True when the credentials log in; false only when the database refuses them. */
export async function logsIn(engine: DatabaseEngine, creds: Credentials): Promise<boolean> {
  try {
    await engine.testLogin(creds);
    return true;
  } catch (err) {
    if (err instanceof AuthenticationError) return false;
    throw err;
  }
}

function requireMasterArn(l: Loaded): string {
  if (!l.current.masterarn) {
    throw new ValidationError(
      `${l.strategy.name} rotation of ${l.state.arn} needs a masterarn key naming the master secret`,
    );
  }
  return l.current.masterarn;
}

/**
 * The master must be for the user's engine family, point at the user's database, and not be
 * one of the users this secret changes.
 */
function checkMaster(deps: Deps, l: Loaded, master: MasterLogin): void {
  const family = (deps.engineFor ?? defaultEngineFor)(master.engine).family;
  if (family !== l.engine.family) {
    throw new ValidationError(
      `master secret ${master.arn} is for ${master.engine}, the user secret for ${l.current.engine}`,
    );
  }
  const userPort = credentialsOf(l.current).port;
  if (master.creds.host !== l.current.host || master.creds.port !== userPort) {
    throw new ValidationError(
      `master secret ${master.arn} points at ${master.creds.host}:${master.creds.port}, the user secret at ${l.current.host}:${userPort}`,
    );
  }
  assertMasterApart(l.strategy, l.bound, master.creds.username, master.arn);
}

/**
 * createSecret: unless the token already holds a pending value, copy AWSCURRENT with a new
 * password (and the strategy's username for the next version) into the token's version, staged
 * AWSPENDING.
 */
export async function createSecret(deps: Deps, input: StepInput): Promise<StepResult> {
  const l = await load(deps, input, 'createSecret');
  if (!('state' in l)) return l;
  // Only a version already staged AWSPENDING can hold the value (one GetSecretValue less otherwise).
  if (l.state.versions[input.token]?.includes('AWSPENDING') === true) {
    const raw = await readVersion(deps.secrets, l.state.arn, {
      VersionId: input.token,
      VersionStage: 'AWSPENDING',
    });
    if (raw !== undefined) {
      return done('createSecret', l, input.token, 'already-done', pendingOf(l, raw).username);
    }
  }
  for (const u of l.strategy.ownedUsers(l.bound)) l.engine.validateUsername(u);
  const username = l.strategy.pendingUsername(l.current, l.bound);
  if (l.strategy.needsMaster) requireMasterArn(l);

  const pw = await aws('GetRandomPassword', () =>
    deps.secrets.send(
      new GetRandomPasswordCommand({
        PasswordLength: deps.passwordLength ?? 32,
        ExcludeCharacters: l.engine.excludeCharacters + (deps.excludeCharacters ?? ''),
        RequireEachIncludedType: true,
      }),
    ),
  );
  if (!pw.RandomPassword) throw new RotationStateError('GetRandomPassword returned no password');
  const pending = { ...l.current, username, password: pw.RandomPassword };
  // Look again right before writing: a rotation that started since we loaded must win cleanly.
  checkToken(await describeState(deps.secrets, l.state.arn), 'createSecret', input.token);
  await aws(`PutSecretValue ${l.state.arn}`, () =>
    deps.secrets.send(
      new PutSecretValueCommand({
        SecretId: l.state.arn,
        ClientRequestToken: input.token,
        SecretString: serialiseSecret(pending),
        VersionStages: ['AWSPENDING'],
      }),
    ),
  );
  // Two starts can race on a secret with no placeholder: the label lands on one version only,
  // and the loser must stop here rather than change the database.
  const after = await describeState(deps.secrets, l.state.arn);
  if (after.pendingVersionId !== input.token) {
    throw new RotationInProgressError(
      `A previous rotation isn't complete: another rotation of ${l.state.arn} holds AWSPENDING`,
    );
  }
  deps.logger.info('createSecret: pending version stored', {
    secretArn: l.state.arn,
    token: input.token,
    strategy: l.strategy.name,
    username,
  });
  return done('createSecret', l, input.token, 'applied', username);
}

/**
 * setSecret: make the database accept the pending password. Done already when the pending
 * credentials log in; otherwise the strategy does it (the user itself, or the master). For a
 * strategy that uses the master, the master is resolved and checked before any SQL.
 */
export async function setSecret(deps: Deps, input: StepInput): Promise<StepResult> {
  const l = await load(deps, input, 'setSecret');
  if (!('state' in l)) return l;
  const pending = await readPending(deps, l, input.token);
  assertSameTarget(l.current, pending, `AWSPENDING of ${l.state.arn}`);
  const logCtx = {
    secretArn: l.state.arn,
    token: input.token,
    strategy: l.strategy.name,
    username: pending.username,
  };
  // Resolved (Secrets Manager and RDS calls only) and checked before the first login below.
  const master = l.strategy.needsMaster
    ? await withMaster(deps, requireMasterArn(l), async (m) => {
        checkMaster(deps, l, m);
        return m;
      })
    : undefined;

  if (await logsIn(l.engine, credentialsOf(pending))) {
    deps.logger.info('setSecret: pending credentials already log in', logCtx);
    return done('setSecret', l, input.token, 'already-done', pending.username);
  }
  const ctx: SetContext = {
    secretArn: l.state.arn,
    engine: l.engine,
    bound: l.bound,
    current: l.current,
    pending,
    connectionLimit: connectionLimitOf(l.state.tags),
    previous: () => previousOf(deps, l, pending),
    withMaster: (fn) => {
      if (!master) throw new ValidationError(`${l.strategy.name} does not use the master`);
      return useMaster(master, fn);
    },
  };
  const what = await l.strategy.setPassword(ctx);
  deps.logger.info(`setSecret: ${what}`, logCtx);
  return done('setSecret', l, input.token, 'applied', pending.username);
}

/**
 * AWSPREVIOUS, when it is another version that names the same user on the same engine, host,
 * port and database: its password is sent only where the pending one goes (a login elsewhere
 * would hand the new password to whatever listens there).
 */
async function previousOf(deps: Deps, l: Loaded, pending: DbSecret): Promise<DbSecret | undefined> {
  const id = l.state.previousVersionId;
  if (!id || id === l.state.currentVersionId) return undefined;
  const raw = await readVersion(deps.secrets, l.state.arn, { VersionId: id });
  if (raw === undefined) return undefined;
  const prev = parseDbSecret(raw, `AWSPREVIOUS of ${l.state.arn}`);
  return prev.username === pending.username && targetDifferences(prev, pending).length === 0
    ? prev
    : undefined;
}

/**
 * testSecret: the pending credentials log in and run a query. It changes nothing and uses no
 * other credentials, so it reads only the labels and the pending value (AWSCURRENT is not
 * needed: the pending value, a copy of it with the new password, names the same strategy and
 * user); the boundary still applies to the user it logs in as.
 */
export async function testSecret(deps: Deps, input: StepInput): Promise<StepResult> {
  const state = await describeState(deps.secrets, input.secretId);
  const raw =
    checkToken(state, 'testSecret', input.token) === 'current'
      ? undefined
      : await readVersion(deps.secrets, state.arn, { VersionId: input.token, VersionStage: 'AWSPENDING' });
  const what = `AWSPENDING of ${state.arn}`;
  const pending = raw === undefined ? undefined : parseDbSecret(raw, what);
  const strategy =
    namedStrategy(input, state.tags) ??
    resolveStrategy(input, state.tags, pending !== undefined && pending.masterarn !== undefined);
  const base = {
    step: 'testSecret' as const,
    secretArn: state.arn,
    token: input.token,
    strategy: strategy.name,
  };
  if (!pending) {
    if (state.versions[input.token]?.includes('AWSCURRENT')) {
      deps.logger.info('version is already AWSCURRENT: nothing to do', base);
      return { ...base, outcome: 'already-current', throttled: throttledSoFar() };
    }
    throw new RotationStateError(`version ${input.token} of ${state.arn} holds no pending value yet`);
  }
  assertOwned(strategy, boundUser(strategy, state.tags, pending, state.arn), pending.username, what);
  const engine = (deps.engineFor ?? defaultEngineFor)(pending.engine);
  await engine.testLogin(credentialsOf(pending));
  deps.logger.info('testSecret: pending credentials log in', {
    secretArn: state.arn,
    token: input.token,
    username: pending.username,
  });
  return { ...base, outcome: 'applied', username: pending.username, throttled: throttledSoFar() };
}

/**
 * finishSecret: move AWSCURRENT to the token (the old current becomes AWSPREVIOUS), then take
 * AWSPENDING off it, as Secrets Manager does after a native rotation. A rerun after either
 * call completes the other. The version promoted must name a user the secret is bound to, on
 * AWSCURRENT's engine, host, port and database.
 */
export async function finishSecret(deps: Deps, input: StepInput): Promise<StepResult> {
  const state = await describeState(deps.secrets, input.secretId);
  const stages = state.versions[input.token];
  let outcome: StepResult['outcome'] = 'applied';
  if (stages?.includes('AWSCURRENT')) outcome = 'already-current';
  else checkToken(state, 'finishSecret', input.token);

  let strategy = namedStrategy(input, state.tags);
  let rotated: { engine: string; pendingSince: Date | undefined } | undefined;
  if (outcome === 'applied') {
    const read = await readVersionWithDate(deps.secrets, state.arn, { VersionId: input.token });
    if (read?.value === undefined)
      throw new RotationStateError(`version ${input.token} of ${state.arn} holds no value`);
    const next = parseDbSecret(read.value, `AWSPENDING of ${state.arn}`);
    rotated = { engine: next.engine, pendingSince: read.createdDate };
    strategy ??= resolveStrategy(input, state.tags, next.masterarn !== undefined);
    assertOwned(
      strategy,
      boundUser(strategy, state.tags, next, state.arn),
      next.username,
      `AWSPENDING of ${state.arn}`,
    );
    // Promoting a version that points elsewhere would send applications to that server.
    const currentRaw = await readVersion(deps.secrets, state.arn, { VersionId: state.currentVersionId });
    assertSameTarget(
      parseDbSecret(currentRaw, `AWSCURRENT of ${state.arn}`),
      next,
      `AWSPENDING of ${state.arn}`,
    );
    await aws(`UpdateSecretVersionStage ${state.arn}`, () =>
      deps.secrets.send(
        new UpdateSecretVersionStageCommand({
          SecretId: state.arn,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: input.token,
          RemoveFromVersionId: state.currentVersionId,
        }),
      ),
    );
  }
  if (stages?.includes('AWSPENDING')) {
    await aws(`UpdateSecretVersionStage ${state.arn}`, () =>
      deps.secrets.send(
        new UpdateSecretVersionStageCommand({
          SecretId: state.arn,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: input.token,
        }),
      ),
    );
  }
  if (outcome === 'applied') {
    // Secrets Manager sets LastRotatedDate only for its own rotations; record ours for the
    // fleet's due dates and `credflow secrets`.
    await aws(`TagResource ${state.arn}`, () =>
      deps.secrets.send(
        new TagResourceCommand({
          SecretId: state.arn,
          Tags: [
            { Key: LAST_ROTATED_TAG, Value: new Date().toISOString() },
            { Key: STATUS_TAG, Value: 'ok' },
          ],
        }),
      ),
    );
  }
  deps.logger.info('finishSecret: version is AWSCURRENT', {
    secretArn: state.arn,
    token: input.token,
    outcome,
  });
  // Already current: the value is read only when neither the input nor the tag names the strategy.
  strategy ??= resolveStrategy(input, state.tags, await hasMasterArn(deps, state.arn, input.token));
  if (rotated) recordRotation(deps, rotated.engine, strategy.name, rotated.pendingSince);
  return {
    step: 'finishSecret',
    secretArn: state.arn,
    token: input.token,
    strategy: strategy.name,
    outcome,
    throttled: throttledSoFar(),
  };
}

/** RotationSucceeded and, when the pending version's creation time is known, RotationDuration. */
function recordRotation(deps: Deps, engine: string, strategy: string, pendingSince: Date | undefined): void {
  if (!deps.metrics) return;
  const dims = { engine, strategy };
  deps.metrics.put('RotationSucceeded', 1, dims);
  if (pendingSince)
    deps.metrics.put('RotationDuration', Math.max(0, Date.now() - pendingSince.getTime()), dims);
}

/** Whether the token's value names a master secret (finishSecret needs no more of it). */
async function hasMasterArn(deps: Deps, arn: string, token: string): Promise<boolean> {
  const raw = await readVersion(deps.secrets, arn, { VersionId: token });
  try {
    return raw !== undefined && parseDbSecret(raw).masterarn !== undefined;
  } catch {
    return false;
  }
}

export const steps = { createSecret, setSecret, testSecret, finishSecret } as const;
