/**
 * What the local RDS keeps about its databases and snapshots, and the errors it answers with.
 * Records live in the store (table per kind of thing), one JSON body per row.
 */
import type { ServerKind } from '../dbserver/types';
import { AwsError } from '../http/errors';
import type { Store } from '../store/db';

export type DbKind = 'instance' | 'cluster';

/** What RDS keeps about an instance or a cluster (a cluster is one server with a writer endpoint). */
export interface DbRecord {
  kind: DbKind;
  id: string;
  arn: string;
  engine: string;
  engineVersion: string;
  instanceClass: string;
  dbName: string | undefined;
  masterUsername: string;
  status: string;
  /**
   * The endpoint's port, chosen once when the server first starts and kept for life: every
   * later start (restart, reboot, start after stop, after a crash) uses it or fails. 0 until then.
   */
  port: number;
  /** Why the status is not what it should be (incompatible-network, failed); shown by Describe. */
  statusMessage?: string | undefined;
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
  kind: DbKind;
  engine: string;
  file: string;
  createdMs: number;
}

export const ENGINES: Record<string, { server: ServerKind; kind: DbKind; version: string; port: number }> = {
  postgres: { server: 'postgres', kind: 'instance', version: '15', port: 5432 },
  mysql: { server: 'mariadb', kind: 'instance', version: '8.0', port: 3306 },
  mariadb: { server: 'mariadb', kind: 'instance', version: '10.11', port: 3306 },
  'aurora-postgresql': { server: 'postgres', kind: 'cluster', version: '15', port: 5432 },
  'aurora-mysql': { server: 'mariadb', kind: 'cluster', version: '8.0.mysql_aurora.3', port: 3306 },
};

export const notFoundInstance = (id: string) =>
  new AwsError('DBInstanceNotFound', `DBInstance ${id} not found.`, 404);
export const notFoundCluster = (id: string) =>
  new AwsError('DBClusterNotFoundFault', `DBCluster ${id} not found.`, 404);
export const invalid = (m: string) => new AwsError('InvalidParameterValue', m);
export const combination = (m: string) => new AwsError('InvalidParameterCombination', m);
/** RDS's wrong-state errors: InvalidDBInstanceState / InvalidDBClusterStateFault. */
export const invalidState = (kind: DbKind, m: string) =>
  new AwsError(kind === 'cluster' ? 'InvalidDBClusterStateFault' : 'InvalidDBInstanceState', m);

/** The rows behind DescribeDBInstances/Clusters and DescribeDBSnapshots. */
export class RdsRecords {
  constructor(private readonly store: Store) {
    store.migrate('rds', [
      {
        id: '001-databases',
        up: `CREATE TABLE rds_databases (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id));
             CREATE TABLE rds_snapshots (id TEXT PRIMARY KEY, body TEXT NOT NULL);`,
      },
    ]);
  }

  get(kind: DbKind, id: string): DbRecord | undefined {
    const row = this.store.db
      .prepare('SELECT body FROM rds_databases WHERE kind = ? AND id = ?')
      .get(kind, id) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as DbRecord) : undefined;
  }

  /** Accepts an identifier or an ARN. */
  find(kind: DbKind, idOrArn: string): DbRecord {
    const id = idOrArn.startsWith('arn:') ? (idOrArn.split(':').pop() ?? '') : idOrArn;
    const r = this.get(kind, id);
    if (!r) throw kind === 'cluster' ? notFoundCluster(id) : notFoundInstance(id);
    return r;
  }

  list(kind: DbKind): DbRecord[] {
    return (
      this.store.db.prepare('SELECT body FROM rds_databases WHERE kind = ? ORDER BY id').all(kind) as {
        body: string;
      }[]
    ).map((r) => JSON.parse(r.body) as DbRecord);
  }

  save(r: DbRecord): void {
    this.store.db
      .prepare(
        'INSERT INTO rds_databases (kind, id, body) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body',
      )
      .run(r.kind, r.id, JSON.stringify(r));
  }

  update(kind: DbKind, id: string, change: Partial<DbRecord>): DbRecord {
    const r = { ...this.find(kind, id), ...change };
    this.save(r);
    return r;
  }

  remove(r: DbRecord): void {
    this.store.db.prepare('DELETE FROM rds_databases WHERE kind = ? AND id = ?').run(r.kind, r.id);
  }

  /** Ports held by any database's endpoint, so a new one never takes another's. */
  portsInUse(): Set<number> {
    return new Set(
      [...this.list('cluster'), ...this.list('instance')].map((r) => r.port).filter((p) => p > 0),
    );
  }

  snapshot(id: string): SnapshotRecord | undefined {
    const row = this.store.db.prepare('SELECT body FROM rds_snapshots WHERE id = ?').get(id) as
      | { body: string }
      | undefined;
    return row ? (JSON.parse(row.body) as SnapshotRecord) : undefined;
  }

  snapshots(): SnapshotRecord[] {
    return (
      this.store.db.prepare('SELECT body FROM rds_snapshots ORDER BY id').all() as { body: string }[]
    ).map((r) => JSON.parse(r.body) as SnapshotRecord);
  }

  addSnapshot(s: SnapshotRecord): void {
    this.store.db.prepare('INSERT INTO rds_snapshots (id, body) VALUES (?, ?)').run(s.id, JSON.stringify(s));
  }
}
