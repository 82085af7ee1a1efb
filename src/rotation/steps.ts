import {
  GetRandomPasswordCommand,
  PutSecretValueCommand,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { engineFor as defaultEngineFor } from '../engines';
import type { Credentials, DatabaseEngine } from '../engines/types';
import { AuthenticationError, RotationInProgressError, RotationStateError, ValidationError } from '../errors';
import { type DbSecret, parseDbSecret, serialiseSecret } from '../secret';
import { credentialsOf, type MasterLogin, withMaster } from './master';
import {
  LAST_ROTATED_TAG,
  type RotationDeps,
  type StepInput,
  type StepName,
  type StepResult,
  type Strategy,
} from './types';
import {
  aws,
  checkToken,
  describeState,
  namedStrategy,
  readVersion,
  resolveStrategy,
  type SecretState,
} from './versions';

const CLONE_SUFFIX = '_clone';

/** user <-> user_clone, the alternating strategy's flip (AWS's multi-user template). */
export function alternateUsername(username: string): string {
  return username.endsWith(CLONE_SUFFIX) ? username.slice(0, -CLONE_SUFFIX.length) : username + CLONE_SUFFIX;
}

interface Loaded {
  state: SecretState;
  strategy: Strategy;
  current: DbSecret;
  engine: DatabaseEngine;
}

/** Everything a step reads before acting; also applies the version check. */
async function load(deps: RotationDeps, input: StepInput, step: StepName): Promise<Loaded | StepResult> {
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
    return { step, secretArn: state.arn, token: input.token, strategy, outcome: 'already-current' };
  }
  const engine = (deps.engineFor ?? defaultEngineFor)(current.engine);
  return { state, strategy, current, engine };
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
    strategy: l.strategy,
    outcome,
    ...(username ? { username } : {}),
  };
}

async function readPending(deps: RotationDeps, l: Loaded, token: string): Promise<DbSecret> {
  const raw = await readVersion(deps.secrets, l.state.arn, { VersionId: token, VersionStage: 'AWSPENDING' });
  if (raw === undefined)
    throw new RotationStateError(`version ${token} of ${l.state.arn} holds no pending value yet`);
  return parseDbSecret(raw, `AWSPENDING of ${l.state.arn}`);
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
      `${l.strategy} rotation of ${l.state.arn} needs a masterarn key naming the master secret`,
    );
  }
  return l.current.masterarn;
}

/** The master must be for the user's engine family and point at the user's database. */
function checkMaster(deps: RotationDeps, l: Loaded, master: MasterLogin): void {
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
}

/**
 * createSecret: unless the token already holds a pending value, copy AWSCURRENT with a new
 * password (and, for alternating users, the other username) into the token's version, staged
 * AWSPENDING.
 */
export async function createSecret(deps: RotationDeps, input: StepInput): Promise<StepResult> {
  const l = await load(deps, input, 'createSecret');
  if (!('state' in l)) return l;
  // Only a version already staged AWSPENDING can hold the value (one GetSecretValue less otherwise).
  const existing =
    l.state.versions[input.token]?.includes('AWSPENDING') === true
      ? await readVersion(deps.secrets, l.state.arn, { VersionId: input.token, VersionStage: 'AWSPENDING' })
      : undefined;
  if (existing !== undefined) {
    const pending = parseDbSecret(existing, `AWSPENDING of ${l.state.arn}`);
    return done('createSecret', l, input.token, 'already-done', pending.username);
  }
  const username =
    l.strategy === 'alternating-users' ? alternateUsername(l.current.username) : l.current.username;
  l.engine.validateUsername(username);
  if (l.strategy === 'alternating-users') l.engine.validateUsername(alternateUsername(username));
  if (l.strategy !== 'single-user') requireMasterArn(l);

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
    strategy: l.strategy,
    username,
  });
  return done('createSecret', l, input.token, 'applied', username);
}

/**
 * setSecret: make the database accept the pending password. Done already when the pending
 * credentials log in. single-user: the user changes its own password (logging in with
 * AWSCURRENT, else AWSPREVIOUS). alternating: AWSCURRENT must log in; the master (re)creates the
 * other user from it and sets its password. admin-single: the master sets the same user's
 * password; no clone, ever.
 */
export async function setSecret(deps: RotationDeps, input: StepInput): Promise<StepResult> {
  const l = await load(deps, input, 'setSecret');
  if (!('state' in l)) return l;
  const pending = await readPending(deps, l, input.token);
  const pendingCreds = credentialsOf(pending);
  const ctx = {
    secretArn: l.state.arn,
    token: input.token,
    strategy: l.strategy,
    username: pending.username,
  };

  if (await logsIn(l.engine, pendingCreds)) {
    deps.logger.info('setSecret: pending credentials already log in', ctx);
    return done('setSecret', l, input.token, 'already-done', pending.username);
  }
  if (pending.host !== l.current.host) {
    throw new ValidationError(`AWSPENDING of ${l.state.arn} points at another host than AWSCURRENT`);
  }

  if (l.strategy === 'single-user') {
    if (pending.username !== l.current.username) {
      throw new ValidationError(
        `single-user rotation of ${l.state.arn}: AWSPENDING names another user than AWSCURRENT`,
      );
    }
    const candidates: DbSecret[] = [l.current];
    if (l.state.previousVersionId && l.state.previousVersionId !== l.state.currentVersionId) {
      const prevRaw = await readVersion(deps.secrets, l.state.arn, { VersionId: l.state.previousVersionId });
      if (prevRaw !== undefined) {
        const prev = parseDbSecret(prevRaw, `AWSPREVIOUS of ${l.state.arn}`);
        if (prev.username === pending.username && prev.host === pending.host) candidates.push(prev);
      }
    }
    for (const c of candidates) {
      try {
        // One login: a refused one moves on to the next candidate.
        await l.engine.changeOwnPassword(credentialsOf(c), pending.password);
      } catch (err) {
        if (err instanceof AuthenticationError) continue;
        throw err;
      }
      deps.logger.info('setSecret: user changed its own password', ctx);
      return done('setSecret', l, input.token, 'applied', pending.username);
    }
    throw new AuthenticationError(
      `setSecret: unable to log in to the database with the previous, current or pending secret of ${l.state.arn}`,
    );
  }

  await withMaster(deps, requireMasterArn(l), async (master) => {
    checkMaster(deps, l, master);
    if (l.strategy === 'alternating-users') {
      if (!(await logsIn(l.engine, credentialsOf(l.current)))) {
        throw new AuthenticationError(
          `setSecret: AWSCURRENT of ${l.state.arn} does not log in; refusing to clone from it`,
        );
      }
      await l.engine.cloneUser(master.creds, l.current.username, pending.username, pending.password);
      deps.logger.info('setSecret: master synced the alternate user and set its password', ctx);
    } else {
      if (pending.username !== l.current.username) {
        throw new ValidationError(
          `admin-single-user rotation of ${l.state.arn}: AWSPENDING names another user`,
        );
      }
      await l.engine.setPassword(master.creds, pending.username, pending.password);
      deps.logger.info('setSecret: master set the user password', ctx);
    }
  });
  return done('setSecret', l, input.token, 'applied', pending.username);
}

/** testSecret: the pending credentials log in and run a query. */
export async function testSecret(deps: RotationDeps, input: StepInput): Promise<StepResult> {
  const l = await load(deps, input, 'testSecret');
  if (!('state' in l)) return l;
  const pending = await readPending(deps, l, input.token);
  await l.engine.testLogin(credentialsOf(pending));
  deps.logger.info('testSecret: pending credentials log in', {
    secretArn: l.state.arn,
    token: input.token,
    username: pending.username,
  });
  return done('testSecret', l, input.token, 'applied', pending.username);
}

/**
 * finishSecret: move AWSCURRENT to the token (the old current becomes AWSPREVIOUS), then take
 * AWSPENDING off it, as Secrets Manager does after a native rotation. A rerun after either
 * call completes the other.
 */
export async function finishSecret(deps: RotationDeps, input: StepInput): Promise<StepResult> {
  const state = await describeState(deps.secrets, input.secretId);
  const stages = state.versions[input.token];
  let outcome: StepResult['outcome'] = 'applied';
  if (stages?.includes('AWSCURRENT')) outcome = 'already-current';
  else checkToken(state, 'finishSecret', input.token);

  if (outcome === 'applied') {
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
          Tags: [{ Key: LAST_ROTATED_TAG, Value: new Date().toISOString() }],
        }),
      ),
    );
  }
  deps.logger.info('finishSecret: version is AWSCURRENT', {
    secretArn: state.arn,
    token: input.token,
    outcome,
  });
  // The value is read only when neither the input nor the tag names the strategy.
  const strategy =
    namedStrategy(input, state.tags) ??
    resolveStrategy(input, state.tags, await hasMasterArn(deps, state.arn, input.token));
  return { step: 'finishSecret', secretArn: state.arn, token: input.token, strategy, outcome };
}

/** Whether the token's value names a master secret (finishSecret needs no more of it). */
async function hasMasterArn(deps: RotationDeps, arn: string, token: string): Promise<boolean> {
  const raw = await readVersion(deps.secrets, arn, { VersionId: token });
  try {
    return raw !== undefined && parseDbSecret(raw).masterarn !== undefined;
  } catch {
    return false;
  }
}

export const steps = { createSecret, setSecret, testSecret, finishSecret } as const;
