/**
 * What each RDS call needs of IAM ("Actions, resources, and condition keys for Amazon RDS"): the
 * action on the instance's or cluster's ARN, its tags (aws:ResourceTag/*), the request's tags
 * (aws:RequestTag/*, aws:TagKeys) and rds:ManageMasterUserPassword. Deleting with a final
 * snapshot also creates that snapshot, which IAM checks on the database's ARN and on the
 * snapshot's, as it checks CreateDBSnapshot itself.
 */
import type { AuthzDescriber, AuthzNeed } from '../iam/gate';
import type { ContextValue } from '../iam/types';
import type { Rds } from './service';

type Kind = 'db' | 'cluster';

/** Action -> the parameter naming its resource, and the resource's kind. */
const ON_RESOURCE: Record<string, [string, Kind]> = {
  CreateDBInstance: ['DBInstanceIdentifier', 'db'],
  CreateDBCluster: ['DBClusterIdentifier', 'cluster'],
  DeleteDBInstance: ['DBInstanceIdentifier', 'db'],
  DeleteDBCluster: ['DBClusterIdentifier', 'cluster'],
  ModifyDBInstance: ['DBInstanceIdentifier', 'db'],
  ModifyDBCluster: ['DBClusterIdentifier', 'cluster'],
  RebootDBInstance: ['DBInstanceIdentifier', 'db'],
  RebootDBCluster: ['DBClusterIdentifier', 'cluster'],
  StartDBInstance: ['DBInstanceIdentifier', 'db'],
  StartDBCluster: ['DBClusterIdentifier', 'cluster'],
  StopDBInstance: ['DBInstanceIdentifier', 'db'],
  StopDBCluster: ['DBClusterIdentifier', 'cluster'],
  DescribeDBInstances: ['DBInstanceIdentifier', 'db'],
  DescribeDBClusters: ['DBClusterIdentifier', 'cluster'],
};
const ON_ARN = new Set(['AddTagsToResource', 'RemoveTagsFromResource', 'ListTagsForResource']);

function requestTags(p: Record<string, unknown>): Record<string, ContextValue> {
  const keys: string[] = [];
  const out: Record<string, ContextValue> = {};
  for (const [k, v] of Object.entries(p)) {
    const m = /^Tags\.(?:Tag|member)\.(\d+)\.Key$/.exec(k);
    if (!m) continue;
    keys.push(String(v));
    out[`aws:RequestTag/${String(v)}`] = String(p[`Tags.${k.split('.')[1]}.${m[1]}.Value`] ?? '');
  }
  if (keys.length > 0) out['aws:TagKeys'] = keys;
  return out;
}

export function rdsAuthz(rds: Rds, where: { region: string; accountId: string }): AuthzDescriber {
  const arn = (rest: string) => `arn:aws:rds:${where.region}:${where.accountId}:${rest}`;
  const resourceTags = (kind: Kind, id: string): Record<string, ContextValue> => {
    const r = rds.get(kind === 'db' ? 'instance' : 'cluster', id);
    return Object.fromEntries((r?.tags ?? []).map((t) => [`aws:ResourceTag/${t.Key}`, t.Value]));
  };
  return (action, p) => {
    if (action === 'DescribeDBSnapshots') {
      const id = p['DBSnapshotIdentifier'];
      return [{ action: 'rds:DescribeDBSnapshots', resource: arn(`snapshot:${id ? String(id) : '*'}`) }];
    }
    if (ON_ARN.has(action)) {
      const name = String(p['ResourceName'] ?? '');
      const m = /^arn:[^:]+:rds:[^:]*:\d*:(db|cluster):(.+)$/.exec(name);
      const context = {
        ...(m ? resourceTags(m[1] as Kind, m[2] as string) : {}),
        ...(action === 'AddTagsToResource' ? requestTags(p) : {}),
        ...(action === 'RemoveTagsFromResource'
          ? {
              'aws:TagKeys': Object.entries(p)
                .filter(([k]) => /^TagKeys\.member\.\d+$/.test(k))
                .map(([, v]) => String(v)),
            }
          : {}),
      };
      return [{ action: `rds:${action}`, resource: name, context }];
    }
    const spec = ON_RESOURCE[action];
    if (!spec) return undefined;
    const [param, kind] = spec;
    const id = typeof p[param] === 'string' ? (p[param] as string) : undefined;
    if (!id) return [{ action: `rds:${action}`, resource: arn(`${kind}:*`) }];
    const context: Record<string, ContextValue> = { ...resourceTags(kind, id) };
    if (action.startsWith('Create')) Object.assign(context, requestTags(p));
    // The service authorization reference lists rds:ManageMasterUserPassword for CreateDBInstance,
    // CreateDBCluster, ModifyDBInstance and ModifyDBCluster; the request carries it only when it
    // gives the parameter (a plain modification has no such key: a Bool condition on it does not match).
    if (
      (action.startsWith('Create') || action.startsWith('Modify')) &&
      p['ManageMasterUserPassword'] !== undefined
    )
      context['rds:ManageMasterUserPassword'] = String(p['ManageMasterUserPassword']) === 'true';
    const needs: AuthzNeed[] = [{ action: `rds:${action}`, resource: arn(`${kind}:${id}`), context }];
    if (action.startsWith('Create') && context['aws:TagKeys'])
      // Tags given at creation are also an AddTagsToResource, which IAM checks with the request's tags.
      needs.push({ action: 'rds:AddTagsToResource', resource: arn(`${kind}:${id}`), context });
    const snapshot = p['FinalDBSnapshotIdentifier'];
    if (
      action.startsWith('Delete') &&
      String(p['SkipFinalSnapshot']) !== 'true' &&
      typeof snapshot === 'string'
    ) {
      // The service authorization reference lists both resource types of CreateDBSnapshot
      // (CreateDBClusterSnapshot) as required: the database, with its tags, and the snapshot.
      const createSnapshot = kind === 'db' ? 'rds:CreateDBSnapshot' : 'rds:CreateDBClusterSnapshot';
      needs.push(
        { action: createSnapshot, resource: arn(`${kind}:${id}`), context: resourceTags(kind, id) },
        {
          action: createSnapshot,
          resource: arn(`${kind === 'db' ? 'snapshot' : 'cluster-snapshot'}:${snapshot}`),
        },
      );
    }
    return needs;
  };
}
