import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
} from '@aws-sdk/client-rds';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { rdsCall, translateAwsError } from '../aws/errors';
import type { Deps } from '../deps';
import { engineFor as defaultEngineFor } from '../engines';
import { NotFoundError, ValidationError } from '../errors';
import { withMaster } from '../rotation/master';
import { ENGINES } from '../secret';
import { parser } from '../validate';

export type DbKind = 'instance' | 'cluster';

/** Aurora engines are clusters; the rest are instances. */
export function kindOf(engine: string): DbKind {
  return engine.startsWith('aurora') ? 'cluster' : 'instance';
}

// RDS's own rules: 1-63 letters, digits or hyphens; a letter first; no trailing or double hyphen.
export const identifier = z
  .string()
  .regex(
    /^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$/,
    'must be 1-63 letters, digits or hyphens, start with a letter, and have no trailing or double hyphen',
  );
const engine = z.enum(ENGINES.filter((e) => e !== 'aurora'));

export const provisionInput = z.object({
  identifier,
  engine,
  instanceClass: z.string().min(1).default('db.t3.micro'),
  dbName: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]{0,62}$/, 'must be a letter then letters, digits or underscores')
    .default('appdb'),
  masterUsername: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]{0,15}$/, 'must be a letter then up to 15 letters, digits or underscores')
    .default('dbadmin'),
  kmsKeyId: z.string().min(1).optional(),
  deletionProtection: z.boolean().default(false),
  /** The DB subnet group (private subnets of the VPC) the database lives in. */
  dbSubnetGroupName: z
    .string()
    .regex(
      /^[A-Za-z0-9 ._-]{1,255}$/,
      'must be 1-255 letters, digits, spaces, periods, underscores or hyphens',
    )
    .optional(),
  /** The database's VPC security groups; one must allow the engine port from the functions' group. */
  vpcSecurityGroupIds: z
    .array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'must be a security group id (sg-...)'))
    .min(1)
    .max(5)
    .optional(),
  /** RDS's own default depends on the VPC; credflow asks for a private database unless told. */
  publiclyAccessible: z.boolean().default(false),
  allocatedStorage: z.number().int().min(20).max(65536).default(20),
  /** Seconds between status polls (the Wait state). AWS takes minutes; the local cloud, seconds. */
  pollSeconds: z.number().int().min(1).max(300).default(15),
  /** Give up after this long. */
  maxWaitSeconds: z.number().int().min(1).max(86_400).default(3600),
});
export type ProvisionInput = z.input<typeof provisionInput>;

/** The state a provisioning, rotation or deletion loop carries between polls. */
export interface DbRef {
  identifier: string;
  kind: DbKind;
  engine: string;
  pollSeconds: number;
  maxAttempts: number;
  attempt: number;
}

/** The writer instance credflow adds to an Aurora cluster it provisions. */
export function writerOf(clusterId: string): string {
  return `${clusterId.slice(0, 56)}-writer`;
}

export function pollBudget(pollSeconds: number, maxWaitSeconds: number): number {
  return Math.max(1, Math.ceil(maxWaitSeconds / pollSeconds));
}

function isAlreadyExists(err: unknown): boolean {
  const name = ((err as Error).cause as { name?: string } | undefined)?.name;
  return name === 'DBInstanceAlreadyExistsFault' || name === 'DBClusterAlreadyExistsFault';
}

/** Parses createDatabase's input (a ValidationError naming each bad field). */
export const parseCreateDatabaseInput = parser(provisionInput, 'invalid provision-database input');

/**
 * CreateDatabase: an instance or an Aurora cluster (plus its writer instance) whose master
 * password RDS generates and keeps in Secrets Manager (ManageMasterUserPassword). A rerun finds
 * the database it created before and carries on.
 */
export async function createDatabase(deps: Deps, input: z.infer<typeof provisionInput>): Promise<DbRef> {
  const kind = kindOf(input.engine);
  const tags = [{ Key: 'credflow:managed', Value: 'true' }];
  const ref: DbRef = {
    identifier: input.identifier,
    kind,
    engine: input.engine,
    pollSeconds: input.pollSeconds,
    maxAttempts: pollBudget(input.pollSeconds, input.maxWaitSeconds),
    attempt: 0,
  };
  const managed = {
    MasterUsername: input.masterUsername,
    ManageMasterUserPassword: true,
    ...(input.kmsKeyId ? { MasterUserSecretKmsKeyId: input.kmsKeyId } : {}),
    DeletionProtection: input.deletionProtection,
    Tags: tags,
  };
  const network = {
    ...(input.dbSubnetGroupName ? { DBSubnetGroupName: input.dbSubnetGroupName } : {}),
    ...(input.vpcSecurityGroupIds ? { VpcSecurityGroupIds: input.vpcSecurityGroupIds } : {}),
  };
  try {
    if (kind === 'cluster') {
      await rdsCall(`CreateDBCluster ${input.identifier}`, () =>
        deps.rds.send(
          new CreateDBClusterCommand({
            DBClusterIdentifier: input.identifier,
            Engine: input.engine,
            DatabaseName: input.dbName,
            ...managed,
            ...network,
          }),
        ),
      );
      // An Aurora cluster serves nothing until it has a writer instance.
      await rdsCall(`CreateDBInstance ${writerOf(input.identifier)}`, () =>
        deps.rds.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: writerOf(input.identifier),
            DBClusterIdentifier: input.identifier,
            Engine: input.engine,
            DBInstanceClass: input.instanceClass,
            // The subnet group and security groups are the cluster's; reachability is per instance.
            PubliclyAccessible: input.publiclyAccessible,
            Tags: tags,
          }),
        ),
      );
    } else {
      await rdsCall(`CreateDBInstance ${input.identifier}`, () =>
        deps.rds.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: input.identifier,
            Engine: input.engine,
            DBInstanceClass: input.instanceClass,
            AllocatedStorage: input.allocatedStorage,
            DBName: input.dbName,
            PubliclyAccessible: input.publiclyAccessible,
            ...managed,
            ...network,
          }),
        ),
      );
    }
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    // A rerun of the same provisioning is fine; someone else's database of that name is not.
    const existing = await describeRaw(deps, input.identifier, kind);
    if (!existing || existing.engine !== input.engine || !existing.secretArn) throw err;
    deps.logger.info('CreateDatabase: database exists already, resuming', { identifier: input.identifier });
  }
  deps.logger.info('CreateDatabase: requested', { identifier: input.identifier, engine: input.engine, kind });
  return ref;
}

interface RawDb {
  status: string;
  engine: string;
  endpoint: string | undefined;
  port: number | undefined;
  dbName: string | undefined;
  secretArn: string | undefined;
  secretStatus: string | undefined;
  deletionProtection: boolean;
  arn: string | undefined;
  masterUsername: string | undefined;
}

function fromInstance(db: DBInstance): RawDb {
  return {
    status: db.DBInstanceStatus ?? 'unknown',
    engine: db.Engine ?? '',
    endpoint: db.Endpoint?.Address,
    port: db.Endpoint?.Port,
    dbName: db.DBName,
    secretArn: db.MasterUserSecret?.SecretArn,
    secretStatus: db.MasterUserSecret?.SecretStatus,
    deletionProtection: db.DeletionProtection ?? false,
    arn: db.DBInstanceArn,
    masterUsername: db.MasterUsername,
  };
}

function fromCluster(c: DBCluster): RawDb {
  return {
    status: c.Status ?? 'unknown',
    engine: c.Engine ?? '',
    endpoint: c.Endpoint,
    port: c.Port,
    dbName: c.DatabaseName,
    secretArn: c.MasterUserSecret?.SecretArn,
    secretStatus: c.MasterUserSecret?.SecretStatus,
    deletionProtection: c.DeletionProtection ?? false,
    arn: c.DBClusterArn,
    masterUsername: c.MasterUsername,
  };
}

/** One Describe call; undefined when the database does not exist (any more). */
async function describeRaw(deps: Deps, id: string, kind: DbKind): Promise<RawDb | undefined> {
  try {
    if (kind === 'cluster') {
      const out = await rdsCall(`DescribeDBClusters ${id}`, () =>
        deps.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id })),
      );
      const c = out.DBClusters?.[0];
      return c ? fromCluster(c) : undefined;
    }
    const out = await rdsCall(`DescribeDBInstances ${id}`, () =>
      deps.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })),
    );
    const db = out.DBInstances?.[0];
    return db ? fromInstance(db) : undefined;
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

const dbRef = z.object({
  identifier,
  kind: z.enum(['instance', 'cluster']),
  engine: z.string(),
  pollSeconds: z.number().int().min(1).default(15),
  maxAttempts: z.number().int().min(1).default(240),
  attempt: z.number().int().min(0).default(0),
  /** What the loop waits for. */
  want: z.enum(['available', 'deleted']).default('available'),
  /** The master secret's AWSCURRENT version before a rotation; ready once it changed. */
  masterVersionBefore: z.string().optional(),
});

export interface DbStatus extends DbRef {
  status: string;
  /** True when the loop may stop waiting. */
  ready: boolean;
  /** True when waiting longer cannot help (failed, incompatible-*, storage-full...). */
  failed: boolean;
  endpoint?: string;
  port?: number;
  dbName?: string;
  masterSecretArn?: string;
  masterSecretStatus?: string;
  arn?: string;
  want: 'available' | 'deleted';
  masterVersionBefore?: string;
}

const FAILED = /^(failed|incompatible-|inaccessible-encryption-credentials|storage-full)/;

/** Parses describeDatabase's input (a ValidationError naming each bad field). */
export const parseDescribeDatabaseInput = parser(dbRef, 'invalid database reference');

/**
 * DescribeDatabase, one poll of a Wait loop: reports the status and whether the loop is done.
 * `available` also needs the master secret `active` (and, after RotateMasterUserPassword, a new
 * AWSCURRENT version); `deleted` needs the database gone.
 */
export async function describeDatabase(deps: Deps, input: z.infer<typeof dbRef>): Promise<DbStatus> {
  const ref = input;
  const raw = await describeRaw(deps, ref.identifier, ref.kind);
  const base = {
    identifier: ref.identifier,
    kind: ref.kind,
    engine: ref.engine,
    pollSeconds: ref.pollSeconds,
    maxAttempts: ref.maxAttempts,
    attempt: ref.attempt + 1,
    want: ref.want,
    ...(ref.masterVersionBefore ? { masterVersionBefore: ref.masterVersionBefore } : {}),
  };
  if (!raw) {
    if (ref.want === 'deleted') return { ...base, status: 'deleted', ready: true, failed: false };
    throw new NotFoundError(
      `${ref.kind === 'cluster' ? 'DB cluster' : 'DB instance'} ${ref.identifier} not found`,
    );
  }
  let ready = false;
  if (ref.want === 'available') {
    ready = raw.status === 'available' && raw.secretStatus === 'active';
    if (ready && ref.masterVersionBefore && raw.secretArn) {
      ready = (await currentVersionId(deps, raw.secretArn)) !== ref.masterVersionBefore;
    }
  }
  return {
    ...base,
    status: raw.status,
    ready,
    failed: FAILED.test(raw.status) || (ref.want === 'available' && raw.status === 'deleting'),
    ...(raw.endpoint ? { endpoint: raw.endpoint } : {}),
    ...(raw.port ? { port: raw.port } : {}),
    ...(raw.dbName ? { dbName: raw.dbName } : {}),
    ...(raw.secretArn ? { masterSecretArn: raw.secretArn } : {}),
    ...(raw.secretStatus ? { masterSecretStatus: raw.secretStatus } : {}),
    ...(raw.arn ? { arn: raw.arn } : {}),
  };
}

async function currentVersionId(deps: Deps, secretArn: string): Promise<string | undefined> {
  const d = await deps.secrets.send(new DescribeSecretCommand({ SecretId: secretArn })).catch((err) => {
    throw translateAwsError(err, `DescribeSecret ${secretArn}`);
  });
  return Object.entries(d.VersionIdsToStages ?? {}).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
}

/** The database a user-facing workflow names: `{identifier}` plus optional engine to pick the kind. */
export const dbTarget = z.object({
  identifier,
  kind: z.enum(['instance', 'cluster']).optional(),
  pollSeconds: z.number().int().min(1).max(300).default(15),
  maxWaitSeconds: z.number().int().min(1).max(86_400).default(1800),
});

/** Finds a database by identifier, as an instance first and then as a cluster. */
export async function locateDatabase(
  deps: Deps,
  id: string,
  kind?: DbKind,
): Promise<RawDb & { kind: DbKind }> {
  for (const k of kind ? [kind] : (['instance', 'cluster'] as const)) {
    const raw = await describeRaw(deps, id, k);
    if (raw) return { ...raw, kind: k };
  }
  throw new NotFoundError(`no DB instance or cluster named ${id}`);
}

/** ModifyDBInstance or ModifyDBCluster, applied immediately. */
export async function modifyDatabase(
  deps: Deps,
  id: string,
  kind: DbKind,
  change: { RotateMasterUserPassword?: boolean; DeletionProtection?: boolean },
): Promise<void> {
  const modify = { ApplyImmediately: true, ...change };
  if (kind === 'cluster') {
    await rdsCall(`ModifyDBCluster ${id}`, () =>
      deps.rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: id, ...modify })),
    );
  } else {
    await rdsCall(`ModifyDBInstance ${id}`, () =>
      deps.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: id, ...modify })),
    );
  }
}

const testMasterLoginInput = z.object({ masterSecretArn: z.string().min(1) });

/** Parses testMasterLogin's input (a ValidationError naming each bad field). */
export const parseTestMasterLoginInput = parser(testMasterLoginInput, 'invalid TestMasterLogin input');

/** TestMasterLogin: the master secret's AWSCURRENT logs in to the database. */
export async function testMasterLogin(
  deps: Deps,
  input: z.infer<typeof testMasterLoginInput>,
): Promise<{ masterSecretArn: string; engine: string; loggedIn: true }> {
  const { masterSecretArn } = input;
  const master = await withMaster(deps, masterSecretArn, async (m) => {
    await (deps.engineFor ?? defaultEngineFor)(m.engine).testLogin(m.creds);
    return m;
  });
  deps.logger.info('TestMasterLogin: master secret logs in', { masterSecretArn, engine: master.engine });
  return { masterSecretArn, engine: master.engine, loggedIn: true };
}

/** Parses rotateMasterPassword's input (a ValidationError naming each bad field). */
export const parseRotateMasterPasswordInput = parser(dbTarget, 'invalid rotate-master-password input');

/**
 * RotateMasterPassword: RDS's own rotation of the managed master secret, now
 * (RotateMasterUserPassword + ApplyImmediately). Returns the Wait loop's state, remembering the
 * secret's AWSCURRENT version so the loop knows when the new one is in.
 */
export async function rotateMasterPassword(
  deps: Deps,
  input: z.infer<typeof dbTarget>,
): Promise<
  DbRef & {
    want: 'available';
    masterVersionBefore: string;
    masterSecretArn: string;
  }
> {
  const db = await locateDatabase(deps, input.identifier, input.kind);
  if (!db.secretArn) {
    throw new ValidationError(
      `${input.identifier} does not have its master password managed in Secrets Manager (ManageMasterUserPassword)`,
    );
  }
  const before = await currentVersionId(deps, db.secretArn);
  if (!before) throw new NotFoundError(`master secret ${db.secretArn} has no AWSCURRENT version`);
  await modifyDatabase(deps, input.identifier, db.kind, { RotateMasterUserPassword: true });
  deps.logger.info('RotateMasterPassword: requested', { identifier: input.identifier });
  return {
    identifier: input.identifier,
    kind: db.kind,
    engine: db.engine,
    pollSeconds: input.pollSeconds,
    maxAttempts: pollBudget(input.pollSeconds, input.maxWaitSeconds),
    attempt: 0,
    want: 'available',
    masterVersionBefore: before,
    masterSecretArn: db.secretArn,
  };
}
