import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { serverVersion } from '../dbserver/index';
import type { CertificateAuthority } from '../dbserver/tls';
import type { RunningServer } from '../dbserver/types';
import type { EventLog } from '../events/log';
import { AwsError } from '../http/errors';
import type { LocalLogger } from '../log';
import type { SecretsManager } from '../secretsmanager/service';
import type { Store } from '../store/db';
import { Power } from './power';
import {
  combination,
  type DbKind,
  type DbRecord,
  invalid,
  invalidState,
  type SnapshotRecord,
} from './records';
import { RDS_CA_IDENTIFIER, RdsServers } from './servers';
import { RdsStore } from './store';
import { type CreateInput, checkCreate, IDENTIFIER } from './validate';

export type { DbRecord, SnapshotRecord } from './records';
export { notFoundCluster, notFoundInstance } from './records';
export type { CreateInput } from './validate';

// RDS refuses these in master passwords.
const PASSWORD_EXCLUDE = '/@"\' ';

export interface RdsOptions {
  store: Store;
  secrets: SecretsManager;
  events: EventLog;
  stateDir: string;
  region: string;
  accountId: string;
  logger: LocalLogger;
  /** The local RDS's certificate authority (undefined without openssl: no TLS). */
  ca?: CertificateAuthority | undefined;
}

/**
 * RDS on the local cloud: each instance (or Aurora cluster) is a real PostgreSQL or MariaDB
 * process with its own data directory under `<stateDir>/rds`. Records live in the store; the
 * master password lives only in Secrets Manager (the managed `rds!` secret, or, for a password the
 * caller chose, an RDS-owned secret of its own that is never shown to anyone).
 */
export class Rds {
  private readonly work = new Set<Promise<unknown>>();
  private stopping = false;
  private readonly records: RdsStore;
  private readonly servers: RdsServers;
  private readonly power: Power;
  readonly dataRoot: string;
  readonly snapshotRoot: string;

  constructor(private readonly o: RdsOptions) {
    this.records = new RdsStore(o.store);
    this.servers = new RdsServers(o.stateDir, o.ca);
    this.power = new Power({
      records: this.records,
      servers: this.servers,
      events: o.events,
      logger: o.logger,
      masterPassword: (owner) => this.masterPassword(owner),
      track: (p) => this.track(p),
      stopping: () => this.stopping,
    });
    this.servers.onUnexpectedExit = (owner, exit) => this.power.serverDied(owner, exit);
    this.dataRoot = this.servers.dataRoot;
    this.snapshotRoot = path.join(o.stateDir, 'snapshots');
  }

  // --------------------------------------------------------------- records

  private arnOf(kind: DbKind, id: string): string {
    return `arn:aws:rds:${this.o.region}:${this.o.accountId}:${kind === 'cluster' ? 'cluster' : 'db'}:${id}`;
  }

  get(kind: DbKind, id: string): DbRecord | undefined {
    return this.records.get(kind, id);
  }

  /**
   * The TLS RDS reports for a database (CACertificateIdentifier, CertificateDetails): the local
   * CA and when the server's certificate expires; undefined when the servers have no TLS.
   */
  certificateOf(r: DbRecord): { caIdentifier: string; validTill: Date | undefined } | undefined {
    if (!this.servers.ca) return undefined;
    const owner = r.clusterId ? this.get('cluster', r.clusterId) : r;
    return {
      caIdentifier: RDS_CA_IDENTIFIER,
      validTill: owner ? this.servers.certificateValidTill(owner) : undefined,
    };
  }

  /** Accepts an identifier or an ARN. */
  find(kind: DbKind, idOrArn: string): DbRecord {
    return this.records.find(kind, idOrArn);
  }

  list(kind: DbKind): DbRecord[] {
    return this.records.list(kind);
  }

  private update(kind: DbKind, id: string, change: Partial<DbRecord>): DbRecord {
    return this.records.update(kind, id, change);
  }

  /**
   * The connection endpoint: the port recorded for life (clusters and their instances share the
   * cluster's), whether the server is up or not, as RDS shows a stopped instance's endpoint.
   */
  endpointOf(r: DbRecord): { host: string; port: number } | undefined {
    const owner = r.clusterId ? this.get('cluster', r.clusterId) : r;
    return owner && owner.port > 0 ? { host: '127.0.0.1', port: owner.port } : undefined;
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
  async waitForStatus(kind: DbKind, id: string, status: string, timeoutMs = 120_000): Promise<DbRecord> {
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
    const { engine: e, cluster } = checkCreate(i, this.records);
    const now = Date.now();
    const r: DbRecord = {
      kind: i.kind,
      id: i.id,
      arn: this.arnOf(i.kind, i.id),
      engine: i.engine,
      // The server that really runs it (MariaDB for mysql), not the version RDS would run.
      engineVersion: serverVersion(e.server) ?? e.version,
      instanceClass: i.instanceClass ?? 'db.t3.micro',
      dbName: cluster ? cluster.dbName : i.dbName,
      masterUsername: cluster ? cluster.masterUsername : (i.masterUsername ?? ''),
      status: 'creating',
      port: 0,
      deletionProtection: i.deletionProtection ?? false,
      secretArn: undefined,
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
      r.secretArn = secret.ARN;
      if (i.manageMasterUserPassword) r.secretStatus = 'creating';
      else {
        r.tags = [...r.tags, { Key: 'credflow:unmanaged-master', Value: 'true' }];
      }
    }
    this.records.save(r);
    this.o.logger.info('rds: creating', { kind: r.kind, id: r.id, engine: r.engine });
    this.track(this.power.bringUp(r, 'creation'));
    return r;
  }

  /** Whether the caller may see the master secret (ManageMasterUserPassword). */
  isManaged(r: DbRecord): boolean {
    const owner = r.clusterId ? this.get('cluster', r.clusterId) : r;
    return !!owner && !owner.tags.some((t) => t.Key === 'credflow:unmanaged-master');
  }

  /** On start: the servers of databases that exist come back on their own ports. */
  restartAll(): void {
    this.power.restartAll((r) => this.finishDelete(r, undefined));
  }

  // --------------------------------------------------------------- reboot, stop, start

  /** RebootDBInstance / RebootDBCluster: rebooting, then available on the same endpoint. */
  reboot(kind: DbKind, id: string): DbRecord {
    const r = this.find(kind, id);
    if (r.status !== 'available' && r.status !== 'incompatible-network') {
      throw invalidState(
        kind,
        `${kind === 'cluster' ? 'DbCluster' : 'DB instance'} ${id} is not in available state.`,
      );
    }
    const rebooting = this.update(kind, id, { status: 'rebooting', statusMessage: undefined });
    this.track(this.power.reboot(rebooting));
    return rebooting;
  }

  /** StopDBInstance / StopDBCluster: stopping, then stopped; the endpoint stays reserved. */
  stopDb(kind: DbKind, id: string): DbRecord {
    const r = this.find(kind, id);
    this.refuseClusterMember(r, 'stopping and starting');
    if (r.status !== 'available') {
      throw invalidState(
        kind,
        `${kind === 'cluster' ? 'DbCluster' : 'Instance'} ${id} is not in available state.`,
      );
    }
    for (const m of this.power.groupOf(r)) this.update(m.kind, m.id, { status: 'stopping' });
    this.track(this.power.stop(r));
    return this.find(kind, id);
  }

  /** StartDBInstance / StartDBCluster: starting, then available on the same endpoint. */
  startDb(kind: DbKind, id: string): DbRecord {
    const r = this.find(kind, id);
    this.refuseClusterMember(r, 'stopping and starting');
    if (r.status !== 'stopped' && r.status !== 'incompatible-network') {
      throw invalidState(kind, `${kind === 'cluster' ? 'DbCluster' : 'Instance'} ${id} is not stopped.`);
    }
    for (const m of this.power.groupOf(r))
      this.update(m.kind, m.id, { status: 'starting', statusMessage: undefined });
    this.track(this.power.start(r, 'started'));
    return this.find(kind, id);
  }

  private refuseClusterMember(r: DbRecord, what: string): void {
    if (r.kind === 'instance' && r.clusterId) {
      throw combination(`${r.engine} DB instances are not eligible for ${what}.`);
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
    const s = this.servers.get(r);
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
      if (!r.clusterId) {
        // Also stops a server a killed cloud left running on this data directory.
        await this.servers.exclusive(r, () => this.servers.stop(r));
        rmSync(this.servers.dataDirOf(r), { recursive: true, force: true });
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
      this.records.remove(r);
      this.power.publish(r, 'deletion');
      this.o.logger.info('rds: deleted', { kind: r.kind, id: r.id, finalSnapshot: snapshotId ?? null });
    } catch (err) {
      this.o.logger.error('rds: delete failed', { id: r.id, error: (err as Error).message });
      if (this.get(r.kind, r.id))
        this.update(r.kind, r.id, { status: 'failed', statusMessage: (err as Error).message });
    }
  }

  /**
   * A final snapshot: a logical dump of the database, kept under `<stateDir>/snapshots`, made
   * through the server's admin identity. A stopped database's server runs just for the dump.
   */
  private async dump(r: DbRecord, snapshotId: string): Promise<void> {
    const owner = r.clusterId ? this.find('cluster', r.clusterId) : r;
    mkdirSync(this.snapshotRoot, { recursive: true, mode: 0o700 });
    const file = path.join(this.snapshotRoot, `${snapshotId}.sql`);
    await this.servers.exclusive(owner, async () => {
      const running = this.servers.get(owner);
      const s: RunningServer =
        running ?? (await this.servers.start(owner, owner.port, () => this.masterPassword(owner)));
      await s.dump(file, r.dbName);
      if (!running) await this.servers.stop(owner);
    });
    this.records.addSnapshot({
      id: snapshotId,
      arn: `arn:aws:rds:${this.o.region}:${this.o.accountId}:${r.kind === 'cluster' ? 'cluster-snapshot' : 'snapshot'}:${snapshotId}`,
      sourceId: r.id,
      kind: r.kind,
      engine: r.engine,
      file,
      createdMs: Date.now(),
    });
  }

  snapshot(id: string): SnapshotRecord | undefined {
    return this.records.snapshot(id);
  }

  snapshots(): SnapshotRecord[] {
    return this.records.snapshots();
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
    await this.servers.stopAll();
  }
}
