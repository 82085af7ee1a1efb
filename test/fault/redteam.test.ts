/**
 * Red team (issue 12, section 1): a person who may write `credflow/*` secrets, their versions and
 * tags, and start executions, tries to make a rotation change the master's password (or another
 * user's) to a value they know. Each attack ends FAILED with ValidationError before any change:
 * the RDS-managed master secret still logs in, the victim keeps its password, and create-user
 * leaves no secret behind. Runs on real RDS instances of the local cloud, through StartExecution
 * and RotateSecret as an attacker would.
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import mysql from 'mysql2/promise';
import { Client as PgClient } from 'pg';
import type { Connection } from '../../cli/context';
import { runWorkflow } from '../../cli/run';
import { engineFor } from '../../src/engines';
import { tlsOptions } from '../../src/engines/common';
import { USER_TAG } from '../../src/rotation/boundary';
import { credentialsOf, resolveMaster } from '../../src/rotation/master';
import { STRATEGY_TAG } from '../../src/rotation/types';
import { parseDbSecret } from '../../src/secret';
import { connectionOf, current, logsIn, run, succeed } from '../e2e/support';
import { startTestCloud, type TestCloud } from '../support/cloud';

let tc: TestCloud;
let conn: Connection;

beforeAll(async () => {
  tc = await startTestCloud();
  conn = connectionOf(tc);
}, 120_000);
afterAll(async () => {
  await tc?.stop();
});

const ATTACKER_PASSWORD = 'Attacker-Knows-This-1';

describe.each([
  ['postgres', 'red-pg'],
  ['mysql', 'red-my'],
])('%s: a secret writer cannot reach the master', (engine, id) => {
  let masterArn = '';
  let masterVersion = '';
  let masterUser = '';
  let appArn = '';

  /** The master secret is unchanged and still logs in; the attacker's password does not. */
  async function masterIntact(): Promise<void> {
    const v = await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: masterArn }));
    expect(v.VersionId).toBe(masterVersion);
    const m = await resolveMaster(tc.clients, masterArn);
    await expect(engineFor(engine).testLogin(m.creds)).resolves.toBeUndefined();
    await expect(
      engineFor(engine).testLogin({ ...m.creds, password: ATTACKER_PASSWORD }),
    ).rejects.toMatchObject({
      name: 'AuthenticationError',
    });
  }

  /** A user made outside credflow, as a DBA would. */
  async function createByHand(username: string, password: string): Promise<void> {
    const m = await resolveMaster(tc.clients, masterArn);
    if (engine === 'mysql') {
      const c = await mysql.createConnection({
        host: m.creds.host,
        port: m.creds.port,
        user: m.creds.username,
        password: m.creds.password,
      });
      await c.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [username, password]);
      await c.end();
    } else {
      const c = new PgClient({
        ...m.creds,
        user: m.creds.username,
        database: 'postgres',
        ssl: tlsOptions({}),
      });
      await c.connect();
      await c.query(`CREATE ROLE "${username}" LOGIN PASSWORD '${password}'`);
      await c.end();
    }
  }

  async function secretGone(name: string): Promise<void> {
    await expect(
      tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: name })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  }

  beforeAll(async () => {
    const out = await succeed(conn, 'provision-database', { identifier: id, engine, pollSeconds: 1 });
    masterArn = String(out['masterSecretArn']);
    const m = await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: masterArn }));
    masterVersion = m.VersionId as string;
    masterUser = (JSON.parse(m.SecretString as string) as { username: string }).username;
    const app = await succeed(conn, 'create-database-user', {
      dbIdentifier: id,
      username: 'app',
      strategy: 'alternating-users',
    });
    appArn = String(app['secretArn']);
  }, 120_000);

  it("a secret naming the master, tagged admin-single-user and bound to it by tag: refused, the master's password stays", async () => {
    const endpoint = await current(conn, appArn);
    const forged = await tc.clients.secrets.send(
      new CreateSecretCommand({
        Name: `credflow/${id}/takeover`,
        SecretString: JSON.stringify({
          engine,
          host: endpoint.host,
          port: endpoint.port,
          username: masterUser,
          password: ATTACKER_PASSWORD,
          masterarn: masterArn,
        }),
        Tags: [
          { Key: STRATEGY_TAG, Value: 'admin-single-user' },
          { Key: USER_TAG, Value: masterUser },
          { Key: 'credflow:managed', Value: 'true' },
        ],
      }),
    );
    const r = await run(conn, 'rotate-secret', { secretId: forged.ARN });
    expect(r).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
    await masterIntact();

    // The same secret through Secrets Manager's own rotation (RotateSecret + the rotation Lambda).
    await tc.clients.secrets
      .send(
        new RotateSecretCommand({
          SecretId: forged.ARN,
          RotationLambdaARN: tc.rotationLambdaArn,
          RotationRules: { AutomaticallyAfterDays: 30 },
          RotateImmediately: true,
        }),
      )
      .catch(() => undefined);
    await tc.cloud.secrets.awaitIdle();
    await masterIntact();
  });

  it('alternating: an AWSPENDING naming the master, started with that token as the execution name: refused', async () => {
    const token = `redteam-${id}-pending-master-0000000000`;
    const endpoint = await current(conn, appArn);
    await tc.clients.secrets.send(
      new PutSecretValueCommand({
        SecretId: appArn,
        ClientRequestToken: token,
        SecretString: JSON.stringify({ ...endpoint, username: masterUser, password: ATTACKER_PASSWORD }),
        VersionStages: ['AWSPENDING'],
      }),
    );
    const r = await runWorkflow(conn, 'rotate-secret', { secretId: appArn }, { name: token });
    expect(r).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
    await masterIntact();
    expect(await logsIn(conn, appArn)).toBe(true);
  });

  it('the tag rewritten to another credflow user: the database-side binding refuses it; the victim keeps its password', async () => {
    const victim = await succeed(conn, 'create-database-user', {
      dbIdentifier: id,
      username: 'victim',
      strategy: 'admin-single-user',
    });
    const victimArn = String(victim['secretArn']);
    const before = await current(conn, victimArn);
    const mine = await succeed(conn, 'create-database-user', {
      dbIdentifier: id,
      username: 'mallory',
      strategy: 'admin-single-user',
    });
    const mineArn = String(mine['secretArn']);
    await tc.clients.secrets.send(
      new TagResourceCommand({ SecretId: mineArn, Tags: [{ Key: USER_TAG, Value: 'victim' }] }),
    );
    const endpoint = await current(conn, mineArn);
    await tc.clients.secrets.send(
      new PutSecretValueCommand({
        SecretId: mineArn,
        SecretString: JSON.stringify({ ...endpoint, username: 'victim', password: ATTACKER_PASSWORD }),
      }),
    );
    const r = await run(conn, 'rotate-secret', { secretId: mineArn });
    expect(r).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
    expect(r.cause).toMatch(/not bound to this secret/);
    await expect(engineFor(engine).testLogin(credentialsOf(before))).resolves.toBeUndefined();
    expect(await logsIn(conn, victimArn)).toBe(true);
  });

  it('create-user for the master name: refused before anything is stored; rotate-now has nothing to act on', async () => {
    const r = await run(conn, 'create-database-user', {
      dbIdentifier: id,
      username: masterUser,
      strategy: 'admin-single-user',
    });
    expect(r).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
    await secretGone(`credflow/${id}/${masterUser}`);
    const again = await run(conn, 'rotate-secret', { secretId: `credflow/${id}/${masterUser}` });
    expect(again).toMatchObject({ status: 'FAILED', error: 'NotFoundError' });
    await masterIntact();
  });

  it('create-user for an existing user credflow did not create: refused, no secret left, its password unchanged', async () => {
    await createByHand('dba_owned', 'Dba-Owned-pw-1');
    const r = await run(conn, 'create-database-user', {
      dbIdentifier: id,
      username: 'dba_owned',
      strategy: 'admin-single-user',
    });
    expect(r).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
    await secretGone(`credflow/${id}/dba_owned`);
    const m = await resolveMaster(tc.clients, masterArn);
    await expect(
      engineFor(engine).testLogin({ ...m.creds, username: 'dba_owned', password: 'Dba-Owned-pw-1' }),
    ).resolves.toBeUndefined();
  });

  it.each(
    engine === 'mysql'
      ? ['mysql', 'sys', 'performance_schema', 'information_schema']
      : ['template1', 'rdsadmin'],
  )('create-user with grants into the system database %s: refused, no secret, no user', async (database) => {
    const username = `sys_${database.slice(0, 6)}`;
    const r = await run(conn, 'create-database-user', {
      dbIdentifier: id,
      username,
      database,
      privileges: ['ALL'],
      strategy: 'single-user',
    });
    expect(r).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
    await secretGone(`credflow/${id}/${username}`);
    const m = await resolveMaster(tc.clients, masterArn);
    expect(await engineFor(engine).userExists(m.creds, username)).toBe(false);
  });

  it('a secret made outside credflow (no binding) cannot use the master, whatever its strategy tag says', async () => {
    await createByHand('legacy_app', 'Legacy-pw-1');
    const endpoint = await current(conn, appArn);
    const legacy = await tc.clients.secrets.send(
      new CreateSecretCommand({
        Name: `credflow/${id}/legacy`,
        SecretString: JSON.stringify({ ...endpoint, username: 'legacy_app', password: 'Legacy-pw-1' }),
        Tags: [{ Key: STRATEGY_TAG, Value: 'admin-single-user' }],
      }),
    );
    const r = await run(conn, 'rotate-secret', { secretId: legacy.ARN });
    expect(r).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
    const v = await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: legacy.ARN }));
    expect(parseDbSecret(v.SecretString).password).toBe('Legacy-pw-1');
  });
});
