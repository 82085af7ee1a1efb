import { AwsError } from '../http/errors';
import type { QueryParams, QueryService } from '../http/registry';
import { queryList } from '../http/xml';
import type { DbRecord, Rds } from './service';

const bool = (v: string | undefined): boolean | undefined => (v === undefined ? undefined : v === 'true');
const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));

function tagsOf(p: QueryParams): { Key: string; Value: string }[] {
  return queryList(p, 'Tags.Tag').map((t) => ({ Key: t['Key'] ?? '', Value: t['Value'] ?? '' }));
}

function masterSecret(rds: Rds, r: DbRecord) {
  if (!r.secretArn || !rds.isManaged(r)) return undefined;
  return {
    SecretArn: r.secretArn,
    SecretStatus: r.secretStatus ?? 'active',
    KmsKeyId: r.kmsKeyId ?? 'alias/aws/secretsmanager',
  };
}

/**
 * Why a database is not available (a port held by another process, a failed start). AWS fills
 * StatusInfos for read replication only; the local cloud uses it for its own reason, typed so.
 */
function statusInfos(r: DbRecord) {
  if (!r.statusMessage) return undefined;
  return {
    DBInstanceStatusInfo: [
      { StatusType: 'local', Normal: false, Status: r.status, Message: r.statusMessage },
    ],
  };
}

/** The DBInstance shape DescribeDBInstances returns. */
function instanceXml(rds: Rds, r: DbRecord) {
  const ep = rds.endpointOf(r);
  const cluster = r.clusterId ? rds.get('cluster', r.clusterId) : undefined;
  const certificate = rds.certificateOf(r);
  return {
    DBInstanceIdentifier: r.id,
    DBInstanceClass: r.instanceClass,
    Engine: r.engine,
    EngineVersion: r.engineVersion,
    DBInstanceStatus: r.status,
    StatusInfos: statusInfos(r),
    MasterUsername: r.masterUsername,
    DBName: r.dbName,
    Endpoint:
      ep && r.status !== 'creating'
        ? { Address: ep.host, Port: ep.port, HostedZoneId: 'Z2R2ITUGPM61AM' }
        : undefined,
    AllocatedStorage: r.allocatedStorage,
    InstanceCreateTime: new Date(r.createdMs),
    DBInstanceArn: r.arn,
    DBClusterIdentifier: r.clusterId,
    DeletionProtection: r.deletionProtection,
    StorageEncrypted: true,
    MasterUserSecret: masterSecret(rds, cluster ?? r),
    // The CA that issued the server's certificate, as RDS reports its rds-ca-* (DBInstance,
    // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html).
    CACertificateIdentifier: certificate?.caIdentifier,
    CertificateDetails: certificate
      ? { CAIdentifier: certificate.caIdentifier, ValidTill: certificate.validTill }
      : undefined,
    TagList: { Tag: r.tags },
  };
}

function clusterXml(rds: Rds, r: DbRecord) {
  const ep = rds.endpointOf(r);
  const members = rds.list('instance').filter((i) => i.clusterId === r.id);
  return {
    DBClusterIdentifier: r.id,
    DBClusterArn: r.arn,
    Engine: r.engine,
    EngineVersion: r.engineVersion,
    Status: r.status,
    MasterUsername: r.masterUsername,
    DatabaseName: r.dbName,
    Endpoint: ep && r.status !== 'creating' ? ep.host : undefined,
    ReaderEndpoint: ep && r.status !== 'creating' ? ep.host : undefined,
    Port: ep?.port,
    AllocatedStorage: r.allocatedStorage,
    ClusterCreateTime: new Date(r.createdMs),
    DeletionProtection: r.deletionProtection,
    StorageEncrypted: true,
    MasterUserSecret: masterSecret(rds, r),
    DBClusterMembers: {
      DBClusterMember: members.map((m, i) => ({ DBInstanceIdentifier: m.id, IsClusterWriter: i === 0 })),
    },
    TagList: { Tag: r.tags },
  };
}

function filtered(rds: Rds, kind: 'instance' | 'cluster', p: QueryParams): DbRecord[] {
  const idKey = kind === 'cluster' ? 'DBClusterIdentifier' : 'DBInstanceIdentifier';
  if (p[idKey]) return [rds.find(kind, p[idKey])];
  let all = rds.list(kind);
  for (const f of queryList(p, 'Filters.Filter')) {
    const values = Object.entries(f)
      .filter(([k]) => k.startsWith('Values.Value'))
      .map(([, v]) => v);
    const name = f['Name'];
    if (name === 'db-instance-id' || name === 'db-cluster-id')
      all = all.filter((r) => values.includes(r.id) || values.includes(r.arn));
    else if (name === 'engine') all = all.filter((r) => values.includes(r.engine));
    else throw new AwsError('InvalidParameterValue', `Unrecognized filter name: ${name}`);
  }
  return all;
}

/** RDS's query protocol (Action=CreateDBInstance&...), XML in and out as the 2014-10-31 API. */
export function rdsQueryService(rds: Rds): QueryService {
  return {
    protocol: 'query',
    signingName: 'rds',
    // RDS documents no request size; its largest inputs (50 tags) are a few KiB.
    maxRequestBytes: 1024 * 1024,
    xmlNamespace: 'http://rds.amazonaws.com/doc/2014-10-31/',
    actions: {
      CreateDBInstance: (p) => {
        const r = rds.create({
          kind: 'instance',
          id: p['DBInstanceIdentifier'] ?? '',
          engine: p['Engine'] ?? '',
          instanceClass: p['DBInstanceClass'],
          dbName: p['DBName'],
          masterUsername: p['MasterUsername'],
          masterUserPassword: p['MasterUserPassword'],
          manageMasterUserPassword: bool(p['ManageMasterUserPassword']),
          masterUserSecretKmsKeyId: p['MasterUserSecretKmsKeyId'],
          deletionProtection: bool(p['DeletionProtection']),
          clusterId: p['DBClusterIdentifier'],
          allocatedStorage: num(p['AllocatedStorage']),
          tags: tagsOf(p),
        });
        return { DBInstance: instanceXml(rds, r) };
      },
      DescribeDBInstances: (p) => ({
        DBInstances: { DBInstance: filtered(rds, 'instance', p).map((r) => instanceXml(rds, r)) },
      }),
      ModifyDBInstance: (p) => {
        const r = rds.modify('instance', p['DBInstanceIdentifier'] ?? '', {
          applyImmediately: bool(p['ApplyImmediately']),
          rotateMasterUserPassword: bool(p['RotateMasterUserPassword']),
          masterUserPassword: p['MasterUserPassword'],
          deletionProtection: bool(p['DeletionProtection']),
        });
        return { DBInstance: instanceXml(rds, r) };
      },
      RebootDBInstance: (p) => {
        if (bool(p['ForceFailover'])) {
          throw new AwsError(
            'InvalidParameterCombination',
            'ForceFailover can only be specified for a Multi-AZ DB instance.',
          );
        }
        return { DBInstance: instanceXml(rds, rds.reboot('instance', p['DBInstanceIdentifier'] ?? '')) };
      },
      StopDBInstance: (p) => {
        if (p['DBSnapshotIdentifier']) {
          throw new AwsError(
            'InvalidParameterValue',
            'DBSnapshotIdentifier is not supported by the local cloud.',
          );
        }
        return { DBInstance: instanceXml(rds, rds.stopDb('instance', p['DBInstanceIdentifier'] ?? '')) };
      },
      StartDBInstance: (p) => ({
        DBInstance: instanceXml(rds, rds.startDb('instance', p['DBInstanceIdentifier'] ?? '')),
      }),
      RebootDBCluster: (p) => ({
        DBCluster: clusterXml(rds, rds.reboot('cluster', p['DBClusterIdentifier'] ?? '')),
      }),
      StopDBCluster: (p) => ({
        DBCluster: clusterXml(rds, rds.stopDb('cluster', p['DBClusterIdentifier'] ?? '')),
      }),
      StartDBCluster: (p) => ({
        DBCluster: clusterXml(rds, rds.startDb('cluster', p['DBClusterIdentifier'] ?? '')),
      }),
      DeleteDBInstance: (p) => {
        const r = rds.delete('instance', p['DBInstanceIdentifier'] ?? '', {
          skipFinalSnapshot: bool(p['SkipFinalSnapshot']),
          finalSnapshotIdentifier: p['FinalDBSnapshotIdentifier'],
        });
        return { DBInstance: instanceXml(rds, r) };
      },
      CreateDBCluster: (p) => {
        const r = rds.create({
          kind: 'cluster',
          id: p['DBClusterIdentifier'] ?? '',
          engine: p['Engine'] ?? '',
          dbName: p['DatabaseName'],
          masterUsername: p['MasterUsername'],
          masterUserPassword: p['MasterUserPassword'],
          manageMasterUserPassword: bool(p['ManageMasterUserPassword']),
          masterUserSecretKmsKeyId: p['MasterUserSecretKmsKeyId'],
          deletionProtection: bool(p['DeletionProtection']),
          tags: tagsOf(p),
        });
        return { DBCluster: clusterXml(rds, r) };
      },
      DescribeDBClusters: (p) => ({
        DBClusters: { DBCluster: filtered(rds, 'cluster', p).map((r) => clusterXml(rds, r)) },
      }),
      ModifyDBCluster: (p) => {
        const r = rds.modify('cluster', p['DBClusterIdentifier'] ?? '', {
          applyImmediately: bool(p['ApplyImmediately']),
          rotateMasterUserPassword: bool(p['RotateMasterUserPassword']),
          masterUserPassword: p['MasterUserPassword'],
          deletionProtection: bool(p['DeletionProtection']),
        });
        return { DBCluster: clusterXml(rds, r) };
      },
      DeleteDBCluster: (p) => {
        const r = rds.delete('cluster', p['DBClusterIdentifier'] ?? '', {
          skipFinalSnapshot: bool(p['SkipFinalSnapshot']),
          finalSnapshotIdentifier: p['FinalDBSnapshotIdentifier'],
        });
        return { DBCluster: clusterXml(rds, r) };
      },
      DescribeDBSnapshots: (p) => ({
        DBSnapshots: {
          DBSnapshot: rds
            .snapshots()
            .filter((s) => !p['DBSnapshotIdentifier'] || s.id === p['DBSnapshotIdentifier'])
            .filter((s) => !p['DBInstanceIdentifier'] || s.sourceId === p['DBInstanceIdentifier'])
            .map((s) => ({
              DBSnapshotIdentifier: s.id,
              DBSnapshotArn: s.arn,
              DBInstanceIdentifier: s.sourceId,
              Engine: s.engine,
              Status: 'available',
              SnapshotType: 'manual',
              SnapshotCreateTime: new Date(s.createdMs),
            })),
        },
      }),
      AddTagsToResource: (p) => {
        rds.addTags(p['ResourceName'] ?? '', tagsOf(p));
        return null;
      },
      RemoveTagsFromResource: (p) => {
        rds.removeTags(
          p['ResourceName'] ?? '',
          queryList(p, 'TagKeys.member').map((k) => k[''] ?? ''),
        );
        return null;
      },
      ListTagsForResource: (p) => ({ TagList: { Tag: rds.resourceByArn(p['ResourceName'] ?? '').tags } }),
    },
    statusFor: (e) => e.status,
  };
}
