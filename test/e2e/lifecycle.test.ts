import {
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
} from '@aws-sdk/client-rds';
import { DescribeSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import mysql from 'mysql2/promise';
import { Client as PgClient } from 'pg';
import type { Connection } from '../../cli/context';
import { engineFor } from '../../src/engines';
import { tlsOptions } from '../../src/engines/common';
import { memoryLogger } from '../../src/log';
import { resolveMaster } from '../../src/rotation/master';
import { createSecret, setSecret } from '../../src/rotation/steps';
import { cloneOf } from '../../src/rotation/strategies';
import { awsCli, haveAwsCli } from '../support/aws-cli';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { itWhen } from '../support/skip';
import { awaitExecution, connectionOf, current, logsIn, run, succeed } from './support';

let tc: TestCloud;
let conn: Connection;

beforeAll(async () => {
  tc = await startTestCloud();
  conn = connectionOf(tc);
}, 120_000);
afterAll(async () => {
  await tc?.stop();
});

const STRATEGIES = ['single-user', 'alternating-users', 'admin-single-user'] as const;

/** Runs SQL as the user the secret names; resolves to the error code, or 'ok'. */
async function tryAs(secretId: string, sql: string): Promise<string> {
  const s = await current(conn, secretId);
  try {
    if (engineFor(s.engine).family === 'mysql') {
      const c = await mysql.createConnection({
        host: s.host,
        port: s.port ?? 3306,
        user: s.username,
        password: s.password,
        database: s.dbname ?? '',
      });
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    } else {
      const c = new PgClient({
        host: s.host,
        port: s.port ?? 5432,
        user: s.username,
        password: s.password,
        database: s.dbname ?? 'postgres',
        ssl: tlsOptions({}),
      });
      await c.connect();
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    }
    return 'ok';
  } catch (err) {
    return String((err as { code?: string }).code ?? (err as Error).message);
  }
}

async function asMaster(masterArn: string, dbname: string, sql: string): Promise<void> {
  const m = await resolveMaster(tc.clients, masterArn);
  const e = engineFor(m.engine);
  if (e.family === 'mysql') {
    const c = await mysql.createConnection({
      host: m.creds.host,
      port: m.creds.port,
      user: m.creds.username,
      password: m.creds.password,
      database: dbname,
    });
    await c.query(sql);
    await c.end();
  } else {
    const c = new PgClient({
      host: m.creds.host,
      port: m.creds.port,
      user: m.creds.username,
      password: m.creds.password,
      database: dbname,
      ssl: tlsOptions({}),
    });
    await c.connect();
    await c.query(sql);
    await c.end();
  }
}

describe.each([
  ['postgres', 'e2e-pg'],
  ['mysql', 'e2e-my'],
])('the whole lifecycle on %s, through StartExecution only', (engine, id) => {
  const secrets: Record<string, string> = {};
  let masterArn = '';

  it('provision-database: available, master secret active, master login proven', async () => {
    const out = await succeed(conn, 'provision-database', { identifier: id, engine, pollSeconds: 1 });
    expect(out).toMatchObject({ identifier: id, status: 'available' });
    masterArn = String(out['masterSecretArn']);
    expect(masterArn).toContain(':secret:rds!db-');
    await asMaster(masterArn, 'appdb', 'CREATE TABLE items (id INT)');
  });

  it('create-database-user: one user per strategy, exactly the privileges asked for', async () => {
    for (const strategy of STRATEGIES) {
      const username = `u_${strategy.split('-')[0]}`;
      const privileges = strategy === 'single-user' ? ['SELECT'] : ['SELECT', 'INSERT'];
      const out = await succeed(conn, 'create-database-user', {
        dbIdentifier: id,
        username,
        privileges,
        strategy,
      });
      secrets[strategy] = String(out['secretArn']);
      const value = await current(conn, secrets[strategy]);
      expect(Object.keys(value).sort()).toEqual([
        'dbname',
        'engine',
        'host',
        'masterarn',
        'password',
        'port',
        'username',
      ]);
      expect(value).toMatchObject({ engine, username, dbname: 'appdb', masterarn: masterArn });
    }
    expect(await tryAs(secrets['single-user'] as string, 'SELECT * FROM items')).toBe('ok');
    expect(await tryAs(secrets['single-user'] as string, 'INSERT INTO items VALUES (1)')).not.toBe('ok');
    expect(await tryAs(secrets['alternating-users'] as string, 'INSERT INTO items VALUES (1)')).toBe('ok');
  });

  it('create-database-user refuses a hostile username and stores nothing', async () => {
    const r = await run(conn, 'create-database-user', {
      dbIdentifier: id,
      username: "x'; DROP TABLE items; --".padEnd(70, 'x'),
      privileges: ['SELECT'],
      strategy: 'single-user',
    });
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('ValidationError');
    expect(await tryAs(secrets['single-user'] as string, 'SELECT * FROM items')).toBe('ok');
  });

  it.each(STRATEGIES)('rotate-secret (%s) twice, then verify-credentials', async (strategy) => {
    const arn = secrets[strategy] as string;
    const before = await current(conn, arn);
    for (let i = 0; i < 2; i++) {
      const out = await succeed(conn, 'rotate-secret', { secretId: arn });
      expect(out).toMatchObject({ verification: { ok: true } });
    }
    const after = await current(conn, arn);
    expect(after.password).not.toBe(before.password);
    expect(await logsIn(conn, arn)).toBe(true);
    const report = await succeed(conn, 'verify-credentials', { secretId: arn });
    expect(report).toMatchObject({ ok: true, drift: false, strategy });
    const checks = (report['checks'] as { check: string }[]).map((c) => c.check);
    if (strategy === 'single-user') expect(checks).toContain('previous-rejected');
    if (strategy === 'alternating-users') expect(checks).toContain('clone-grants-equal');
    if (strategy === 'admin-single-user') expect(checks).toContain('no-clone');
    const master = await resolveMaster(tc.clients, masterArn);
    const users = await engineFor(engine).listUsers(master.creds);
    expect(users.includes(cloneOf(`u_${strategy.split('-')[0]}`))).toBe(strategy === 'alternating-users');
  });

  it('rotate-master-password: the old master password is refused, the new one works', async () => {
    const old = await resolveMaster(tc.clients, masterArn);
    await succeed(conn, 'rotate-master-password', { identifier: id, pollSeconds: 1 });
    const fresh = await resolveMaster(tc.clients, masterArn);
    expect(fresh.creds.password).not.toBe(old.creds.password);
    await expect(engineFor(engine).testLogin(old.creds)).rejects.toMatchObject({
      name: 'AuthenticationError',
    });
    await engineFor(engine).testLogin(fresh.creds);
    // The users rotate on with the new master.
    await succeed(conn, 'rotate-secret', { secretId: secrets['admin-single-user'] });
  });

  it('a broken master makes setSecret fail; on-rotation-failure rolls back and AWSCURRENT still logs in', async () => {
    const arn = secrets['admin-single-user'] as string;
    const good = await current(conn, arn);
    const broken = await tc.clients.secrets.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: JSON.stringify({ ...good, masterarn: `${masterArn.slice(0, -6)}nope00` }),
      }),
    );
    expect(broken.VersionId).toBeDefined();
    const since = new Date();
    const r = await run(conn, 'rotate-secret', { secretId: arn });
    expect(r.status).toBe('FAILED');
    const repair = await awaitExecution(conn, 'on-rotation-failure', since);
    expect(repair.status).toBe('SUCCEEDED');
    const d = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(Object.values(d.VersionIdsToStages ?? {}).flat()).not.toContain('AWSPENDING');
    expect(d.Tags).toContainEqual({ Key: 'credflow:rotation-status', Value: 'rolled-back' });
    expect(await logsIn(conn, arn)).toBe(true);
    await tc.clients.secrets.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: JSON.stringify(good) }),
    );
  });

  it('a pending password already on the server is rolled forward', async () => {
    const arn = secrets['single-user'] as string;
    const deps = { secrets: tc.clients.secrets, rds: tc.clients.rds, logger: memoryLogger() };
    const token = `e2e-roll-forward-${id}`.padEnd(36, '0');
    await createSecret(deps, { secretId: arn, token });
    await setSecret(deps, { secretId: arn, token });
    // The server now has the pending password: AWSCURRENT no longer logs in.
    expect(await logsIn(conn, arn)).toBe(false);
    const out = await succeed(conn, 'on-rotation-failure', { secretId: arn });
    expect(out).toMatchObject({ outcome: 'rolled-forward', action: 'roll-forward' });
    const d = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(d.VersionIdsToStages?.[token]).toEqual(['AWSCURRENT']);
    expect(await logsIn(conn, arn)).toBe(true);
  });

  it('decommission-database without an explicit snapshot choice, or on a protected database, fails with ValidationError and changes nothing', async () => {
    const noChoice = await run(conn, 'decommission-database', { identifier: id, pollSeconds: 1 });
    expect(noChoice).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
    expect(noChoice.cause).toContain('skipFinalSnapshot');
    await tc.clients.rds.send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: id,
        DeletionProtection: true,
        ApplyImmediately: true,
      }),
    );
    const isProtected = await run(conn, 'decommission-database', {
      identifier: id,
      pollSeconds: 1,
      skipFinalSnapshot: true,
    });
    expect(isProtected).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
    expect(isProtected.cause).toContain('deletion protection');
    const d = await tc.clients.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
    expect(d.DBInstances?.[0]).toMatchObject({ DBInstanceStatus: 'available', DeletionProtection: true });
    for (const arn of Object.values(secrets)) {
      const s = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
      expect(s.DeletedDate).toBeUndefined();
    }
  });

  it('decommission-database: protection off as asked, deleted with a final snapshot, every child secret reported', async () => {
    const out = await succeed(conn, 'decommission-database', {
      identifier: id,
      pollSeconds: 1,
      finalSnapshotIdentifier: `${id}-final`,
      disableDeletionProtection: true,
    });
    expect(out['finalSnapshot']).toBe(`${id}-final`);
    // on-deletion (started by the RDS deletion event) may retire some of them first: they are
    // reported all the same (and listed in alreadyScheduled).
    expect([...(out['deletedSecrets'] as string[])].sort()).toEqual(Object.values(secrets).sort());
    for (const arn of out['alreadyScheduled'] as string[]) expect(out['deletedSecrets']).toContain(arn);
    for (const arn of Object.values(secrets)) {
      const d = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
      expect(d.DeletedDate).toBeDefined();
    }
  });
});

describe('on-deletion, from the RDS deletion event', () => {
  it("deleting an instance behind credflow's back schedules its user secrets for deletion", async () => {
    const id = 'e2e-deleted';
    await succeed(conn, 'provision-database', { identifier: id, engine: 'postgres', pollSeconds: 1 });
    const user = await succeed(conn, 'create-database-user', {
      dbIdentifier: id,
      username: 'orphan',
      privileges: ['SELECT'],
      strategy: 'single-user',
    });
    const since = new Date();
    await tc.clients.rds.send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }),
    );
    let done = await awaitExecution(conn, 'on-deletion', since, 90_000);
    // The RDS event and the CloudTrail events of other deletions may start other runs; find ours.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const d = await tc.clients.secrets.send(
        new DescribeSecretCommand({ SecretId: String(user['secretArn']) }),
      );
      if (d.DeletedDate) break;
      if (Date.now() > deadline) throw new Error(`child secret not deleted; last on-deletion ${done.status}`);
      await new Promise((r) => setTimeout(r, 200));
      done = await awaitExecution(conn, 'on-deletion', since, 90_000);
    }
  });
});

describe('the AWS CLI v2 against the local endpoint', () => {
  itWhen(haveAwsCli, 'the AWS CLI v2 is not installed (scripts/setup.sh installs it)')(
    '`aws stepfunctions start-execution` starts a rotation that completes',
    async () => {
      const id = 'e2e-cli';
      await succeed(conn, 'provision-database', { identifier: id, engine: 'mysql', pollSeconds: 1 });
      const user = await succeed(conn, 'create-database-user', {
        dbIdentifier: id,
        username: 'cli_user',
        privileges: ['SELECT'],
        strategy: 'alternating-users',
      });
      const secretId = String(user['secretArn']);
      const before = await current(conn, secretId);
      const c = tc.cloud.clientConfig();
      const started = await awsCli(
        tc.cloud,
        'stepfunctions',
        'start-execution',
        '--state-machine-arn',
        `arn:aws:states:${c.region}:${tc.cloud.accountId}:stateMachine:credflow-local-rotate-secret`,
        '--input',
        JSON.stringify({ secretId }),
      );
      const executionArn = String(started['executionArn']);
      await tc.cloud.stepFunctions.awaitExecution(executionArn);
      const d = await tc.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
      expect(d.status).toBe('SUCCEEDED');
      const after = await current(conn, secretId);
      expect(after.username).toBe(`${before.username}_clone`);
      expect(await logsIn(conn, secretId)).toBe(true);
    },
  );
});
