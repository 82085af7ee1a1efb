/**
 * The rotation steps' own guards, each told apart from the guard behind it. Where the step's
 * check and the engine's check would both refuse, the test names the step's message, so a step
 * that lost its check fails here even though the engine still refuses. Every refusal leaves the
 * database as it was: the user's old password still logs in and the one offered does not.
 */
import { GetSecretValueCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { Deps as RotationDeps } from '../../src/deps';
import { engineFor } from '../../src/engines';
import type { Credentials } from '../../src/engines/types';
import { ValidationError } from '../../src/errors';
import { memoryLogger } from '../../src/log';
import { createSecret, logsIn, setSecret } from '../../src/rotation/steps';
import type { StrategyName } from '../../src/rotation/types';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { rejection } from '../support/rejection';
import { startTestServers, type TestServers } from '../support/servers';
import type { Family } from '../support/sql';
import { createUserSecret } from '../support/user-secret';

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

type Value = Record<string, unknown> & { username: string; password: string; host: string; port: number };

const OTHER: Record<Family, Family> = { postgres: 'mysql', mysql: 'postgres' };

/** The other name of the loopback address the servers listen on. */
const otherHost = (host: string) => (host === 'localhost' ? '127.0.0.1' : 'localhost');

function deps(): RotationDeps {
  return { secrets: tc.clients.secrets, rds: tc.clients.rds, logger: memoryLogger() };
}

function token(): string {
  return `${crypto.randomUUID()}`;
}

async function secretValue(secretId: string, stage = 'AWSCURRENT'): Promise<Value> {
  const v = await tc.clients.secrets.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }),
  );
  return JSON.parse(v.SecretString ?? '{}') as Value;
}

async function put(secretId: string, value: object, stages?: string[], clientToken?: string): Promise<void> {
  await tc.clients.secrets.send(
    new PutSecretValueCommand({
      SecretId: secretId,
      SecretString: JSON.stringify(value),
      ...(stages ? { VersionStages: stages } : {}),
      ...(clientToken ? { ClientRequestToken: clientToken } : {}),
    }),
  );
}

describe.each<Family>(['postgres', 'mysql'])('%s: the steps refuse before any change', (family) => {
  const engine = engineFor(family);
  const admin = () => servers[family].admin;
  const creds = (username: string, password: string): Credentials => ({
    host: admin().host,
    port: admin().port,
    username,
    password,
    dbname: 'appdb',
  });

  async function userSecret(strategy: StrategyName) {
    seq += 1;
    const username = `guard${seq}_${strategy.split('-')[0]}`;
    const password = `Guard-${seq}-pw`;
    const { arn, masterArn } = await createUserSecret({
      secrets: tc.clients.secrets,
      engine: family,
      admin: admin(),
      masterName: `credflow/guards/${family}/master-${seq}`,
      name: `credflow/guards/${family}/user-${seq}`,
      username,
      password,
      strategy,
    });
    return { arn, masterArn, username, password };
  }

  /** The user still logs in with its password, and not with the one the rotation offered. */
  async function untouched(username: string, password: string, offered: string): Promise<void> {
    expect(await logsIn(engine, creds(username, password))).toBe(true);
    expect(await logsIn(engine, creds(username, offered))).toBe(false);
  }

  it('an AWSCURRENT naming another secret’s user: the step refuses it by name, before the database’s binding is asked', async () => {
    const victim = await userSecret('single-user');
    const s = await userSecret('admin-single-user');
    await put(s.arn, { ...(await secretValue(s.arn)), username: victim.username });
    const err = await rejection(createSecret(deps(), { secretId: s.arn, token: token() }));
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toMatch(/AWSCURRENT of .* names user .* but the secret is bound to/);
    await untouched(victim.username, victim.password, 'never-offered');
  });

  it('setSecret: an AWSPENDING on another host than AWSCURRENT is refused, though both reach the same server', async () => {
    const s = await userSecret('single-user');
    const current = await secretValue(s.arn);
    const t = token();
    const offered = 'Other-host-pw-1';
    await put(s.arn, { ...current, host: otherHost(current.host), password: offered }, ['AWSPENDING'], t);
    const err = await rejection(setSecret(deps(), { secretId: s.arn, token: t }));
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toMatch(/points at another host than AWSCURRENT/);
    await untouched(s.username, s.password, offered);
  });

  describe('the master a user secret names', () => {
    /** Rewrites the master secret, then runs createSecret and setSecret; returns setSecret's error. */
    async function rotateWithMaster(
      change: (master: Value, user: { username: string; password: string }) => Value,
    ) {
      const s = await userSecret('admin-single-user');
      const master = await secretValue(s.masterArn);
      await put(s.masterArn, change(master, s));
      const input = { secretId: s.arn, token: token() };
      await createSecret(deps(), input);
      const offered = (await secretValue(s.arn, 'AWSPENDING')).password;
      const err = await rejection(setSecret(deps(), input));
      await untouched(s.username, s.password, offered);
      return err;
    }

    it('for another engine family, though it logs in to the same server: refused', async () => {
      const err = await rotateWithMaster((m) => ({ ...m, engine: OTHER[family] }));
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toMatch(new RegExp(`is for ${OTHER[family]}, the user secret for ${family}`));
    });

    it('on another host name for the same server: refused', async () => {
      const err = await rotateWithMaster((m) => ({ ...m, host: otherHost(m.host) }));
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toMatch(/points at .*, the user secret at/);
    });

    it('on another port (another server) of the same host: refused before logging in there', async () => {
      const err = await rotateWithMaster((m) => ({ ...m, port: servers[OTHER[family]].admin.port }));
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toMatch(/points at .*, the user secret at/);
    });

    it('logging in as the very user the secret changes: refused as the master, not only as the admin account', async () => {
      const err = await rotateWithMaster((m, user) => ({
        ...m,
        username: user.username,
        password: user.password,
      }));
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toMatch(/logs in as .*, a user this secret would change: refused/);
    });
  });
});
