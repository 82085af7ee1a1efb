import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AddTagsToResourceCommand,
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ListTagsForResourceCommand,
  ModifyDBInstanceCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { LocalCloud } from '../../local/cloud';
import { silentLogger } from '../../local/log';
import { engineFor, MysqlEngine, PostgresEngine } from '../../src/engines';
import { forgetMasterLocation, resolveMaster, withMaster } from '../../src/rotation/master';
import { awsCli, haveAwsCli } from '../support/aws-cli';
import { awsError, type Harness, startLocalCloud } from '../support/cloud';
import { itWhen } from '../support/skip';
import { trusting } from '../support/trust';

let h: Harness;
let rds: RDSClient;

beforeAll(async () => {
  h = await startLocalCloud();
  rds = new RDSClient({ ...h.cloud.clientConfig(), maxAttempts: 1 });
});
afterAll(async () => {
  rds.destroy();
  await h.stop();
});

const ENGINE_OF = { postgres: 'postgres', mysql: 'mysql' } as const;

async function create(id: string, engine: string, extra: Record<string, unknown> = {}) {
  return rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      Engine: engine,
      DBInstanceClass: 'db.t3.micro',
      AllocatedStorage: 20,
      DBName: 'appdb',
      MasterUsername: 'dbadmin',
      ManageMasterUserPassword: true,
      ...extra,
    }),
  );
}

async function describe1(id: string) {
  const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
  return out.DBInstances![0]!;
}

async function masterCreds(secretArn: string, id: string) {
  const v = JSON.parse((await h.sm.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString!);
  const d = await describe1(id);
  return { host: d.Endpoint!.Address!, port: d.Endpoint!.Port!, username: v.username, password: v.password };
}

describe.each(Object.keys(ENGINE_OF))('RDS instance on %s', (key) => {
  const engine = ENGINE_OF[key as keyof typeof ENGINE_OF];
  const id = `rds-${key}`;
  let secretArn = '';

  it('creates with a managed master secret: creating, then available, and the secret logs in', async () => {
    const out = await create(id, engine);
    expect(out.DBInstance).toMatchObject({
      DBInstanceIdentifier: id,
      DBInstanceStatus: 'creating',
      Engine: engine,
    });
    secretArn = out.DBInstance!.MasterUserSecret!.SecretArn!;
    expect(secretArn).toMatch(/:secret:rds!db-[0-9a-f-]{36}-\w{6}$/);
    await h.cloud.rds.waitForStatus('instance', id, 'available');
    const d = await describe1(id);
    expect(d).toMatchObject({ DBInstanceStatus: 'available', MasterUserSecret: { SecretStatus: 'active' } });
    const s = await h.sm.send(new DescribeSecretCommand({ SecretId: secretArn }));
    expect(s.OwningService).toBe('rds');
    expect(s.Tags).toContainEqual({ Key: 'aws:rds:primaryDBInstanceArn', Value: d.DBInstanceArn });
    expect(s.RotationRules?.AutomaticallyAfterDays).toBe(7);
    const value = JSON.parse(
      (await h.sm.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString!,
    );
    expect(Object.keys(value).sort()).toEqual(['password', 'username']);
    await engineFor(engine).testLogin({ ...(await masterCreds(secretArn, id)), dbname: 'appdb' });
    await awsError(
      () => h.sm.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: '{}' })),
      'InvalidRequestException',
    );
  });

  // DBInstance.CACertificateIdentifier and CertificateDetails (RDS API reference,
  // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html): the CA that
  // issued the server's certificate. Clients verify that certificate against the CA's bundle
  // ("Using SSL/TLS to encrypt a connection to a DB instance"), on loopback as anywhere.
  it('reports the CA that issued its certificate and the engine version that really runs; ssl: true verifies against the local RDS bundle', async () => {
    const d = await describe1(id);
    expect(d.CACertificateIdentifier).toBe('rds-ca-credflow-local-ecc256');
    expect(d.CertificateDetails?.CAIdentifier).toBe(d.CACertificateIdentifier);
    expect(d.CertificateDetails?.ValidTill?.getTime()).toBeGreaterThan(Date.now());
    const bundle = h.cloud.rdsCaBundle!;
    expect(bundle).toBe(path.join(h.stateDir, 'rds-ca', 'rds-ca-bundle.pem'));
    expect(statSync(path.join(h.stateDir, 'rds-ca', 'rds-ca.key')).mode & 0o777).toBe(0o600);
    const creds = { ...(await masterCreds(secretArn, id)), dbname: 'appdb', ssl: true };
    const explicit =
      engine === 'postgres'
        ? new PostgresEngine({ tls: { ca: readFileSync(bundle) } })
        : new MysqlEngine({ tls: { ca: readFileSync(bundle) } });
    expect((await explicit.describeSession!(creds)).tls).toBe(true);
    const session = await engineFor(engine).describeSession!(creds);
    expect(session.tls).toBe(true);
    // EngineVersion is the server that really runs it (MariaDB stands in for MySQL here).
    expect(session.serverVersion.startsWith(d.EngineVersion!)).toBe(true);
    if (engine === 'mysql') expect(session.serverVersion).toMatch(/MariaDB/);
  });

  it('rotates the master password now: old refused, new works, back to active', async () => {
    const old = await masterCreds(secretArn, id);
    await awsError(
      () =>
        rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: id, RotateMasterUserPassword: true })),
      'InvalidParameterCombination',
    );
    const out = await rds.send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: id,
        RotateMasterUserPassword: true,
        ApplyImmediately: true,
      }),
    );
    expect(out.DBInstance?.MasterUserSecret?.SecretStatus).toBe('rotating');
    await h.cloud.rds.waitForStatus('instance', id, 'available');
    const fresh = await masterCreds(secretArn, id);
    expect(fresh.password).not.toBe(old.password);
    await engineFor(engine).testLogin(fresh);
    await expect(engineFor(engine).testLogin(old)).rejects.toMatchObject({ name: 'AuthenticationError' });
    expect((await describe1(id)).MasterUserSecret?.SecretStatus).toBe('active');
  });

  it('resolveMaster: the password read every time, the endpoint remembered until a failure forgets it', async () => {
    const sm = new SecretsManagerClient(h.cloud.clientConfig());
    const calls: string[] = [];
    sm.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countCalls' },
    );
    const deps = { secrets: sm, rds };
    forgetMasterLocation(secretArn);
    const first = await resolveMaster(deps, secretArn);
    expect(calls).toEqual(['GetSecretValueCommand', 'DescribeSecretCommand']);
    const again = await resolveMaster(deps, secretArn);
    expect(calls.slice(2)).toEqual(['GetSecretValueCommand']);
    expect(again.creds).toEqual(first.creds);
    await engineFor(engine).testLogin(again.creds);
    await expect(
      withMaster(deps, secretArn, async () => {
        throw new Error('login failed');
      }),
    ).rejects.toThrow('login failed');
    calls.length = 0;
    await resolveMaster(deps, secretArn);
    expect(calls).toEqual(['GetSecretValueCommand', 'DescribeSecretCommand']);
    sm.destroy();
  });

  it('deletion protection refuses delete; a final snapshot is kept; the managed secret goes', async () => {
    await rds.send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: id,
        DeletionProtection: true,
        ApplyImmediately: true,
      }),
    );
    await awsError(
      () => rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true })),
      'InvalidParameterCombination',
    );
    await awsError(
      () => rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id })),
      'InvalidParameterCombination',
    );
    await rds.send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: id,
        DeletionProtection: false,
        ApplyImmediately: true,
      }),
    );
    const since = new Date();
    const del = await rds.send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, FinalDBSnapshotIdentifier: `${id}-final` }),
    );
    expect(del.DBInstance?.DBInstanceStatus).toBe('deleting');
    await h.cloud.rds.awaitIdle();
    await awsError(
      () => rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })),
      'DBInstanceNotFoundFault',
    );
    const snaps = await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: `${id}-final` }));
    expect(snaps.DBSnapshots?.[0]).toMatchObject({ DBInstanceIdentifier: id, Status: 'available' });
    expect(existsSync(path.join(h.stateDir, 'snapshots', `${id}-final.sql`))).toBe(true);
    await awsError(
      () => h.sm.send(new DescribeSecretCommand({ SecretId: secretArn })),
      'ResourceNotFoundException',
    );
    const ev = h.cloud.events
      .list({ source: 'aws.rds', since })
      .find((e) => e.detail['EventID'] === 'RDS-EVENT-0003');
    expect(ev?.detail).toMatchObject({ SourceIdentifier: id, EventCategories: ['deletion'] });
  });
});

describe('RDS: bad input changes nothing', () => {
  it.each([
    ['an unknown engine', { Engine: 'oracle-ee' }, 'InvalidParameterValue'],
    ['an invalid identifier', { DBInstanceIdentifier: 'bad_id!' }, 'InvalidParameterValue'],
    [
      'a password plus the managed flag',
      { MasterUserPassword: 'Secret-123456' },
      'InvalidParameterCombination',
    ],
    ['neither a password nor the managed flag', { ManageMasterUserPassword: false }, 'InvalidParameterValue'],
  ])('%s', async (_what, extra, code) => {
    const id = (extra as { DBInstanceIdentifier?: string }).DBInstanceIdentifier ?? 'rds-bad';
    const secretsBefore = h.cloud.secrets.listSecrets({}).SecretList?.length;
    await awsError(() => create('rds-bad', 'postgres', extra), code);
    await awsError(
      () =>
        rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id === 'bad_id!' ? 'rds-bad' : id })),
      'DBInstanceNotFoundFault',
    );
    expect(h.cloud.secrets.listSecrets({}).SecretList?.length).toBe(secretsBefore);
  });

  it('a duplicate identifier', async () => {
    await create('rds-dup', 'mysql', {
      ManageMasterUserPassword: false,
      MasterUserPassword: 'Chosen-pass-123',
    });
    await awsError(() => create('rds-dup', 'mysql'), 'DBInstanceAlreadyExistsFault');
    await h.cloud.rds.waitForStatus('instance', 'rds-dup', 'available');
    const d = await describe1('rds-dup');
    expect(d.MasterUserSecret).toBeUndefined();
    await engineFor('mysql').testLogin({
      host: d.Endpoint!.Address!,
      port: d.Endpoint!.Port!,
      username: 'dbadmin',
      password: 'Chosen-pass-123',
    });
    await rds.send(
      new AddTagsToResourceCommand({ ResourceName: d.DBInstanceArn, Tags: [{ Key: 'team', Value: 'db' }] }),
    );
    const tags = await rds.send(new ListTagsForResourceCommand({ ResourceName: d.DBInstanceArn }));
    expect(tags.TagList).toContainEqual({ Key: 'team', Value: 'db' });
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'rds-dup', SkipFinalSnapshot: true }));
    await h.cloud.rds.awaitIdle();
  });
});

describe('Aurora cluster', () => {
  it('aurora-postgresql: a cluster and its writer, one server, managed secret, delete order enforced', async () => {
    const c = await rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: 'aur-pg',
        Engine: 'aurora-postgresql',
        MasterUsername: 'dbadmin',
        ManageMasterUserPassword: true,
        DatabaseName: 'appdb',
      }),
    );
    expect(c.DBCluster?.MasterUserSecret?.SecretArn).toMatch(/:secret:rds!cluster-/);
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'aur-pg-writer',
        DBClusterIdentifier: 'aur-pg',
        Engine: 'aurora-postgresql',
        DBInstanceClass: 'db.r6g.large',
      }),
    );
    await h.cloud.rds.waitForStatus('cluster', 'aur-pg', 'available');
    await h.cloud.rds.waitForStatus('instance', 'aur-pg-writer', 'available');
    const d = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'aur-pg' })))
      .DBClusters![0]!;
    expect(d.DBClusterMembers).toEqual([{ DBInstanceIdentifier: 'aur-pg-writer', IsClusterWriter: true }]);
    const v = JSON.parse(
      (await h.sm.send(new GetSecretValueCommand({ SecretId: d.MasterUserSecret!.SecretArn }))).SecretString!,
    );
    await engineFor('aurora-postgresql').testLogin({
      host: d.Endpoint!,
      port: d.Port!,
      username: v.username,
      password: v.password,
      dbname: 'appdb',
    });
    await awsError(
      () => rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: 'aur-pg', SkipFinalSnapshot: true })),
      'InvalidDBClusterStateFault',
    );
    await rds.send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'aur-pg-writer', SkipFinalSnapshot: true }),
    );
    await h.cloud.rds.awaitIdle();
    await rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: 'aur-pg', SkipFinalSnapshot: true }));
    await h.cloud.rds.awaitIdle();
    await awsError(
      () => rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'aur-pg' })),
      'DBClusterNotFoundFault',
    );
  });
});

describe('restart', () => {
  it('credflow up brings the servers of existing instances back; the secret still logs in', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'credflow-rds-'));
    let cloud = trusting(await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger }));
    let client = new RDSClient({ ...cloud.clientConfig(), maxAttempts: 1 });
    try {
      const out = await client.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: 'keep',
          Engine: 'postgres',
          DBInstanceClass: 'db.t3.micro',
          MasterUsername: 'dbadmin',
          ManageMasterUserPassword: true,
        }),
      );
      await cloud.rds.waitForStatus('instance', 'keep', 'available');
      client.destroy();
      await cloud.stop();
      cloud = trusting(await LocalCloud.start({ stateDir: dir, port: 0, logger: silentLogger }));
      client = new RDSClient({ ...cloud.clientConfig(), maxAttempts: 1 });
      await cloud.rds.waitForStatus('instance', 'keep', 'available');
      const d = (await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'keep' })))
        .DBInstances![0]!;
      const v = JSON.parse(
        cloud.secrets.getSecretValue({ SecretId: out.DBInstance!.MasterUserSecret!.SecretArn! })
          .SecretString!,
      );
      await engineFor('postgres').testLogin({
        host: d.Endpoint!.Address!,
        port: d.Endpoint!.Port!,
        username: v.username,
        password: v.password,
      });
    } finally {
      client.destroy();
      await cloud.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

itWhen(haveAwsCli, 'the AWS CLI v2 is not installed (scripts/setup.sh installs it)')(
  'the AWS CLI creates an instance with --manage-master-user-password and sees MasterUserSecret',
  async () => {
    const aws = (...args: string[]) => awsCli(h.cloud, 'rds', ...args);
    await aws(
      'create-db-instance',
      '--db-instance-identifier',
      'cli-db',
      '--engine',
      'postgres',
      '--db-instance-class',
      'db.t3.micro',
      '--master-username',
      'dbadmin',
      '--manage-master-user-password',
      '--allocated-storage',
      '20',
    );
    const d = (await aws('describe-db-instances', '--db-instance-identifier', 'cli-db')) as {
      DBInstances: { MasterUserSecret: { SecretArn: string } }[];
    };
    expect(d.DBInstances[0]?.MasterUserSecret.SecretArn).toMatch(/rds!db-/);
    await h.cloud.rds.waitForStatus('instance', 'cli-db', 'available');
    await aws('delete-db-instance', '--db-instance-identifier', 'cli-db', '--skip-final-snapshot');
    await h.cloud.rds.awaitIdle();
  },
);
