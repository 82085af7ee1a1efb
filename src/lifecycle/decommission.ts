import {
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
} from '@aws-sdk/client-rds';
import { z } from 'zod';
import { rdsCall } from '../aws/errors';
import type { Deps } from '../deps';
import { NotFoundError, ValidationError } from '../errors';
import { parser } from '../validate';
import { type DbKind, type DbRef, dbTarget, locateDatabase, modifyDatabase, pollBudget } from './database';

/*
 * decommission-database: deletion protection off, delete (with a final snapshot or without),
 * then (in the state machine) wait until gone and retire the child secrets.
 */

/**
 * Snapshot identifiers as RDS takes them: 1-255 letters, digits or hyphens, starting with a
 * letter, no trailing or double hyphen.
 */
const snapshotIdentifier = z
  .string()
  .regex(
    /^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)$/,
    'must be 1-255 letters, digits or hyphens, start with a letter, and have no trailing or double hyphen',
  );

/**
 * As RDS's DeleteDBInstance, the caller chooses: a final snapshot by name, or
 * `skipFinalSnapshot: true`; never both, never neither. Deletion protection is turned off only
 * when `disableDeletionProtection` says so: a protected database is refused otherwise.
 */
export const decommissionInput = dbTarget
  .extend({
    /** Keep a final snapshot under this identifier. */
    finalSnapshotIdentifier: snapshotIdentifier.nullish(),
    /** Delete without a final snapshot (must be said explicitly). */
    skipFinalSnapshot: z.boolean().optional(),
    /** Turn deletion protection off if it is on; otherwise a protected database is refused. */
    disableDeletionProtection: z.boolean().default(false),
    /** Recovery window for the child user secrets (7-30 days). */
    recoveryWindowInDays: z.number().int().min(7).max(30).default(7),
  })
  .superRefine((v, ctx) => {
    const named = typeof v.finalSnapshotIdentifier === 'string';
    if (named === (v.skipFinalSnapshot === true)) {
      ctx.addIssue({
        code: 'custom',
        path: ['finalSnapshotIdentifier'],
        message: named
          ? 'give finalSnapshotIdentifier or skipFinalSnapshot: true, not both'
          : 'choose explicitly: finalSnapshotIdentifier (a snapshot name) or skipFinalSnapshot: true',
      });
    }
  });

/** A final snapshot's default name: `<db>-final-<UTC yyyymmdd-hhmmss>`. */
export function finalSnapshotName(db: string, at: Date = new Date()): string {
  const t = at
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-:]/g, '')
    .replace('T', '-');
  return `${db}-final-${t}`;
}

/** Parses disableDeletionProtection's input (a ValidationError naming each bad field). */
export const parseDisableDeletionProtectionInput = parser(
  decommissionInput,
  'invalid decommission-database input',
);

/**
 * DisableDeletionProtection: the first step of decommissioning. Turns protection off only when
 * the input asks to; a protected database is refused (ValidationError) before anything changes.
 */
export async function disableDeletionProtection(
  deps: Deps,
  input: z.infer<typeof decommissionInput>,
): Promise<z.infer<typeof decommissionInput> & { kind: DbKind; engine: string; arn: string }> {
  const db = await locateDatabase(deps, input.identifier, input.kind);
  if (db.deletionProtection && !input.disableDeletionProtection) {
    throw new ValidationError(
      `${input.identifier} has deletion protection on: pass disableDeletionProtection: true (CLI: --disable-deletion-protection) to delete it anyway; nothing changed`,
    );
  }
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

const deleteDatabaseInput = dbTarget.extend({
  finalSnapshotIdentifier: snapshotIdentifier.nullish(),
  skipFinalSnapshot: z.boolean().optional(),
  recoveryWindowInDays: z.number().int().min(7).max(30).default(7),
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
  if (!input.finalSnapshotIdentifier && input.skipFinalSnapshot !== true) {
    throw new ValidationError(
      'choose explicitly: finalSnapshotIdentifier (a snapshot name) or skipFinalSnapshot: true',
    );
  }
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
