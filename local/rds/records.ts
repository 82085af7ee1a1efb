/**
 * What the local RDS keeps about its databases and snapshots, the engines it offers, and the
 * errors it answers with. `store.ts` keeps the records.
 */
import type { ServerKind } from '../dbserver/types';
import { AwsError } from '../http/errors';

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
