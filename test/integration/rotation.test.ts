/**
 * The rotation engine on real servers: every engine x strategy, rotated twice through the local
 * cloud's RotateSecret (which invokes the rotation Lambda), plus idempotency and bad input.
 */

import { randomUUID } from 'node:crypto';
import net from 'node:net';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import mysql from 'mysql2/promise';
import { Client as PgClient } from 'pg';
import type { Deps as RotationDeps } from '../../src/deps';
import { engineFor } from '../../src/engines';
import { tlsOptions } from '../../src/engines/common';
import type { Credentials } from '../../src/engines/types';
import { AuthenticationError, RotationStateError, TransientError, ValidationError } from '../../src/errors';
import { secretStatusOf } from '../../src/lifecycle/status';
import { memoryLogger } from '../../src/log';
import { createSecret, finishSecret, logsIn, setSecret, testSecret } from '../../src/rotation/steps';
import { STATUS_TAG, type StrategyName as Strategy } from '../../src/rotation/types';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { startTestServers, type TestServers } from '../support/servers';
import { mysqlConnection, pgClient, sqlAs } from '../support/sql';
import { createUserSecret } from '../support/user-secret';

type Family = 'postgres' | 'mysql';
const ENGINE_NAME: Record<Family, string> = { postgres: 'postgres', mysql: 'mysql' };
const STRATEGIES: Strategy[] = ['single-user', 'alternating-users', 'admin-single-user'];

let servers: TestServers;
let tc: TestCloud;
let seq = 0;

beforeAll(async () => {
  [servers, tc] = await Promise.all([startTestServers(), startTestCloud()]);
}, 180_000);

afterAll(async () => {
  await tc?.stop();
  await servers?.stop();
});

function admin(family: Family): Credentials {
  return servers[family].admin;
}

/** Reads mysql.user / pg_roles directly, not through the engine under test. */
async function rawUserExists(family: Family, username: string): Promise<boolean> {
  const a = admin(family);
  if (family === 'postgres') {
    const c = new PgClient({
      host: a.host,
      port: a.port,
      user: a.username,
      password: a.password,
      database: 'postgres',
      ssl: tlsOptions({}),
    });
    await c.connect();
    try {
      return (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [username])).rowCount === 1;
    } finally {
      await c.end();
    }
  }
  const c = await mysql.createConnection({
    host: a.host,
    port: a.port,
    user: a.username,
    password: a.password,
  });
  try {
    const [rows] = await c.query('SELECT User FROM mysql.user WHERE User = ?', [username]);
    return (rows as unknown[]).length > 0;
  } finally {
    await c.end();
  }
}

async function secretValue(secretId: string, stage = 'AWSCURRENT') {
  const v = await tc.clients.secrets.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }),
  );
  return JSON.parse(v.SecretString ?? '{}') as Record<string, unknown> & {
    username: string;
    password: string;
  };
}

function credsOf(secret: { username: string; password: string }, family: Family): Credentials {
  const a = admin(family);
  return {
    host: a.host,
    port: a.port,
    username: secret.username,
    password: secret.password,
    dbname: 'appdb',
  };
}

async function stagesOf(secretId: string): Promise<Record<string, string[]>> {
  const d = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
  return (d.VersionIdsToStages ?? {}) as Record<string, string[]>;
}

/** A master secret in AWS's full JSON shape, and a user with SELECT+INSERT on appdb. */
async function makeUserSecret(family: Family, strategy: Strategy, opts: { username?: string } = {}) {
  const engine = engineFor(ENGINE_NAME[family]);
  const a = admin(family);
  seq += 1;
  const username = opts.username ?? `app${seq}_${strategy.split('-')[0]}`;
  const password = `Init-${seq}-pw'"\\%;`;
  const name = `credflow/test/${family}/user-${seq}`;
  const { arn, masterArn } = await createUserSecret({
    secrets: tc.clients.secrets,
    engine: ENGINE_NAME[family],
    admin: a,
    masterName: `credflow/test/${family}/master-${seq}`,
    name,
    username,
    password,
    strategy,
    privileges: ['SELECT', 'INSERT'],
  });
  return { arn, name, username, password, engine, masterArn };
}

async function rotateViaSecretsManager(secretId: string): Promise<void> {
  await tc.clients.secrets.send(
    new RotateSecretCommand({
      SecretId: secretId,
      RotationLambdaARN: tc.rotationLambdaArn,
      RotationRules: { AutomaticallyAfterDays: 30 },
      RotateImmediately: true,
    }),
  );
  await tc.cloud.secrets.awaitIdle();
}

const canLogIn = logsIn;

/** Opens a session as `creds` and keeps it open until the function returned is called. */
async function holdConnection(family: Family, creds: Credentials): Promise<() => Promise<void>> {
  if (family === 'postgres') {
    const c = pgClient(creds);
    await c.connect();
    return () => c.end();
  }
  const c = await mysqlConnection(creds);
  return () => c.end();
}

describe.each<Family>(['postgres', 'mysql'])('rotation on %s', (family) => {
  it.each(STRATEGIES)(
    '%s: RotateSecret twice, each time AWSCURRENT logs in and the strategy holds',
    async (strategy) => {
      const s = await makeUserSecret(family, strategy);
      const grantsBefore = await s.engine.listGrants(admin(family), s.username);
      const seen: { username: string; password: string }[] = [{ username: s.username, password: s.password }];

      for (let round = 1; round <= 2; round++) {
        await rotateViaSecretsManager(s.arn);
        const stages = await stagesOf(s.arn);
        const labelled = Object.values(stages).flat();
        expect(labelled.filter((l) => l === 'AWSCURRENT')).toHaveLength(1);
        expect(labelled.filter((l) => l === 'AWSPREVIOUS')).toHaveLength(1);
        expect(labelled).not.toContain('AWSPENDING');

        const current = await secretValue(s.arn);
        const previous = await secretValue(s.arn, 'AWSPREVIOUS');
        const before = seen[seen.length - 1]!;
        expect(previous.password).toBe(before.password);
        expect(current.password).not.toBe(before.password);
        expect(await canLogIn(s.engine, credsOf(current, family))).toBe(true);

        if (strategy === 'alternating-users') {
          const expectedUser = round === 1 ? `${s.username}_clone` : s.username;
          expect(current.username).toBe(expectedUser);
          expect(previous.username).not.toBe(current.username);
          // Both users work during the overlap, with equal grants.
          expect(await canLogIn(s.engine, credsOf(previous, family))).toBe(true);
          expect(await s.engine.listGrants(admin(family), `${s.username}_clone`)).toEqual(
            await s.engine.listGrants(admin(family), s.username),
          );
        } else {
          expect(current.username).toBe(s.username);
          expect(await canLogIn(s.engine, credsOf(previous, family))).toBe(false);
          expect(await rawUserExists(family, `${s.username}_clone`)).toBe(false);
          expect(await s.engine.listGrants(admin(family), s.username)).toEqual(grantsBefore);
        }
        seen.push({ username: current.username, password: current.password });
      }
    },
  );

  it('runs every step twice with one token and changes nothing the second time', async () => {
    const s = await makeUserSecret(family, 'alternating-users');
    const deps: RotationDeps = { secrets: tc.clients.secrets, rds: tc.clients.rds, logger: memoryLogger() };
    const input = { secretId: s.arn, token: '22222222-2222-4222-8222-22222222222' + String(seq % 10) };

    expect((await createSecret(deps, input)).outcome).toBe('applied');
    const pending1 = await secretValue(s.arn, 'AWSPENDING');
    expect((await createSecret(deps, input)).outcome).toBe('already-done');
    expect(await secretValue(s.arn, 'AWSPENDING')).toEqual(pending1);

    expect((await setSecret(deps, input)).outcome).toBe('applied');
    expect((await setSecret(deps, input)).outcome).toBe('already-done');
    expect((await testSecret(deps, input)).outcome).toBe('applied');
    expect((await testSecret(deps, input)).outcome).toBe('applied');

    expect((await finishSecret(deps, input)).outcome).toBe('applied');
    const stages = await stagesOf(s.arn);
    expect((await finishSecret(deps, input)).outcome).toBe('already-current');
    expect(await stagesOf(s.arn)).toEqual(stages);
    expect(stages[input.token]).toEqual(['AWSCURRENT']);
    // Every step is a no-op once the version is current.
    expect((await createSecret(deps, input)).outcome).toBe('already-current');
    expect((await setSecret(deps, input)).outcome).toBe('already-current');
    expect(await canLogIn(s.engine, credsOf(await secretValue(s.arn), family))).toBe(true);
  });

  it('a finished rotation clears a broken status: AWSCURRENT was just tested, so the secret is ok again', async () => {
    const s = await makeUserSecret(family, 'single-user');
    await tc.clients.secrets.send(
      new TagResourceCommand({ SecretId: s.arn, Tags: [{ Key: STATUS_TAG, Value: 'broken' }] }),
    );
    const deps: RotationDeps = { secrets: tc.clients.secrets, rds: tc.clients.rds, logger: memoryLogger() };
    const input = { secretId: s.arn, token: '33333333-3333-4333-8333-33333333333' + String(seq % 10) };
    for (const step of [createSecret, setSecret, testSecret, finishSecret]) await step(deps, input);
    const d = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: s.arn }));
    expect(d.Tags?.find((t) => t.Key === STATUS_TAG)?.Value).toBe('ok');
    expect(secretStatusOf({ ...d, Tags: d.Tags ?? [] })).not.toBe('broken');
  });

  it('writes no password to any log line during a rotation', async () => {
    const s = await makeUserSecret(family, 'single-user');
    const logger = memoryLogger();
    const deps: RotationDeps = { secrets: tc.clients.secrets, rds: tc.clients.rds, logger };
    const input = { secretId: s.arn, token: '33333333-3333-4333-8333-33333333333' + String(seq % 10) };
    for (const step of [createSecret, setSecret, testSecret, finishSecret]) await step(deps, input);
    const current = await secretValue(s.arn);
    expect(logger.lines.length).toBeGreaterThanOrEqual(4);
    for (const line of logger.lines) {
      expect(line).not.toContain(current.password);
      expect(line).not.toContain(s.password);
    }
  });

  describe('bad input: a typed error, and AWSCURRENT untouched and still logging in', () => {
    async function expectUntouched(s: { arn: string }, before: Record<string, unknown>) {
      const after = await secretValue(s.arn);
      expect(after).toEqual(before);
      expect(await canLogIn(engineFor(ENGINE_NAME[family]), credsOf(after, family))).toBe(true);
    }

    function stepDeps(): RotationDeps {
      return { secrets: tc.clients.secrets, rds: tc.clients.rds, logger: memoryLogger() };
    }

    it('a master secret that no longer logs in: AuthenticationError in setSecret', async () => {
      const s = await makeUserSecret(family, 'admin-single-user');
      const before = await secretValue(s.arn);
      const master = await secretValue(s.masterArn);
      await tc.clients.secrets.send(
        new PutSecretValueCommand({
          SecretId: s.masterArn,
          SecretString: JSON.stringify({ ...master, password: 'wrong-pw' }),
        }),
      );
      const input = { secretId: s.arn, token: '44444444-4444-4444-8444-44444444444' + String(seq % 10) };
      await createSecret(stepDeps(), input);
      await expect(setSecret(stepDeps(), input)).rejects.toBeInstanceOf(AuthenticationError);
      await expectUntouched(s, before);
    });

    it('a hostile but legal username is quoted, rotates, and injects nothing', async () => {
      const s = await makeUserSecret(family, 'single-user', { username: `x'; DROP USER x; --${seq}` });
      await rotateViaSecretsManager(s.arn);
      const current = await secretValue(s.arn);
      expect(current.username).toBe(s.username);
      expect(await canLogIn(s.engine, credsOf(current, family))).toBe(true);
      expect(await canLogIn(s.engine, admin(family))).toBe(true);
    });

    it('an alternating user whose _clone name would be too long: ValidationError, nothing stored', async () => {
      const long = `u${seq}`.padEnd(family === 'mysql' ? 30 : 60, 'x');
      const s = await makeUserSecret(family, 'alternating-users', { username: long });
      const before = await secretValue(s.arn);
      const stages = await stagesOf(s.arn);
      const input = { secretId: s.arn, token: '55555555-5555-4555-8555-55555555555' + String(seq % 10) };
      await expect(createSecret(stepDeps(), input)).rejects.toBeInstanceOf(ValidationError);
      expect(await stagesOf(s.arn)).toEqual(stages);
      await expectUntouched(s, before);
    });

    it.each([
      ['malformed JSON', (v: Record<string, unknown>) => `${JSON.stringify(v).slice(0, -3)}`],
      ['an unknown engine', (v: Record<string, unknown>) => JSON.stringify({ ...v, engine: 'oracle-ee' })],
    ])('a current secret with %s: ValidationError, database untouched', async (_what, corrupt) => {
      const s = await makeUserSecret(family, 'single-user');
      const good = await secretValue(s.arn);
      await tc.clients.secrets.send(
        new PutSecretValueCommand({ SecretId: s.arn, SecretString: corrupt(good) }),
      );
      const input = { secretId: s.arn, token: '66666666-6666-4666-8666-66666666666' + String(seq % 10) };
      await expect(createSecret(stepDeps(), input)).rejects.toBeInstanceOf(ValidationError);
      // The database still has the good password; nothing was staged.
      expect(await canLogIn(s.engine, credsOf(good, family))).toBe(true);
      expect(Object.values(await stagesOf(s.arn)).flat()).not.toContain('AWSPENDING');
    });

    it('a step for a token that is not pending: RotationStateError', async () => {
      const s = await makeUserSecret(family, 'single-user');
      const before = await secretValue(s.arn);
      const input = { secretId: s.arn, token: '77777777-7777-4777-8777-77777777777' + String(seq % 10) };
      await expect(setSecret(stepDeps(), input)).rejects.toBeInstanceOf(RotationStateError);
      await expectUntouched(s, before);
    });
  });

  // Each of these fails when its guard is deleted (checked by deleting it): the assertion is on
  // credflow's own message, which no other guard (the engine's binding check, a refused login)
  // produces, and on nothing having changed.
  describe('guards whose removal a test notices', () => {
    const deps = (): RotationDeps => ({
      secrets: tc.clients.secrets,
      rds: tc.clients.rds,
      logger: memoryLogger(),
    });
    const BOUNDARY = /AWSPENDING of .* names user "victim_\d+", but the secret is bound to/;

    /** A version staged AWSPENDING by hand (as a writer of the secret could), under a fresh token. */
    async function stagePending(arn: string, value: Record<string, unknown>): Promise<string> {
      const token = randomUUID();
      await tc.clients.secrets.send(
        new PutSecretValueCommand({
          SecretId: arn,
          ClientRequestToken: token,
          SecretString: JSON.stringify(value),
          VersionStages: ['AWSPENDING'],
        }),
      );
      return token;
    }

    it.each(['single-user', 'admin-single-user'] as const)(
      '%s: setSecret, testSecret and finishSecret refuse an AWSPENDING naming another user with the boundary message; nothing changes',
      async (strategy) => {
        const s = await makeUserSecret(family, strategy);
        const victim = await makeUserSecret(family, 'single-user', { username: `victim_${seq + 1}` });
        const before = await secretValue(s.arn);
        const stages = await stagesOf(s.arn);
        const token = await stagePending(s.arn, {
          ...before,
          username: victim.username,
          password: 'Attacker-1',
        });
        const input = { secretId: s.arn, token };
        for (const step of [setSecret, testSecret, finishSecret]) {
          const err = await step(deps(), input).then(
            () => undefined,
            (e: unknown) => e as Error,
          );
          expect(err).toBeInstanceOf(ValidationError);
          expect(err?.message).toMatch(BOUNDARY);
        }
        // Labels as they were (plus the staged pending), both users' passwords unchanged.
        expect(await stagesOf(s.arn)).toEqual({ ...stages, [token]: ['AWSPENDING'] });
        expect(await canLogIn(s.engine, credsOf(before, family))).toBe(true);
        expect(await canLogIn(s.engine, credsOf(victim, family))).toBe(true);
        expect(
          await canLogIn(s.engine, credsOf({ username: victim.username, password: 'Attacker-1' }, family)),
        ).toBe(false);
      },
    );

    it.each([
      ['port', (v: Record<string, unknown>) => ({ ...v, port: Number(v['port']) + 1 })],
      ['dbname', (v: Record<string, unknown>) => ({ ...v, dbname: 'otherdb' })],
      [
        'engine',
        (v: Record<string, unknown>) => ({
          ...v,
          engine: family === 'postgres' ? 'aurora-postgresql' : 'mariadb',
        }),
      ],
      ['host', (v: Record<string, unknown>) => ({ ...v, host: 'localhost' })],
    ])(
      'setSecret and finishSecret refuse an AWSPENDING with another %s than AWSCURRENT before any login',
      async (what, change) => {
        const s = await makeUserSecret(family, 'admin-single-user');
        const before = await secretValue(s.arn);
        const token = await stagePending(s.arn, change({ ...before, password: 'Attacker-2' }));
        const logger = memoryLogger();
        const err = await setSecret({ ...deps(), logger }, { secretId: s.arn, token }).then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        // The message names the version refused, in each step.
        const refused = new RegExp(`^AWSPENDING of ${s.arn} points at another ${what} than AWSCURRENT`);
        expect(err).toBeInstanceOf(ValidationError);
        expect(err?.message).toMatch(refused);
        const stages = await stagesOf(s.arn);
        await expect(finishSecret(deps(), { secretId: s.arn, token })).rejects.toMatchObject({
          name: 'ValidationError',
          message: expect.stringMatching(refused),
        });
        expect(await stagesOf(s.arn)).toEqual(stages);
        expect(await canLogIn(s.engine, credsOf(before, family))).toBe(true);
        expect(await canLogIn(s.engine, credsOf({ ...before, password: 'Attacker-2' }, family))).toBe(false);
      },
    );

    it('finishSecret promotes nothing over an AWSCURRENT it cannot read (it could not compare the targets), and says which version', async () => {
      const s = await makeUserSecret(family, 'admin-single-user');
      const before = await secretValue(s.arn);
      await tc.clients.secrets.send(
        new PutSecretValueCommand({
          SecretId: s.arn,
          SecretString: 'not a secret',
          VersionStages: ['AWSCURRENT'],
        }),
      );
      const token = await stagePending(s.arn, { ...before, password: 'Never-promoted-1' });
      const stages = await stagesOf(s.arn);
      await expect(finishSecret(deps(), { secretId: s.arn, token })).rejects.toMatchObject({
        name: 'ValidationError',
        message: expect.stringMatching(new RegExp(`^AWSCURRENT of ${s.arn} is not valid JSON`)),
      });
      expect(await stagesOf(s.arn)).toEqual(stages);
    });

    it('single-user: a database that refuses AWSCURRENT, with no AWSPREVIOUS to fall back on, fails as a refused login naming the secret', async () => {
      const s = await makeUserSecret(family, 'single-user');
      await s.engine.setPassword(admin(family), s.username, 'Set-elsewhere-1', s.arn);
      const input = { secretId: s.arn, token: randomUUID() };
      await createSecret(deps(), input);
      const err = await setSecret(deps(), input).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(AuthenticationError);
      expect(err?.message).toBe(
        `setSecret: unable to log in to the database with the previous, current or pending secret of ${s.arn}`,
      );
      expect(
        await canLogIn(s.engine, credsOf({ username: s.username, password: 'Set-elsewhere-1' }, family)),
      ).toBe(true);
    });

    it('single-user: an AWSPREVIOUS that points at another port is not tried: nothing connects there', async () => {
      const s = await makeUserSecret(family, 'single-user');
      await rotateViaSecretsManager(s.arn);
      const current = await secretValue(s.arn);
      // The database accepts neither AWSCURRENT nor AWSPENDING, so single-user would fall back on
      // AWSPREVIOUS; a writer of the secret made AWSPREVIOUS name a port where it listens.
      await s.engine.setPassword(admin(family), s.username, 'Set-elsewhere-2', s.arn);
      const connections: string[] = [];
      const trap = net.createServer((sock) => {
        connections.push(String(sock.remotePort));
        sock.destroy();
      });
      await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
      try {
        const port = (trap.address() as net.AddressInfo).port;
        const elsewhere = randomUUID();
        await tc.clients.secrets.send(
          new PutSecretValueCommand({
            SecretId: s.arn,
            ClientRequestToken: elsewhere,
            SecretString: JSON.stringify({ ...current, port, password: 'Set-elsewhere-2' }),
            VersionStages: ['AWSPREVIOUS'],
          }),
        );
        const input = { secretId: s.arn, token: randomUUID() };
        await createSecret(deps(), input);
        await expect(setSecret(deps(), input)).rejects.toBeInstanceOf(AuthenticationError);
        expect(connections).toEqual([]);
      } finally {
        await new Promise((r) => trap.close(r));
      }
    });

    it('single-user: a login refused for another reason than the password (the user at its connection limit) fails with that error, not as a wrong password', async () => {
      const s = await makeUserSecret(family, 'single-user');
      await sqlAs(
        family,
        { ...admin(family), dbname: 'appdb' },
        family === 'postgres'
          ? `ALTER ROLE "${s.username}" CONNECTION LIMIT 1`
          : `ALTER USER '${s.username}'@'%' WITH MAX_USER_CONNECTIONS 1`,
      );
      const input = { secretId: s.arn, token: randomUUID() };
      await createSecret(deps(), input);
      // The user's one connection is taken: its own login to change its password is turned away.
      const held = await holdConnection(family, credsOf(s, family));
      let err: Error | undefined;
      try {
        err = await setSecret(deps(), input).then(
          () => undefined,
          (e: unknown) => e as Error,
        );
      } finally {
        await held();
      }
      expect(err).toBeDefined();
      expect(err).not.toBeInstanceOf(AuthenticationError);
      // A user at its connection limit is load that passes: retried, on both engines.
      expect(err).toBeInstanceOf(TransientError);
      expect(err?.message).toMatch(/too many connections for role|max_user_connections/);
      expect(await canLogIn(s.engine, credsOf(s, family))).toBe(true);
    });

    it('single-user: a database that accepts only AWSPREVIOUS (AWSCURRENT never applied) rotates through AWSPREVIOUS', async () => {
      const s = await makeUserSecret(family, 'single-user');
      await rotateViaSecretsManager(s.arn);
      const previous = await secretValue(s.arn, 'AWSPREVIOUS');
      const current = await secretValue(s.arn);
      expect(previous.password).toBe(s.password);
      // The database is back on the previous password: AWSCURRENT's was never applied there.
      await s.engine.setPassword(admin(family), s.username, previous.password, s.arn);
      expect(await canLogIn(s.engine, credsOf(current, family))).toBe(false);
      expect(await canLogIn(s.engine, credsOf(previous, family))).toBe(true);

      const input = { secretId: s.arn, token: randomUUID() };
      await createSecret(deps(), input);
      expect((await setSecret(deps(), input)).outcome).toBe('applied');
      await testSecret(deps(), input);
      await finishSecret(deps(), input);
      const rotated = await secretValue(s.arn);
      expect(rotated.password).not.toBe(current.password);
      expect(await canLogIn(s.engine, credsOf(rotated, family))).toBe(true);
      expect(await canLogIn(s.engine, credsOf(previous, family))).toBe(false);
    });
  });
});
