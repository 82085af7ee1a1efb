/** CreateDBInstance / CreateDBCluster input, checked as RDS checks it before anything changes. */
import { AwsError } from '../http/errors';
import { combination, type DbRecord, ENGINES, invalid } from './records';
import type { RdsStore } from './store';

export const IDENTIFIER = /^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}$/;
const USERNAME = /^[A-Za-z][A-Za-z0-9_]{0,15}$/;
const DBNAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
/**
 * Names the engine itself uses (RDS: "cannot be used as it is a reserved word used by the
 * engine"): here the servers' own admin accounts (rdsadmin, MariaDB's root and mysql).
 */
const RESERVED_MASTER = new Set([
  'rdsadmin',
  'rdsrepladmin',
  'rds_superuser',
  'root',
  'mysql',
  'mariadb.sys',
]);

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

/** Throws RDS's error for bad input; returns the engine and, for an instance in one, its cluster. */
export function checkCreate(
  i: CreateInput,
  records: RdsStore,
): { engine: NonNullable<(typeof ENGINES)[string]>; cluster: DbRecord | undefined } {
  if (!IDENTIFIER.test(i.id) || i.id.endsWith('-')) {
    throw invalid(
      `The parameter ${i.kind === 'cluster' ? 'DBClusterIdentifier' : 'DBInstanceIdentifier'} is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.`,
    );
  }
  const e = ENGINES[i.engine];
  if (!e) throw invalid(`Invalid DB engine: ${i.engine}`);
  let cluster: DbRecord | undefined;
  if (i.kind === 'instance' && i.clusterId) {
    cluster = records.find('cluster', i.clusterId);
    if (cluster.engine !== i.engine)
      throw combination(`The engine of DB instance ${i.id} must match its cluster's`);
  } else if (e.kind === 'cluster' && i.kind === 'instance') {
    throw combination(`${i.engine} instances must be created in a DB cluster (DBClusterIdentifier)`);
  } else if (e.kind === 'instance' && i.kind === 'cluster') {
    throw invalid(`Invalid DB engine for a cluster: ${i.engine}; use aurora-postgresql or aurora-mysql`);
  }
  if (records.get(i.kind, i.id)) {
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
  if (i.masterUsername && RESERVED_MASTER.has(i.masterUsername.toLowerCase())) {
    throw invalid(
      `MasterUsername ${i.masterUsername} cannot be used as it is a reserved word used by the engine`,
    );
  }
  return { engine: e, cluster };
}
