import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { findPostgresBinaries } from '../dbserver/binaries';
import { startDbServer } from '../dbserver/index';
import type { RunningServer, ServerKind } from '../dbserver/types';
import type { EventLog } from '../events/log';
import { AwsError } from '../http/errors';
import type { LocalLogger } from '../log';
import type { SecretsManager } from '../secretsmanager/service';
import type { Store } from '../store/db';

const run = promisify(execFile);

/** What RDS keeps about an instance or a cluster (a cluster is one server with a writer endpoint). */
export interface DbRecord {
  kind: 'instance' | 'cluster';
  id: string;
  arn: string;
  engine: string;
  engineVersion: string;
  instanceClass: string;
  dbName: string | undefined;
  masterUsername: string;
  status: string;
  port: number;
  deletionProtection: boolean;
  /** The managed master secret, when ManageMasterUserPassword. */
  secretArn: string | undefined;
  secretStatus: 'creating' | 'active' | 'rotating' | undefined;
  kmsKeyId: string | undefined;
  /** For an instance in a cluster: the cluster; it shares the cluster's server. */
  clusterId: string | undefined;
  createdMs: number;
  tags: { Key: string; Value: string }[];
  allocatedStorage: number;
}

export interface SnapshotRecord {
  id: string;
  arn: string;
  sourceId: string;
  kind: 'instance' | 'cluster';
  engine: string;
  file: string;
  createdMs: number;
}

const ENGINES: Record<
  string,
  { server: ServerKind; kind: 'instance' | 'cluster'; version: string; port: number }
> = {
  postgres: { server: 'postgres', kind: 'instance', version: '15', port: 5432 },
  mysql: { server: 'mariadb', kind: 'instance', version: '8.0', port: 3306 },
  mariadb: { server: 'mariadb', kind: 'instance', version: '10.11', port: 3306 },
  'aurora-postgresql': { server: 'postgres', kind: 'cluster', version: '15', port: 5432 },
  'aurora-mysql': { server: 'mariadb', kind: 'cluster', version: '8.0.mysql_aurora.3', port: 3306 },
};

const IDENTIFIER = /^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}$/;
const USERNAME = /^[A-Za-z][A-Za-z0-9_]{0,15}$/;
const DBNAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
// RDS refuses these in master passwords.
const PASSWORD_EXCLUDE = '/@"\' ';

export const notFoundInstance = (id: string) =>
  new AwsError('DBInstanceNotFound', `DBInstance ${id} not found.`, 404);
export const notFoundCluster = (id: string) =>
  new AwsError('DBClusterNotFoundFault', `DBCluster ${id} not found.`, 404);
const invalid = (m: string) => new AwsError('InvalidParameterValue', m);
const combination = (m: string) => new AwsError('InvalidParameterCombination', m);

export interface RdsOptions {
  store: Store;
  secrets: SecretsManager;
  events: EventLog;
  stateDir: string;
  region: string;
  accountId: string;
  logger: LocalLogger;
}

export interface CreateInput {
  kind: 'instance' | 'cluster';
  id: string;
  engine: string;
  instanceClass?: string | undefined;
  dbName?: string | undefined;
  masterUsername?: string | undefined;
  masterUserPassword?: string | undefined;
  manageMasterUserPassword?: boolean | undefined;
  masterUserSecretKmsKeyId?: string | undefined;
  deletionProtection?: boolean | undefined;
  clusterId?: string | undefined;
  allocatedStorage?: number | undefined;
  tags?: { Key: string; Value: string }[] | undefined;
}

/**
 * RDS on the local cloud: each instance (or Aurora cluster) is a real PostgreSQL or MariaDB
 * process with its own data directory under `<stateDir>/rds`. Records live in the store; the
 * master password lives only in Secrets Manager (the managed `rds!` secret, or, for a password the
 * caller chose, an RDS-owned secret of its own that is never shown to anyone).
 */
export class Rds {
  private readonly servers = new Map<string, RunningServer>();
  /** Server starts under way, so a cluster and its instance share one start. */
  private readonly starting = new Map<string, Promise<RunningServer | undefined>>();
  private readonly work = new Set<Promise<unknown>>();
  private stopping = false;
  readonly dataRoot: string;
  readonly snapshotRoot: string;

  constructor(private readonly o: RdsOptions) {
    o.store.migrate('rds', [
      {
        id: '001-databases',
        up: `CREATE TABLE rds_databases (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id));
             CREATE TABLE rds_snapshots (id TEXT PRIMARY KEY, body TEXT NOT NULL);`,
      },
    ]);
    this.dataRoot = path.join(o.stateDir, 'rds');
    this.snapshotRoot = path.join(o.stateDir, 'snapshots');
  }

  // --------------------------------------------------------------- records

  private arnOf(kind: 'instance' | 'cluster', id: string): string {
    return `arn:aws:rds:${this.o.region}:${this.o.accountId}:${kind === 'cluster' ? 'cluster' : 'db'}:${id}`;
  }

  get(kind: 'instance' | 'cluster', id: string): DbRecord | undefined {
    const row = this.o.store.db
      .prepare('SELECT body FROM rds_databases WHERE kind = ? AND id = ?')
      .get(kind, id) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as DbRecord) : undefined;
  }

  /** Accepts an identifier or an ARN. */
  find(kind: 'instance' | 'cluster', idOrArn: string): DbRecord {
    const id = idOrArn.startsWith('arn:') ? (idOrArn.split(':').pop() ?? '') : idOrArn;
    const r = this.get(kind, id);
    if (!r) throw kind === 'cluster' ? notFoundCluster(id) : notFoundInstance(id);
    return r;
  }

  list(kind: 'instance' | 'cluster'): DbRecord[] {
    return (
      this.o.store.db.prepare('SELECT body FROM rds_databases WHERE kind = ? ORDER BY id').all(kind) as {
        body: string;
      }[]
    ).map((r) => JSON.parse(r.body) as DbRecord);
  }

  private save(r: DbRecord): void {
    this.o.store.db
      .prepare(
        'INSERT INTO rds_databases (kind, id, body) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body',
      )
      .run(r.kind, r.id, JSON.stringify(r));
  }

  private update(kind: 'instance' | 'cluster', id: string, change: Partial<DbRecord>): DbRecord {
    const r = { ...this.find(kind, id), ...change };
    this.save(r);
    return r;
  }

  private serverKey(r: DbRecord): string {
    return r.clusterId ? `cluster/${r.clusterId}` : `${r.kind}/${r.id}`;
  }

  private dataDir(r: DbRecord): string {
    return path.join(this.dataRoot, r.clusterId ? `cluster-${r.clusterId}` : `${r.kind}-${r.id}`);
  }

  /** The connection endpoint: clusters and their instances share the cluster's server. */
  endpointOf(r: DbRecord): { host: string; port: number } | undefined {
    const s = this.servers.get(this.serverKey(r));
    return s ? { host: s.host, port: s.port } : undefined;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.work.add(p);
    p.finally(() => this.work.delete(p)).catch(() => undefined);
    return p;
  }

  /** Resolves when no create, rotation, deletion or restart is in progress. */
  async awaitIdle(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }

  /** Waits until the database reports `status` (tests and the CLI; workflows poll Describe). */
  async waitForStatus(
    kind: 'instance' | 'cluster',
    id: string,
    status: string,
    timeoutMs = 120_000,
  ): Promise<DbRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.get(kind, id);
      if (r?.status === status && (r.secretStatus === undefined || r.secretStatus === 'active')) return r;
      if (Date.now() > deadline) throw new Error(`${kind} ${id} is ${r?.status ?? 'gone'}, not ${status}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  // --------------------------------------------------------------- passwords

  private generatePassword(): string {
    return this.o.secrets.getRandomPassword({
      PasswordLength: 28,
      ExcludeCharacters: PASSWORD_EXCLUDE,
      ExcludePunctuation: false,
    }).RandomPassword as string;
  }

  private masterPassword(r: DbRecord): string {
    if (!r.secretArn) throw new AwsError('InvalidDBInstanceState', `${r.id} has no master secret`);
    const v = this.o.secrets.getSecretValue({ SecretId: r.secretArn, VersionStage: 'AWSCURRENT' });
    return (JSON.parse(v.SecretString ?? '{}') as { password: string }).password;
  }

  private secretName(r: DbRecord): string {
    return `rds!${r.kind === 'cluster' ? 'cluster' : 'db'}-${randomUUID()}`;
  }

  // --------------------------------------------------------------- create

  /** CreateDBInstance / CreateDBCluster: validates, records `creating`, and starts the server in the background. */
  create(i: CreateInput): DbRecord {
    if (this.stopping) throw new AwsError('InternalFailure', 'the local cloud is stopping', 500);
    if (!IDENTIFIER.test(i.id) || i.id.endsWith('-')) {
      throw invalid(
        `The parameter ${i.kind === 'cluster' ? 'DBClusterIdentifier' : 'DBInstanceIdentifier'} is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.`,
      );
    }
    const e = ENGINES[i.engine];
    if (!e) throw invalid(`Invalid DB engine: ${i.engine}`);
    let cluster: DbRecord | undefined;
    if (i.kind === 'instance' && i.clusterId) {
      cluster = this.find('cluster', i.clusterId);
      if (cluster.engine !== i.engine)
        throw combination(`The engine of DB instance ${i.id} must match its cluster's`);
    } else if (e.kind === 'cluster' && i.kind === 'instance') {
      throw combination(`${i.engine} instances must be created in a DB cluster (DBClusterIdentifier)`);
    } else if (e.kind === 'instance' && i.kind === 'cluster') {
      throw invalid(`Invalid DB engine for a cluster: ${i.engine}; use aurora-postgresql or aurora-mysql`);
    }
    if (this.get(i.kind, i.id)) {
      throw i.kind === 'cluster'
        ? new AwsError('DBClusterAlreadyExistsFault', `DB Cluster already exists`)
        : new AwsError('DBInstanceAlreadyExists', `DB instance already exists`);
    }
    if (!cluster) {
      if (i.manageMasterUserPassword && i.masterUserPassword) {
        throw combination("You can't specify MasterUserPassword and ManageMasterUserPassword together.");
      }
      if (!i.manageMasterUserPassword && !i.masterUserPassword) {
        throw invalid(
          'The parameter MasterUserPassword is not a valid password because it is shorter than 8 characters.',
        );
      }
      if (i.masterUserPassword && (i.masterUserPassword.length < 8 || /[/@"' ]/.test(i.masterUserPassword))) {
        throw invalid(
          "The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '\"', ' ' may be used.",
        );
      }
      if (!i.masterUsername)
        throw invalid('The parameter MasterUsername must be provided and must not be blank.');
      if (!USERNAME.test(i.masterUsername)) {
        throw invalid(
          'MasterUsername must begin with a letter and contain only letters, digits and underscores (1-16 characters).',
        );
      }
      if (i.dbName && !DBNAME.test(i.dbName))
        throw invalid(`The parameter DBName is not a valid identifier: ${i.dbName}`);
    }
    const now = Date.now();
    const r: DbRecord = {
      kind: i.kind,
      id: i.id,
      arn: this.arnOf(i.kind, i.id),
      engine: i.engine,
      engineVersion: e.version,
      instanceClass: i.instanceClass ?? 'db.t3.micro',
      dbName: cluster ? cluster.dbName : i.dbName,
      masterUsername: cluster ? cluster.masterUsername : (i.masterUsername ?? ''),
      status: 'creating',
      port: 0,
      deletionProtection: i.deletionProtection ?? false,
      secretArn: cluster ? undefined : undefined,
      secretStatus: undefined,
      kmsKeyId: i.masterUserSecretKmsKeyId,
      clusterId: cluster?.id,
      createdMs: now,
      tags: i.tags ?? [],
      allocatedStorage: i.allocatedStorage ?? (i.kind === 'cluster' ? 1 : 20),
    };
    if (!cluster) {
      // The password lives only in Secrets Manager: managed (`rds!...`, the caller reads it) or
      // chosen by the caller (then an RDS-owned secret no workflow is given).
      const password = i.masterUserPassword ?? this.generatePassword();
      const secret = this.o.secrets.createManagedSecret(
        'rds',
        {
          Name: this.secretName(r),
          Description: `Secret associated with primary RDS DB ${i.kind === 'cluster' ? 'cluster' : 'instance'}: ${r.arn}`,
          SecretString: JSON.stringify({ username: r.masterUsername, password }),
          ...(i.masterUserSecretKmsKeyId ? { KmsKeyId: i.masterUserSecretKmsKeyId } : {}),
          Tags: [
            {
              Key: i.kind === 'cluster' ? 'aws:rds:primaryDBClusterArn' : 'aws:rds:primaryDBInstanceArn',
              Value: r.arn,
            },
            { Key: 'aws:secretsmanager:owningService', Value: 'rds' },
          ],
        },
        { rotationRules: { AutomaticallyAfterDays: 7 } },
      );
      if (i.manageMasterUserPassword) {
        r.secretArn = secret.ARN;
        r.secretStatus = 'creating';
      } else {
        r.secretArn = secret.ARN;
        r.secretStatus = undefined;
        r.tags = [...r.tags, { Key: 'credflow:unmanaged-master', Value: 'true' }];
      }
    }
    this.save(r);
    this.o.logger.info('rds: creating', { kind: r.kind, id: r.id, engine: r.engine });
    this.track(
      this.bringUp(r).catch((err: unknown) => {
        this.o.logger.error('rds: create failed', { id: r.id, error: (err as Error).message });
        if (this.get(r.kind, r.id)) this.update(r.kind, r.id, { status: 'failed' });
      }),
    );
    return r;
  }

  /** Whether the caller may see the master secret (ManageMasterUserPassword). */
  isManaged(r: DbRecord): boolean {
    const owner = r.clusterId ? this.get('cluster', r.clusterId) : r;
    return !!owner && !owner.tags.some((t) => t.Key === 'credflow:unmanaged-master');
  }

  private prepareDirs(): void {
    mkdirSync(this.dataRoot, { recursive: true });
    // PostgreSQL runs as its own OS user and must traverse the state dir to reach its data.
    for (const d of [this.o.stateDir, this.dataRoot]) {
      const mode = statSync(d).mode & 0o777;
      if ((mode & 0o001) === 0) chmodSync(d, mode | 0o711);
    }
  }

  private async startServer(owner: DbRecord, key: string): Promise<RunningServer | undefined> {
    this.prepareDirs();
    const e = ENGINES[owner.engine];
    if (!e) throw new Error(`unknown engine ${owner.engine}`);
    const server = await startDbServer({
      kind: e.server,
      dataDir: this.dataDir(owner),
      masterUsername: owner.masterUsername,
      masterPassword: this.masterPassword(owner),
      ...(owner.dbName ? { dbName: owner.dbName } : {}),
    });
    if (this.stopping || !this.get(owner.kind, owner.id)) {
      await server.stop();
      return undefined;
    }
    this.servers.set(key, server);
    return server;
  }

  private async bringUp(r: DbRecord): Promise<void> {
    const owner = r.clusterId ? this.find('cluster', r.clusterId) : r;
    const key = this.serverKey(r);
    if (!this.servers.has(key)) {
      let pending = this.starting.get(key);
      if (!pending) {
        pending = this.startServer(owner, key).finally(() => this.starting.delete(key));
        this.starting.set(key, pending);
      }
      if (!(await pending)) return;
    }
    const s = this.servers.get(key) as RunningServer;
    this.update(r.kind, r.id, {
      status: 'available',
      port: s.port,
      ...(r.secretStatus === 'creating' ? { secretStatus: 'active' as const } : {}),
    });
    this.publishEvent(r, 'creation');
    this.o.logger.info('rds: available', { kind: r.kind, id: r.id, port: s.port });
  }

  /** RDS's event for a created or deleted instance (RDS-EVENT-0005/0003) or cluster (0170/0171). */
  private publishEvent(r: DbRecord, category: 'creation' | 'deletion'): void {
    const cluster = r.kind === 'cluster';
    const ids = {
      creation: cluster ? 'RDS-EVENT-0170' : 'RDS-EVENT-0005',
      deletion: cluster ? 'RDS-EVENT-0171' : 'RDS-EVENT-0003',
    };
    this.o.events.publish({
      source: 'aws.rds',
      'detail-type': cluster ? 'RDS DB Cluster Event' : 'RDS DB Instance Event',
      resources: [r.arn],
      detail: {
        EventCategories: [category],
        SourceType: cluster ? 'CLUSTER' : 'DB_INSTANCE',
        SourceArn: r.arn,
        Date: new Date().toISOString(),
        Message: `DB ${cluster ? 'cluster' : 'instance'} ${category === 'creation' ? 'created' : 'deleted'}`,
        SourceIdentifier: r.id,
        EventID: ids[category],
      },
    });
  }

  /** On start: the servers of databases that exist come back (status `available` again when up). */
  restartAll(): void {
    for (const kind of ['cluster', 'instance'] as const) {
      for (const r of this.list(kind)) {
        if (r.status === 'deleting') {
          this.track(this.finishDelete(r, undefined));
          continue;
        }
        if (r.status === 'failed') continue;
        this.update(kind, r.id, {
          status: r.status === 'creating' ? 'creating' : 'starting',
          ...(r.secretStatus === 'rotating' ? { secretStatus: 'active' as const } : {}),
        });
        this.track(
          this.bringUp(this.find(kind, r.id)).catch((err: unknown) => {
            this.o.logger.error('rds: restart failed', { id: r.id, error: (err as Error).message });
            if (this.get(kind, r.id)) this.update(kind, r.id, { status: 'failed' });
          }),
        );
      }
    }
  }

  // --------------------------------------------------------------- modify

  modify(
    kind: 'instance' | 'cluster',
    id: string,
    m: {
      applyImmediately?: boolean | undefined;
      rotateMasterUserPassword?: boolean | undefined;
      masterUserPassword?: string | undefined;
      deletionProtection?: boolean | undefined;
      manageMasterUserPassword?: boolean | undefined;
    },
  ): DbRecord {
    let r = this.find(kind, id);
    if (m.rotateMasterUserPassword) {
      if (!m.applyImmediately) {
        throw combination('You must specify apply immediately when rotating the master user password.');
      }
      if (!this.isManaged(r) || !r.secretArn) {
        throw combination(
          'You can only rotate the master user password when the master user password is managed in Secrets Manager.',
        );
      }
      if (m.masterUserPassword)
        throw combination("You can't specify MasterUserPassword and RotateMasterUserPassword together.");
    }
    if (r.status !== 'available' && (m.rotateMasterUserPassword || m.masterUserPassword)) {
      throw new AwsError(
        kind === 'cluster' ? 'InvalidDBClusterStateFault' : 'InvalidDBInstanceState',
        `${kind === 'cluster' ? 'DB cluster' : 'DB instance'} is not available for modification (status ${r.status})`,
      );
    }
    if (m.deletionProtection !== undefined)
      r = this.update(kind, id, { deletionProtection: m.deletionProtection });
    if (m.rotateMasterUserPassword) {
      r = this.update(kind, id, { secretStatus: 'rotating' });
      this.track(this.setPassword(r, this.generatePassword()));
    } else if (m.masterUserPassword) {
      if (this.isManaged(r)) {
        throw combination(
          "You can't specify MasterUserPassword for a DB whose master password is managed in Secrets Manager.",
        );
      }
      r = this.update(kind, id, { status: 'resetting-master-credentials' });
      this.track(this.setPassword(r, m.masterUserPassword));
    }
    return r;
  }

  private async setPassword(r: DbRecord, password: string): Promise<void> {
    const s = this.servers.get(this.serverKey(r));
    try {
      if (!s) throw new Error('server not running');
      await s.setMasterPassword(password);
      this.o.secrets.putManagedSecretValue('rds', {
        SecretId: r.secretArn ?? '',
        SecretString: JSON.stringify({ username: r.masterUsername, password }),
      });
    } finally {
      if (this.get(r.kind, r.id)) {
        this.update(r.kind, r.id, {
          status: 'available',
          ...(r.secretStatus === 'rotating' ? { secretStatus: 'active' as const } : {}),
        });
      }
    }
  }

  // --------------------------------------------------------------- delete

  delete(
    kind: 'instance' | 'cluster',
    id: string,
    d: { skipFinalSnapshot?: boolean | undefined; finalSnapshotIdentifier?: string | undefined },
  ): DbRecord {
    const r = this.find(kind, id);
    if (r.deletionProtection) {
      throw combination(
        `Cannot delete protected ${kind === 'cluster' ? 'Cluster' : 'DB Instance'}, please disable deletion protection and try again.`,
      );
    }
    if (r.status === 'deleting') {
      throw new AwsError(
        kind === 'cluster' ? 'InvalidDBClusterStateFault' : 'InvalidDBInstanceState',
        `${id} is already being deleted.`,
      );
    }
    if (kind === 'cluster' && this.list('instance').some((i) => i.clusterId === id)) {
      throw new AwsError(
        'InvalidDBClusterStateFault',
        'Cluster cannot be deleted, it still contains DB instances in non-deleting state.',
      );
    }
    const inCluster = kind === 'instance' && !!r.clusterId;
    if (!inCluster) {
      if (d.skipFinalSnapshot && d.finalSnapshotIdentifier) {
        throw combination(
          'FinalDBSnapshotIdentifier can not be specified when deleting a DB with SkipFinalSnapshot set to true.',
        );
      }
      if (!d.skipFinalSnapshot && !d.finalSnapshotIdentifier) {
        throw combination('FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.');
      }
      if (d.finalSnapshotIdentifier) {
        if (!IDENTIFIER.test(d.finalSnapshotIdentifier))
          throw invalid('The parameter FinalDBSnapshotIdentifier is not a valid identifier.');
        if (this.snapshot(d.finalSnapshotIdentifier)) {
          throw new AwsError(
            'DBSnapshotAlreadyExists',
            `Cannot create the snapshot because a snapshot with the identifier ${d.finalSnapshotIdentifier} already exists.`,
          );
        }
      }
    }
    const deleting = this.update(kind, id, { status: 'deleting' });
    this.track(this.finishDelete(deleting, inCluster ? undefined : d.finalSnapshotIdentifier));
    return deleting;
  }

  private async finishDelete(r: DbRecord, snapshotId: string | undefined): Promise<void> {
    try {
      if (snapshotId) await this.dump(r, snapshotId);
      const key = this.serverKey(r);
      if (!r.clusterId) {
        await this.servers.get(key)?.stop();
        this.servers.delete(key);
        rmSync(this.dataDir(r), { recursive: true, force: true });
        if (r.secretArn) {
          try {
            this.o.secrets.deleteManagedSecret('rds', {
              SecretId: r.secretArn,
              ForceDeleteWithoutRecovery: true,
            });
          } catch (err) {
            this.o.logger.warn('rds: managed secret already gone', {
              id: r.id,
              error: (err as Error).message,
            });
          }
        }
      }
      this.o.store.db.prepare('DELETE FROM rds_databases WHERE kind = ? AND id = ?').run(r.kind, r.id);
      this.publishEvent(r, 'deletion');
      this.o.logger.info('rds: deleted', { kind: r.kind, id: r.id, finalSnapshot: snapshotId ?? null });
    } catch (err) {
      this.o.logger.error('rds: delete failed', { id: r.id, error: (err as Error).message });
      if (this.get(r.kind, r.id)) this.update(r.kind, r.id, { status: 'failed' });
    }
  }

  /** A final snapshot: a logical dump of the database, kept under `<stateDir>/snapshots`. */
  private async dump(r: DbRecord, snapshotId: string): Promise<void> {
    const s = this.servers.get(this.serverKey(r));
    if (!s) throw new Error(`server of ${r.id} is not running; cannot snapshot`);
    mkdirSync(this.snapshotRoot, { recursive: true, mode: 0o700 });
    const file = path.join(this.snapshotRoot, `${snapshotId}.sql`);
    const password = this.masterPassword(r);
    const db = r.dbName ?? (s.kind === 'postgres' ? 'postgres' : '');
    if (s.kind === 'postgres') {
      const bin = path.join(findPostgresBinaries().binDir, 'pg_dump');
      await run(bin, ['-h', s.host, '-p', String(s.port), '-U', r.masterUsername, '-f', file, db], {
        env: { ...process.env, PGPASSWORD: password, PGSSLMODE: 'prefer' },
      });
    } else {
      const args = [
        '-h',
        s.host,
        '-P',
        String(s.port),
        '-u',
        r.masterUsername,
        `--result-file=${file}`,
        '--skip-ssl',
      ];
      await run('mariadb-dump', [...args, ...(db ? ['--databases', db] : ['--all-databases'])], {
        env: { ...process.env, MYSQL_PWD: password },
      });
    }
    const snap: SnapshotRecord = {
      id: snapshotId,
      arn: `arn:aws:rds:${this.o.region}:${this.o.accountId}:${r.kind === 'cluster' ? 'cluster-snapshot' : 'snapshot'}:${snapshotId}`,
      sourceId: r.id,
      kind: r.kind,
      engine: r.engine,
      file,
      createdMs: Date.now(),
    };
    this.o.store.db
      .prepare('INSERT INTO rds_snapshots (id, body) VALUES (?, ?)')
      .run(snapshotId, JSON.stringify(snap));
  }

  snapshot(id: string): SnapshotRecord | undefined {
    const row = this.o.store.db.prepare('SELECT body FROM rds_snapshots WHERE id = ?').get(id) as
      | { body: string }
      | undefined;
    return row ? (JSON.parse(row.body) as SnapshotRecord) : undefined;
  }

  snapshots(): SnapshotRecord[] {
    return (
      this.o.store.db.prepare('SELECT body FROM rds_snapshots ORDER BY id').all() as { body: string }[]
    ).map((r) => JSON.parse(r.body) as SnapshotRecord);
  }

  // --------------------------------------------------------------- tags

  resourceByArn(arn: string): DbRecord {
    const parts = arn.split(':');
    const type = parts[5];
    const id = parts[6] ?? '';
    if (type === 'cluster') return this.find('cluster', id);
    if (type === 'db') return this.find('instance', id);
    throw invalid(`Invalid resource name: ${arn}`);
  }

  addTags(arn: string, tags: { Key: string; Value: string }[]): void {
    const r = this.resourceByArn(arn);
    const merged = new Map(r.tags.map((t) => [t.Key, t.Value]));
    for (const t of tags) merged.set(t.Key, t.Value);
    this.update(r.kind, r.id, { tags: [...merged].map(([Key, Value]) => ({ Key, Value })) });
  }

  removeTags(arn: string, keys: string[]): void {
    const r = this.resourceByArn(arn);
    this.update(r.kind, r.id, { tags: r.tags.filter((t) => !keys.includes(t.Key)) });
  }

  /** Stops every server cleanly (the records stay: the next start brings them back). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.awaitIdle();
    await Promise.all([...this.servers.values()].map((s) => s.stop()));
    this.servers.clear();
  }
}
