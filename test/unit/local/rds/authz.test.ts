import { rdsAuthz } from '../../../../local/rds/authz';
import type { Rds } from '../../../../local/rds/service';

const where = { region: 'us-east-1', accountId: '123456789012' };
const arn = (rest: string) => `arn:aws:rds:us-east-1:123456789012:${rest}`;
const TAGS = [{ Key: 'credflow:managed', Value: 'true' }];
/** The one read the describer makes of the local RDS: a database's tags. */
const rds = {
  get: (_kind: string, id: string) => (id.startsWith('shop') ? { tags: TAGS } : undefined),
} as unknown as Rds;
const needsOf = rdsAuthz(rds, where);

describe('what IAM checks for an RDS call', () => {
  it('deleting an instance with a final snapshot: DeleteDBInstance, and CreateDBSnapshot on the database and on the snapshot', () => {
    expect(
      needsOf('DeleteDBInstance', {
        DBInstanceIdentifier: 'shop-db',
        FinalDBSnapshotIdentifier: 'shop-db-final-1',
      }),
    ).toEqual([
      {
        action: 'rds:DeleteDBInstance',
        resource: arn('db:shop-db'),
        context: { 'aws:ResourceTag/credflow:managed': 'true' },
      },
      {
        action: 'rds:CreateDBSnapshot',
        resource: arn('db:shop-db'),
        context: { 'aws:ResourceTag/credflow:managed': 'true' },
      },
      { action: 'rds:CreateDBSnapshot', resource: arn('snapshot:shop-db-final-1') },
    ]);
  });

  it('a cluster: CreateDBClusterSnapshot on the cluster and on the cluster snapshot', () => {
    const needs = needsOf('DeleteDBCluster', {
      DBClusterIdentifier: 'shop-cl',
      FinalDBSnapshotIdentifier: 'shop-cl-final-1',
    });
    expect(needs?.map((n) => [n.action, n.resource])).toEqual([
      ['rds:DeleteDBCluster', arn('cluster:shop-cl')],
      ['rds:CreateDBClusterSnapshot', arn('cluster:shop-cl')],
      ['rds:CreateDBClusterSnapshot', arn('cluster-snapshot:shop-cl-final-1')],
    ]);
  });

  it('SkipFinalSnapshot: the delete alone', () => {
    for (const p of [
      { DBInstanceIdentifier: 'shop-db', SkipFinalSnapshot: 'true' },
      { DBInstanceIdentifier: 'shop-db', SkipFinalSnapshot: 'true', FinalDBSnapshotIdentifier: 'ignored' },
    ]) {
      expect(needsOf('DeleteDBInstance', p)?.map((n) => n.action)).toEqual(['rds:DeleteDBInstance']);
    }
  });

  it('tags given at creation are checked as AddTagsToResource too, with the request tags', () => {
    const needs = needsOf('CreateDBInstance', {
      DBInstanceIdentifier: 'new-db',
      ManageMasterUserPassword: 'true',
      'Tags.Tag.1.Key': 'team',
      'Tags.Tag.1.Value': 'shop',
    });
    expect(needs?.map((n) => n.action)).toEqual(['rds:CreateDBInstance', 'rds:AddTagsToResource']);
    expect(needs?.[0]?.context).toEqual({
      'aws:RequestTag/team': 'shop',
      'aws:TagKeys': ['team'],
      'rds:ManageMasterUserPassword': true,
    });
  });

  it('rds:ManageMasterUserPassword on ModifyDBInstance and ModifyDBCluster, only when the request gives it', () => {
    for (const [action, param, kind, id] of [
      ['ModifyDBInstance', 'DBInstanceIdentifier', 'db', 'shop-db'],
      ['ModifyDBCluster', 'DBClusterIdentifier', 'cluster', 'shop-cl'],
    ] as const) {
      expect(needsOf(action, { [param]: id, ManageMasterUserPassword: 'false' })).toEqual([
        {
          action: `rds:${action}`,
          resource: arn(`${kind}:${id}`),
          context: { 'aws:ResourceTag/credflow:managed': 'true', 'rds:ManageMasterUserPassword': false },
        },
      ]);
      expect(needsOf(action, { [param]: id, ManageMasterUserPassword: 'true' })?.[0]?.context).toMatchObject({
        'rds:ManageMasterUserPassword': true,
      });
      // A modification that does not mention it (deletion protection, a password rotation) has no such key.
      for (const other of [{ DeletionProtection: 'true' }, { RotateMasterUserPassword: 'true' }])
        expect(needsOf(action, { [param]: id, ...other })?.[0]?.context).not.toHaveProperty(
          'rds:ManageMasterUserPassword',
        );
    }
    // Nor do the other calls, whatever they are given.
    expect(
      needsOf('RebootDBInstance', { DBInstanceIdentifier: 'shop-db', ManageMasterUserPassword: 'false' })?.[0]
        ?.context,
    ).not.toHaveProperty('rds:ManageMasterUserPassword');
  });
});
