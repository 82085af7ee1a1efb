/**
 * Red team (issue 12, section 1): a person who may write `credflow/*` secrets, their versions and
 * tags, and start executions, tries to make a rotation change the master's password (or another
 * user's) to a value they know. Each attack ends FAILED with ValidationError before any change:
 * the RDS-managed master secret still logs in, the victim keeps its password, and create-user
 * leaves no secret behind. Runs on real RDS instances of the local cloud, through StartExecution
 * and RotateSecret as an attacker would.
 */
import { randomUUID } from 'node:crypto';
import { RDSClient } from '@aws-sdk/client-rds';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import mysql from 'mysql2/promise';
import { Client as PgClient } from 'pg';
import type { Connection } from '../../cli/context';
import { runWorkflow } from '../../cli/run';
import type { Deps } from '../../src/deps';
import { engineFor } from '../../src/engines';
import { tlsOptions } from '../../src/engines/common';
import {
  createDatabaseUser,
  DB_TAG,
  MANAGED_TAG,
  parsePrepareDatabaseUserInput,
  prepareDatabaseUser,
  validateUserLogin,
} from '../../src/lifecycle/users';
import { verifyCredentials } from '../../src/lifecycle/verify';
import { memoryLogger } from '../../src/log';
import { USER_TAG } from '../../src/rotation/boundary';
import { credentialsOf, resolveMaster } from '../../src/rotation/master';
import { CONNECTION_LIMIT_TAG, STRATEGY_TAG } from '../../src/rotation/types';
import { parseDbSecret } from '../../src/secret';
import { connectionOf, current, logsIn, run, succeed } from '../e2e/support';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { sqlAs } from '../support/sql';

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
      ? ['mysql', 'sys', 'performance_schema', 'information_schema', 'postgres']
      : ['postgres', 'template1', 'rdsadmin'],
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

  // ---- second round: adoption, maintenance database, pending targets, other tenants ----------

  const family = engine === 'mysql' ? 'mysql' : 'postgres';
  /** The functions as they run: with their role's credentials, under IAM (create-user's by default). */
  const deps = (role = 'UserFunctionRole'): Deps => {
    const config = {
      ...tc.cloud.clientConfig(),
      credentials: tc.cloud.iam.principals.issueRoleCredentials(role, `credflow-local-${role}`),
    };
    return { secrets: new SecretsManagerClient(config), rds: new RDSClient(config), logger: memoryLogger() };
  };

  /** Raw SQL as the master, behind credflow's back (a DBA, or code the master was made to run). */
  async function asMaster(sql: string, values: unknown[] = []): Promise<unknown[]> {
    const m = await resolveMaster(tc.clients, masterArn);
    return sqlAs(family, m.creds, sql, values);
  }

  /** A user made by create-database-user; its secret's ARN. */
  async function createUser(username: string, extra: Record<string, unknown> = {}): Promise<string> {
    const out = await succeed(conn, 'create-database-user', {
      dbIdentifier: id,
      username,
      strategy: 'alternating-users',
      ...extra,
    });
    return String(out['secretArn']);
  }

  /** The user's connection limit as the server stores it. */
  async function connectionLimit(username: string): Promise<number> {
    const rows =
      family === 'postgres'
        ? await asMaster('SELECT rolconnlimit AS n FROM pg_roles WHERE rolname = $1', [username])
        : await asMaster("SELECT max_user_connections AS n FROM mysql.user WHERE User = ? AND Host = '%'", [
            username,
          ]);
    return Number((rows[0] as { n: unknown }).n);
  }

  it("create-user adopts no secret made in advance (right tags, the attacker's password and resource policy): refused, nothing changed, no user", async () => {
    const name = `credflow/${id}/adopted`;
    const endpoint = await current(conn, appArn);
    const made = await tc.clients.secrets.send(
      new CreateSecretCommand({
        Name: name,
        SecretString: JSON.stringify({ ...endpoint, username: 'adopted', password: ATTACKER_PASSWORD }),
        Tags: [
          { Key: STRATEGY_TAG, Value: 'alternating-users' },
          { Key: USER_TAG, Value: 'adopted' },
          { Key: DB_TAG, Value: id },
          { Key: MANAGED_TAG, Value: 'true' },
        ],
      }),
    );
    const account = String(made.ARN).split(':')[4];
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${account}:user/attacker` },
          Action: 'secretsmanager:GetSecretValue',
          Resource: '*',
        },
      ],
    });
    await tc.clients.secrets.send(
      new PutResourcePolicyCommand({ SecretId: made.ARN, ResourcePolicy: policy }),
    );
    const before = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: name }));

    const r = await run(conn, 'create-database-user', {
      dbIdentifier: id,
      username: 'adopted',
      strategy: 'alternating-users',
    });
    expect(r).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
    expect(r.cause).toContain(`secret ${name} exists and was not created by this request; nothing changed`);
    const after = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: name }));
    expect(after.VersionIdsToStages).toEqual(before.VersionIdsToStages);
    expect(after.Tags).toEqual(before.Tags);
    expect(
      parseDbSecret(
        (await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: name }))).SecretString,
      ).password,
    ).toBe(ATTACKER_PASSWORD);
    expect(
      (await tc.clients.secrets.send(new GetResourcePolicyCommand({ SecretId: name }))).ResourcePolicy,
    ).toBe(policy);
    const m = await resolveMaster(tc.clients, masterArn);
    expect(await engineFor(engine).userExists(m.creds, 'adopted')).toBe(false);
  });

  it('a rerun of the same request resumes its own secret with a new password; another request, or a secret older than the request, is refused', async () => {
    const input = { dbIdentifier: id, username: 'resumed', strategy: 'admin-single-user' as const };
    const parse = parsePrepareDatabaseUserInput;
    /** create-user's first step refuses the existing secret of `input` for `request`, changing nothing. */
    const refused = (input: { username: string }, request: { executionId: string; startTime: string }) =>
      expect(
        prepareDatabaseUser(deps(), parse({ input: { ...input, dbIdentifier: id }, request })),
      ).rejects.toMatchObject({
        name: 'ValidationError',
        message: `secret credflow/${id}/${input.username} exists and was not created by this request; nothing changed`,
      });
    const request = {
      executionId: `arn:exec:${randomUUID()}`,
      startTime: new Date(Date.now() - 1000).toISOString(),
    };
    const first = await prepareDatabaseUser(deps(), parse({ input, request }));
    expect(first.resumed).toBeUndefined();
    const made = await current(conn, first.secretArn);
    const created = await createDatabaseUser(deps(), first);
    expect(created.userCreated).toBe(true);

    // The same execution again (a retried Task): its own secret, with a password nobody saw before.
    const again = await prepareDatabaseUser(deps(), parse({ input, request }));
    expect(again).toMatchObject({ secretArn: first.secretArn, resumed: true });
    const fresh = await current(conn, first.secretArn);
    expect(fresh.password).not.toBe(made.password);
    expect(await createDatabaseUser(deps(), again)).toMatchObject({ userCreated: false });
    await validateUserLogin(deps(), again);
    await expect(engineFor(engine).testLogin(credentialsOf(made))).rejects.toMatchObject({
      name: 'AuthenticationError',
    });

    // Another execution: not its secret.
    // (started as early as this one, so only the mark tells them apart)
    const other = { executionId: `arn:exec:${randomUUID()}`, startTime: request.startTime };
    await refused(input, other);
    // Its own token, but a secret made before the request started: someone who knew the token.
    const late = { ...request, startTime: new Date(Date.now() + 60_000).toISOString() };
    await expect(prepareDatabaseUser(deps(), parse({ input, request: late }))).rejects.toMatchObject({
      name: 'ValidationError',
    });
    expect((await current(conn, first.secretArn)).password).toBe(fresh.password);

    // Its own secret, but under a KMS key this request did not ask for.
    const keyed = { dbIdentifier: id, username: 'keyed', strategy: 'admin-single-user' as const };
    const own = {
      executionId: `arn:exec:${randomUUID()}`,
      startTime: new Date(Date.now() - 1000).toISOString(),
    };
    const made2 = await prepareDatabaseUser(
      deps(),
      parse({ input: { ...keyed, kmsKeyId: 'alias/other-team' }, request: own }),
    );
    const before2 = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: made2.secretArn }));
    await refused(keyed, own);
    const after2 = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: made2.secretArn }));
    expect(after2.VersionIdsToStages).toEqual(before2.VersionIdsToStages);

    // Its own secret, given a resource policy since: refused, the policy stays.
    const policied = { dbIdentifier: id, username: 'policied', strategy: 'admin-single-user' as const };
    const mine = await prepareDatabaseUser(deps(), parse({ input: policied, request: own }));
    const account = mine.secretArn.split(':')[4];
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${account}:user/attacker` },
          Action: 'secretsmanager:GetSecretValue',
          Resource: '*',
        },
      ],
    });
    await tc.clients.secrets.send(
      new PutResourcePolicyCommand({ SecretId: mine.secretArn, ResourcePolicy: policy }),
    );
    await refused(policied, own);
    expect(
      (await tc.clients.secrets.send(new GetResourcePolicyCommand({ SecretId: mine.secretArn })))
        .ResourcePolicy,
    ).toBe(policy);

    // Its own secret, given a rotation function of someone else's since: refused, nothing changed.
    const rotated = { dbIdentifier: id, username: 'rotated', strategy: 'admin-single-user' as const };
    const ours = await prepareDatabaseUser(deps(), parse({ input: rotated, request: own }));
    const foreign = tc.cloud.lambdas.register(`foreign-rotation-${engine}`, async () => ({}));
    tc.cloud.iam.addPermission(foreign, 'secretsmanager.amazonaws.com');
    await tc.clients.secrets.send(
      new RotateSecretCommand({
        SecretId: ours.secretArn,
        RotationLambdaARN: foreign,
        RotationRules: { AutomaticallyAfterDays: 30 },
        RotateImmediately: false,
      }),
    );
    const before3 = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: ours.secretArn }));
    await refused(rotated, own);
    const after3 = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: ours.secretArn }));
    expect(after3.VersionIdsToStages).toEqual(before3.VersionIdsToStages);
  });

  it.each([
    ['port', (v: Record<string, unknown>) => ({ ...v, port: Number(v['port']) + 1 })],
    [
      'engine',
      (v: Record<string, unknown>) => ({
        ...v,
        engine: engine === 'mysql' ? 'mariadb' : 'aurora-postgresql',
      }),
    ],
    ['dbname', (v: Record<string, unknown>) => ({ ...v, dbname: 'elsewhere' })],
  ])(
    'an AWSPENDING with another %s: rotate-secret and the repair refuse it before any login',
    async (what, change) => {
      const arn = await createUser(`pending_${what}`);
      const before = await current(conn, arn);
      const token = `redteam-${id}-${what}-${randomUUID()}`.slice(0, 64);
      await tc.clients.secrets.send(
        new PutSecretValueCommand({
          SecretId: arn,
          ClientRequestToken: token,
          SecretString: JSON.stringify(
            change({ ...before, username: `pending_${what}_clone`, password: ATTACKER_PASSWORD }),
          ),
          VersionStages: ['AWSPENDING'],
        }),
      );
      const r = await runWorkflow(conn, 'rotate-secret', { secretId: arn }, { name: token });
      expect(r).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
      expect(r.cause).toMatch(new RegExp(`points at another ${what} than AWSCURRENT`));
      const repair = await run(conn, 'on-rotation-failure', { secretId: arn, token });
      expect(repair).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
      expect(repair.cause).toMatch(new RegExp(`points at another ${what} than AWSCURRENT`));
      const d = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
      expect(d.VersionIdsToStages?.[token]).toEqual(['AWSPENDING']);
      expect(await logsIn(conn, arn)).toBe(true);
      await tc.clients.secrets.send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: token,
        }),
      );
    },
  );

  it("another tenant's GRANT to a user (and TO PUBLIC) is not drift: its rotation succeeds and verify is ok", async () => {
    const victimArn = await createUser('granted', { privileges: ['SELECT'] });
    const tenantArn = await createUser('granter', { privileges: ['ALL'], strategy: 'single-user' });
    const tenant = credentialsOf(await current(conn, tenantArn));
    await sqlAs(family, tenant, 'CREATE TABLE tenant_own (id INT)');
    if (family === 'postgres') {
      await sqlAs(family, tenant, 'GRANT SELECT, INSERT ON tenant_own TO granted');
      await sqlAs(family, tenant, 'GRANT SELECT ON tenant_own TO PUBLIC');
    } else {
      // No GRANT OPTION: a MySQL user cannot grant at all.
      await expect(sqlAs(family, tenant, "GRANT SELECT ON tenant_own TO 'granted'@'%'")).rejects.toThrow();
    }
    const r = await run(conn, 'rotate-secret', { secretId: victimArn });
    expect(r).toMatchObject({ status: 'SUCCEEDED' });
    const report = await verifyCredentials(deps('VerifyFunctionRole'), { secretId: victimArn });
    expect(report).toMatchObject({ ok: true, drift: false });
    expect(report.checks.map((c) => c.check)).toEqual(
      expect.arrayContaining(['clone-grants-equal', 'grants-unchanged']),
    );
  });

  it("an alternating clone gets credflow's fixed attributes even after the user gained CREATEROLE (or lost its limit)", async () => {
    const arn = await createUser('gainer');
    if (family === 'postgres') await asMaster('ALTER ROLE gainer CREATEROLE CREATEDB CONNECTION LIMIT -1');
    else await asMaster("ALTER USER 'gainer'@'%' WITH MAX_USER_CONNECTIONS 0");
    await run(conn, 'rotate-secret', { secretId: arn });
    expect((await current(conn, arn)).username).toBe('gainer_clone');
    expect(await connectionLimit('gainer_clone')).toBe(40);
    if (family === 'postgres') {
      expect(
        await asMaster(
          'SELECT rolcreaterole, rolcreatedb, rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1',
          ['gainer_clone'],
        ),
      ).toEqual([
        {
          rolcreaterole: false,
          rolcreatedb: false,
          rolsuper: false,
          rolreplication: false,
          rolbypassrls: false,
        },
      ]);
    }
    // What the user gained is drift, and verify says so.
    expect(await verifyCredentials(deps('VerifyFunctionRole'), { secretId: arn })).toMatchObject({
      drift: true,
    });
  });

  it('every user gets a connection limit: 40 by default, the asked one with connectionLimit, recorded on the secret', async () => {
    expect(await connectionLimit('app')).toBe(40);
    const arn = await createUser('limited', { connectionLimit: 5 });
    expect(await connectionLimit('limited')).toBe(5);
    const d = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(d.Tags).toContainEqual({ Key: CONNECTION_LIMIT_TAG, Value: '5' });
    await run(conn, 'rotate-secret', { secretId: arn });
    expect(await connectionLimit('limited_clone')).toBe(5);
  });

  it('an account with the same name elsewhere is reported by verify as drift (MySQL family: another host; PostgreSQL has one role per name)', async () => {
    const arn = await createUser('hosted');
    expect(await verifyCredentials(deps('VerifyFunctionRole'), { secretId: arn })).toMatchObject({
      ok: true,
    });
    if (family === 'postgres') {
      // Roles are cluster-wide and have no host: there is no second account to make.
      await expect(asMaster('CREATE ROLE hosted LOGIN')).rejects.toThrow(/already exists/);
      return;
    }
    await asMaster("CREATE USER 'hosted'@'localhost' IDENTIFIED BY 'Dba-pw-1'");
    const report = await verifyCredentials(deps('VerifyFunctionRole'), { secretId: arn });
    expect(report).toMatchObject({ ok: false, drift: true });
    expect(report.checks).toContainEqual(
      expect.objectContaining({
        check: 'no-other-accounts',
        ok: false,
        detail: expect.stringContaining('hosted@localhost'),
      }),
    );
  });
});
