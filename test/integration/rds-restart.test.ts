/**
 * An RDS endpoint never moves and an instance is never lost: across a clean stop and start of
 * the local cloud, across kill -9 of it, when its port was taken meanwhile, and through
 * RebootDBInstance / StopDBInstance / StartDBInstance.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
  RebootDBInstanceCommand,
  StartDBClusterCommand,
  StartDBInstanceCommand,
  StopDBClusterCommand,
  StopDBInstanceCommand,
} from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { down } from '../../cli/local';
import { type LocalClientConfig, LocalCloud } from '../../local/cloud';
import { silentLogger } from '../../local/log';
import { engineFor } from '../../src/engines';
import { credentialsOf } from '../../src/rotation/master';
import { parseDbSecret } from '../../src/secret';
import { awsCli, haveAwsCli } from '../support/aws-cli';
import { awsError } from '../support/cloud';
import { startCloudProcess } from '../support/cloud-process';
import { killServersUnder, serverProcessesUnder } from '../support/leftovers';
import { itWhen } from '../support/skip';
import { trusting } from '../support/trust';
import { createUserSecret } from '../support/user-secret';

const dirs: string[] = [];
afterAll(() => {
  // Every cloud of this suite stopped its servers, or `down` stopped what a killed one left.
  const left = dirs.flatMap((d) => killServersUnder(d));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  expect(left).toEqual([]);
});

function stateDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'credflow-rds-restart-'));
  dirs.push(d);
  return d;
}

function clients(config: LocalClientConfig) {
  return {
    rds: new RDSClient({ ...config, maxAttempts: 1 }),
    sm: new SecretsManagerClient({ ...config, maxAttempts: 1 }),
  };
}

async function describe1(rds: RDSClient, id: string): Promise<DBInstance> {
  return (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0]!;
}

async function waitStatus(rds: RDSClient, id: string, status: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await describe1(rds, id);
    if (d.DBInstanceStatus === status) return d;
    if (Date.now() > deadline) throw new Error(`${id} is ${d.DBInstanceStatus}, not ${status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function createInstance(rds: RDSClient, id: string, engine: 'postgres' | 'mysql') {
  await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      Engine: engine,
      DBInstanceClass: 'db.t3.micro',
      DBName: 'appdb',
      MasterUsername: 'dbadmin',
      ManageMasterUserPassword: true,
    }),
  );
  return waitStatus(rds, id, 'available');
}

/** A user secret on the instance, created with its master secret (as create-database-user does). */
async function userSecretOn(c: ReturnType<typeof clients>, d: DBInstance, engine: string, name: string) {
  const master = JSON.parse(
    (await c.sm.send(new GetSecretValueCommand({ SecretId: d.MasterUserSecret!.SecretArn! }))).SecretString!,
  );
  const admin = {
    host: d.Endpoint!.Address!,
    port: d.Endpoint!.Port!,
    username: master.username,
    password: master.password,
    dbname: 'appdb',
  };
  const { arn } = await createUserSecret({
    secrets: c.sm,
    engine,
    admin,
    masterName: `${name}/master`,
    name,
    username: name.replace(/\W/g, '_'),
    password: `Pw-${name.length}-user-1`,
    strategy: 'single-user',
  });
  return arn;
}

async function userLogsIn(sm: SecretsManagerClient, arn: string): Promise<boolean> {
  const s = parseDbSecret((await sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString);
  return engineFor(s.engine)
    .testLogin(credentialsOf(s))
    .then(
      () => true,
      () => false,
    );
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('the endpoint across restarts of the local cloud', () => {
  it('down then up: each instance comes back on the same port and its user secret logs in', async () => {
    const dir = stateDir();
    let cloud = trusting(await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger }));
    let c = clients(cloud.clientConfig());
    try {
      const pg = await createInstance(c.rds, 'keep-pg', 'postgres');
      const my = await createInstance(c.rds, 'keep-my', 'mysql');
      const pgUser = await userSecretOn(c, pg, 'postgres', 'credflow/keep/pg');
      const myUser = await userSecretOn(c, my, 'mysql', 'credflow/keep/my');
      await cloud.stop();
      expect(await portAnswers(pg.Endpoint!.Port!)).toBe(false);
      cloud = trusting(await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger }));
      c = clients(cloud.clientConfig());
      expect((await waitStatus(c.rds, 'keep-pg', 'available')).Endpoint?.Port).toBe(pg.Endpoint!.Port);
      expect((await waitStatus(c.rds, 'keep-my', 'available')).Endpoint?.Port).toBe(my.Endpoint!.Port);
      expect(await userLogsIn(c.sm, pgUser)).toBe(true);
      expect(await userLogsIn(c.sm, myUser)).toBe(true);
    } finally {
      await cloud.stop();
    }
  });

  it('a port taken meanwhile: incompatible-network with a clear message, no move; StartDBInstance retries', async () => {
    const dir = stateDir();
    let cloud = trusting(await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger }));
    let c = clients(cloud.clientConfig());
    const blocker = net.createServer();
    try {
      const d = await createInstance(c.rds, 'taken', 'postgres');
      const port = d.Endpoint!.Port!;
      await cloud.stop();
      await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
      cloud = trusting(await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger }));
      c = clients(cloud.clientConfig());
      const blocked = await waitStatus(c.rds, 'taken', 'incompatible-network');
      expect(blocked.Endpoint?.Port).toBe(port);
      expect(blocked.StatusInfos?.[0]).toMatchObject({
        Normal: false,
        Message: expect.stringContaining(`port ${port} on 127.0.0.1 is in use`),
      });
      // Still blocked: a retry changes nothing and moves nothing.
      await c.rds.send(new StartDBInstanceCommand({ DBInstanceIdentifier: 'taken' }));
      expect((await waitStatus(c.rds, 'taken', 'incompatible-network')).Endpoint?.Port).toBe(port);
      await new Promise<void>((r) => blocker.close(() => r()));
      const out = await c.rds.send(new StartDBInstanceCommand({ DBInstanceIdentifier: 'taken' }));
      expect(out.DBInstance?.DBInstanceStatus).toBe('starting');
      const back = await waitStatus(c.rds, 'taken', 'available');
      expect(back.Endpoint?.Port).toBe(port);
      expect(back.StatusInfos ?? []).toEqual([]);
    } finally {
      if (blocker.listening) await new Promise<void>((r) => blocker.close(() => r()));
      await cloud.stop();
    }
  });

  it('kill -9 of the cloud: the next start adopts the live servers on the same port; down stops orphans', async () => {
    const dir = stateDir();
    let child = await startCloudProcess(dir);
    let c = clients(child.config);
    try {
      const pg = await createInstance(c.rds, 'crash-pg', 'postgres');
      const my = await createInstance(c.rds, 'crash-my', 'mysql');
      const pgUser = await userSecretOn(c, pg, 'postgres', 'credflow/crash/pg');
      const myUser = await userSecretOn(c, my, 'mysql', 'credflow/crash/my');
      const pids = () =>
        ['instance-crash-pg/data/postmaster.pid', 'instance-crash-my/data/mariadbd.pid'].map(
          (f) => readFileSync(path.join(dir, 'rds', f), 'utf8').split('\n')[0],
        );
      const before = pids();
      await child.crash();
      // The servers outlive the cloud (orphans) and still hold their ports.
      expect(await portAnswers(pg.Endpoint!.Port!)).toBe(true);
      child = await startCloudProcess(dir);
      c = clients(child.config);
      expect((await waitStatus(c.rds, 'crash-pg', 'available')).Endpoint?.Port).toBe(pg.Endpoint!.Port);
      expect((await waitStatus(c.rds, 'crash-my', 'available')).Endpoint?.Port).toBe(my.Endpoint!.Port);
      // Adopted, not restarted: the very same server processes.
      expect(pids()).toEqual(before);
      expect(await userLogsIn(c.sm, pgUser)).toBe(true);
      expect(await userLogsIn(c.sm, myUser)).toBe(true);
      // Once more, then `credflow down` with no cloud running stops the orphans.
      await child.crash();
      expect(await portAnswers(my.Endpoint!.Port!)).toBe(true);
      await down({ stateDir: dir });
      expect(await portAnswers(pg.Endpoint!.Port!)).toBe(false);
      expect(await portAnswers(my.Endpoint!.Port!)).toBe(false);
      // And the next start brings them back, on the same ports.
      child = await startCloudProcess(dir);
      c = clients(child.config);
      expect((await waitStatus(c.rds, 'crash-pg', 'available')).Endpoint?.Port).toBe(pg.Endpoint!.Port);
      expect(await userLogsIn(c.sm, pgUser)).toBe(true);
    } finally {
      await child.crash();
      await down({ stateDir: dir });
    }
    // Even a server the cloud had just spawned when it was killed (no pid file yet) is stopped.
    expect(serverProcessesUnder(dir)).toEqual([]);
  }, 240_000);
});

describe('a database server that dies (kill -9 of the server, not the cloud)', () => {
  let dir: string;
  let cloud: LocalCloud;
  let c: ReturnType<typeof clients>;
  beforeAll(async () => {
    dir = stateDir();
    cloud = trusting(await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger }));
    c = clients(cloud.clientConfig());
  });
  afterAll(async () => {
    await cloud.stop();
  });

  it.each([
    ['postgres', 'postmaster.pid'],
    ['mysql', 'mariadbd.pid'],
  ] as const)(
    '%s: is noticed, shows rebooting while it restarts on its port and data, then available',
    async (engine, pidFile) => {
      const id = `dies-${engine}`;
      const d = await createInstance(c.rds, id, engine);
      const port = d.Endpoint!.Port!;
      const user = await userSecretOn(c, d, engine, `dies/${engine}`);
      const pidOf = () =>
        Number(readFileSync(path.join(dir, 'rds', `instance-${id}`, 'data', pidFile), 'utf8').split('\n')[0]);
      const before = pidOf();
      process.kill(before, 'SIGKILL');
      // Every status DescribeDBInstances reports until the instance is available on a new server.
      const seen: string[] = [];
      let back: DBInstance | undefined;
      const deadline = Date.now() + 90_000;
      while (Date.now() < deadline) {
        const now = await describe1(c.rds, id);
        const status = now.DBInstanceStatus as string;
        if (seen.at(-1) !== status) seen.push(status);
        if (status === 'rebooting') {
          expect(now.StatusInfos?.[0]?.Message).toBe(
            `the database server process exited unexpectedly (killed by SIGKILL); restarting it on port ${port}`,
          );
        }
        if (status === 'available' && seen.includes('rebooting')) {
          back = now;
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(seen).toEqual(['available', 'rebooting', 'available'].slice(seen[0] === 'available' ? 0 : 1));
      expect(back?.Endpoint?.Port).toBe(port);
      expect(back?.StatusInfos ?? []).toEqual([]);
      expect(pidOf()).not.toBe(before);
      // Same data directory: the user made before the crash still logs in.
      expect(await userLogsIn(c.sm, user)).toBe(true);
      const restarted = cloud.events
        .list({ source: 'aws.rds' })
        .filter((e) => e.detail['SourceIdentifier'] === id && e.detail['EventID'] === 'RDS-EVENT-0006');
      expect(restarted).toHaveLength(1);
    },
    120_000,
  );
});

describe('RebootDBInstance, StopDBInstance, StartDBInstance', () => {
  let dir: string;
  let cloud: LocalCloud;
  let c: ReturnType<typeof clients>;
  beforeAll(async () => {
    dir = stateDir();
    cloud = trusting(await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger }));
    c = clients(cloud.clientConfig());
  });
  afterAll(async () => {
    await cloud.stop();
  });

  it.each(['postgres', 'mysql'] as const)(
    '%s: reboot, stop (connections refused), start: same endpoint, the user secret works again',
    async (engine) => {
      const id = `power-${engine}`;
      const d = await createInstance(c.rds, id, engine);
      const port = d.Endpoint!.Port!;
      const user = await userSecretOn(c, d, engine, `power/${engine}`);

      const rebooted = await c.rds.send(new RebootDBInstanceCommand({ DBInstanceIdentifier: id }));
      expect(rebooted.DBInstance?.DBInstanceStatus).toBe('rebooting');
      await awsError(
        () => c.rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: id })),
        'InvalidDBInstanceStateFault',
      );
      expect((await waitStatus(c.rds, id, 'available')).Endpoint?.Port).toBe(port);
      expect(await userLogsIn(c.sm, user)).toBe(true);

      const started = await awsError(
        () => c.rds.send(new StartDBInstanceCommand({ DBInstanceIdentifier: id })),
        'InvalidDBInstanceStateFault',
      );
      expect(started.message).toBe(`Instance ${id} is not stopped.`);
      const stopping = await c.rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: id }));
      expect(stopping.DBInstance?.DBInstanceStatus).toBe('stopping');
      const stopped = await waitStatus(c.rds, id, 'stopped');
      expect(stopped.Endpoint?.Port).toBe(port);
      expect(await portAnswers(port)).toBe(false);
      expect(await userLogsIn(c.sm, user)).toBe(false);
      const again = await awsError(
        () => c.rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: id })),
        'InvalidDBInstanceStateFault',
      );
      expect(again.message).toBe(`Instance ${id} is not in available state.`);
      await awsError(
        () => c.rds.send(new RebootDBInstanceCommand({ DBInstanceIdentifier: id })),
        'InvalidDBInstanceStateFault',
      );

      const starting = await c.rds.send(new StartDBInstanceCommand({ DBInstanceIdentifier: id }));
      expect(starting.DBInstance?.DBInstanceStatus).toBe('starting');
      expect((await waitStatus(c.rds, id, 'available')).Endpoint?.Port).toBe(port);
      expect(await userLogsIn(c.sm, user)).toBe(true);
    },
    120_000,
  );

  it('a stopped instance stays stopped across a restart of the cloud', async () => {
    await c.rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'power-postgres' }));
    const stopped = await waitStatus(c.rds, 'power-postgres', 'stopped');
    await cloud.stop();
    cloud = trusting(await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger }));
    c = clients(cloud.clientConfig());
    await waitStatus(c.rds, 'power-mysql', 'available');
    expect((await describe1(c.rds, 'power-postgres')).DBInstanceStatus).toBe('stopped');
    expect(await portAnswers(stopped.Endpoint!.Port!)).toBe(false);
  });

  it('an Aurora cluster stops and starts as a whole; its instances cannot be stopped alone', async () => {
    await c.rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: 'power-aurora',
        Engine: 'aurora-mysql',
        MasterUsername: 'dbadmin',
        ManageMasterUserPassword: true,
        DatabaseName: 'appdb',
      }),
    );
    await c.rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'power-aurora-1',
        DBClusterIdentifier: 'power-aurora',
        Engine: 'aurora-mysql',
        DBInstanceClass: 'db.r6g.large',
      }),
    );
    const member = await waitStatus(c.rds, 'power-aurora-1', 'available');
    const cluster = () =>
      c.rds
        .send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'power-aurora' }))
        .then((o) => o.DBClusters![0]!);
    const err = await awsError(
      () => c.rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'power-aurora-1' })),
      'InvalidParameterCombination',
    );
    expect(err.message).toBe('aurora-mysql DB instances are not eligible for stopping and starting.');
    const stopping = await c.rds.send(new StopDBClusterCommand({ DBClusterIdentifier: 'power-aurora' }));
    expect(stopping.DBCluster?.Status).toBe('stopping');
    await waitStatus(c.rds, 'power-aurora-1', 'stopped');
    expect((await cluster()).Status).toBe('stopped');
    expect(await portAnswers(member.Endpoint!.Port!)).toBe(false);
    await awsError(
      () => c.rds.send(new StopDBClusterCommand({ DBClusterIdentifier: 'power-aurora' })),
      'InvalidDBClusterStateFault',
    );
    await c.rds.send(new StartDBClusterCommand({ DBClusterIdentifier: 'power-aurora' }));
    expect((await waitStatus(c.rds, 'power-aurora-1', 'available')).Endpoint?.Port).toBe(
      member.Endpoint!.Port,
    );
    expect((await cluster()).Status).toBe('available');
    expect((await cluster()).Port).toBe(member.Endpoint!.Port);
  }, 120_000);

  it('unknown instances: DBInstanceNotFound', async () => {
    await awsError(
      () => c.rds.send(new RebootDBInstanceCommand({ DBInstanceIdentifier: 'nope' })),
      'DBInstanceNotFoundFault',
    );
  });

  itWhen(haveAwsCli, 'the AWS CLI v2 is not installed (scripts/setup.sh installs it)')(
    'the AWS CLI: reboot-db-instance, stop-db-instance, start-db-instance',
    async () => {
      const aws = (...args: string[]) => awsCli(cloud, 'rds', ...args);
      const id = 'power-mysql';
      const r = (await aws('reboot-db-instance', '--db-instance-identifier', id)) as {
        DBInstance: { DBInstanceStatus: string };
      };
      expect(r.DBInstance.DBInstanceStatus).toBe('rebooting');
      await waitStatus(c.rds, id, 'available');
      const s = (await aws('stop-db-instance', '--db-instance-identifier', id)) as {
        DBInstance: { DBInstanceStatus: string };
      };
      expect(s.DBInstance.DBInstanceStatus).toBe('stopping');
      await waitStatus(c.rds, id, 'stopped');
      const err = await aws('stop-db-instance', '--db-instance-identifier', id).catch((e: Error) => e);
      expect(String(err)).toMatch(/InvalidDBInstanceState/);
      const st = (await aws('start-db-instance', '--db-instance-identifier', id)) as {
        DBInstance: { DBInstanceStatus: string };
      };
      expect(st.DBInstance.DBInstanceStatus).toBe('starting');
      await waitStatus(c.rds, id, 'available');
    },
  );
});
