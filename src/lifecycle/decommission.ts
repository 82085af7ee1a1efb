import {
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
} from '@aws-sdk/client-rds';
import { z } from 'zod';
import { rdsCall } from '../aws/errors';
import type { Deps } from '../deps';
import { NotFoundError } from '../errors';
import { parser } from '../validate';
import {
  type DbKind,
  type DbRef,
  dbTarget,
  identifier,
  locateDatabase,
  modifyDatabase,
  pollBudget,
} from './database';

/*
 * decommission-database: deletion protection off, delete (with a final snapshot or without),
 * then (in the state machine) wait until gone and retire the child secrets.
 */

export const decommissionInput = dbTarget.extend({
  /** Keep a final snapshot under this identifier; omitted: skip it. */
  finalSnapshotIdentifier: identifier.nullish(),
  /** Recovery window for the child user secrets (7-30 days). */
  recoveryWindowInDays: z.number().int().min(7).max(30).default(7),
});

/** Parses disableDeletionProtection's input (a ValidationError naming each bad field). */
export const parseDisableDeletionProtectionInput = parser(
  decommissionInput,
  'invalid decommission-database input',
);

/** DisableDeletionProtection: the first step of decommissioning; a no-op when it is off. */
export async function disableDeletionProtection(
  deps: Deps,
  input: z.infer<typeof decommissionInput>,
): Promise<z.infer<typeof decommissionInput> & { kind: DbKind; engine: string; arn: string }> {
  const db = await locateDatabase(deps, input.identifier, input.kind);
  if (db.deletionProtection) {
    await modifyDatabase(deps, input.identifier, db.kind, { DeletionProtection: false });
    deps.logger.info('DisableDeletionProtection: turned off', { identifier: input.identifier });
  }
  // null, not absent: the state machine's last state reads it by path.
  return {
    ...input,
    finalSnapshotIdentifier: input.finalSnapshotIdentifier ?? null,
    kind: db.kind,
    engine: db.engine,
    arn: db.arn ?? input.identifier,
  };
}

const deleteDatabaseInput = decommissionInput.extend({
  kind: z.enum(['instance', 'cluster']),
  engine: z.string(),
});

/** Parses deleteDatabase's input (a ValidationError naming each bad field). */
export const parseDeleteDatabaseInput = parser(deleteDatabaseInput, 'invalid DeleteDatabase input');

/** DeleteDatabase: with a final snapshot when one is named, else SkipFinalSnapshot. */
export async function deleteDatabase(
  deps: Deps,
  input: z.infer<typeof deleteDatabaseInput>,
): Promise<DbRef & { want: 'deleted' }> {
  const snapshot = input.finalSnapshotIdentifier ? { SkipFinalSnapshot: false } : { SkipFinalSnapshot: true };
  try {
    if (input.kind === 'cluster') {
      // RDS refuses to delete a cluster that still has instances; they go first, without
      // snapshots of their own (the final snapshot is the cluster's).
      const out = await rdsCall(`DescribeDBClusters ${input.identifier}`, () =>
        deps.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: input.identifier })),
      );
      for (const m of out.DBClusters?.[0]?.DBClusterMembers ?? []) {
        if (!m.DBInstanceIdentifier) continue;
        const member = m.DBInstanceIdentifier;
        await rdsCall(`DeleteDBInstance ${member}`, () =>
          deps.rds.send(
            new DeleteDBInstanceCommand({ DBInstanceIdentifier: member, SkipFinalSnapshot: true }),
          ),
        ).catch((err) => {
          if (!(err instanceof NotFoundError)) throw err;
        });
      }
      await rdsCall(`DeleteDBCluster ${input.identifier}`, () =>
        deps.rds.send(
          new DeleteDBClusterCommand({
            DBClusterIdentifier: input.identifier,
            ...snapshot,
            ...(input.finalSnapshotIdentifier
              ? { FinalDBSnapshotIdentifier: input.finalSnapshotIdentifier }
              : {}),
          }),
        ),
      );
    } else {
      await rdsCall(`DeleteDBInstance ${input.identifier}`, () =>
        deps.rds.send(
          new DeleteDBInstanceCommand({
            DBInstanceIdentifier: input.identifier,
            ...snapshot,
            ...(input.finalSnapshotIdentifier
              ? { FinalDBSnapshotIdentifier: input.finalSnapshotIdentifier }
              : {}),
          }),
        ),
      );
    }
  } catch (err) {
    // Gone already: a rerun after the delete went through.
    if (!(err instanceof NotFoundError)) throw err;
  }
  deps.logger.info('DeleteDatabase: requested', {
    identifier: input.identifier,
    finalSnapshot: input.finalSnapshotIdentifier ?? null,
  });
  return {
    identifier: input.identifier,
    kind: input.kind,
    engine: input.engine,
    pollSeconds: input.pollSeconds,
    maxAttempts: pollBudget(input.pollSeconds, input.maxWaitSeconds),
    attempt: 0,
    want: 'deleted',
  };
}
