import { DescribeDBClustersCommand, DescribeDBInstancesCommand, type RDSClient } from '@aws-sdk/client-rds';
import { DescribeSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { aws } from '../aws/errors';
import type { Credentials } from '../engines/types';
import { NotFoundError, ValidationError } from '../errors';
import {
  type DbSecret,
  defaultPort,
  ENGINES,
  type EngineName,
  parseMasterSecret,
  sslPreference,
} from '../secret';
import { readVersion } from './versions';

export const RDS_INSTANCE_TAG = 'aws:rds:primaryDBInstanceArn';
export const RDS_CLUSTER_TAG = 'aws:rds:primaryDBClusterArn';

export interface MasterLogin {
  engine: EngineName;
  creds: Credentials;
  arn: string;
}

/** Turns a full secret into connection credentials. */
export function credentialsOf(secret: DbSecret): Credentials {
  return {
    host: secret.host,
    port: secret.port ?? defaultPort(secret.engine),
    username: secret.username,
    password: secret.password,
    dbname: secret.dbname,
    ssl: sslPreference(secret.ssl),
  };
}

function asEngine(engine: string | undefined, where: string): EngineName {
  if (engine && (ENGINES as readonly string[]).includes(engine)) return engine as EngineName;
  throw new ValidationError(`${where} reports engine "${engine ?? ''}", which credflow does not rotate`);
}

/** How long a master secret's database endpoint is remembered by one process (one Lambda container). */
export const MASTER_LOCATION_TTL_MS = 30_000;

interface Location {
  engine: EngineName;
  host: string;
  port: number;
  until: number;
}

const locations = new Map<string, Location>();

/**
 * Forgets where a master secret's database is; callers do so when a login with it fails, so a
 * moved or restored database is looked up again on the next try.
 */
export function forgetMasterLocation(masterArn: string): void {
  locations.delete(masterArn);
}

/** Runs `fn` with a resolved master login; any failure forgets the remembered endpoint. */
export async function useMaster<T>(master: MasterLogin, fn: (master: MasterLogin) => Promise<T>): Promise<T> {
  try {
    return await fn(master);
  } catch (err) {
    forgetMasterLocation(master.arn);
    throw err;
  }
}

/** Resolves the master secret, then runs `fn` with it as `useMaster` does. */
export async function withMaster<T>(
  deps: { secrets: SecretsManagerClient; rds: RDSClient },
  masterArn: string,
  fn: (master: MasterLogin) => Promise<T>,
): Promise<T> {
  return useMaster(await resolveMaster(deps, masterArn), fn);
}

/**
 * Reads the master secret a user secret names in `masterarn`. A full secret carries its own
 * host; an RDS-managed one ({username,password}) is located through its
 * aws:rds:primaryDBInstanceArn / ...ClusterArn tag and DescribeDBInstances/DescribeDBClusters.
 * The password is read every time; the endpoint found that way is remembered for
 * MASTER_LOCATION_TTL_MS (two fewer calls per step), and forgotten when a login fails
 * (`withMaster`).
 */
export async function resolveMaster(
  deps: { secrets: SecretsManagerClient; rds: RDSClient },
  masterArn: string,
): Promise<MasterLogin> {
  const raw = await readVersion(deps.secrets, masterArn, { VersionStage: 'AWSCURRENT' });
  if (raw === undefined) throw new NotFoundError(`master secret ${masterArn} has no AWSCURRENT value`);
  const parsed = parseMasterSecret(raw, `master secret ${masterArn}`);
  if (parsed.kind === 'full')
    return { engine: parsed.secret.engine, creds: credentialsOf(parsed.secret), arn: masterArn };

  let where = locations.get(masterArn);
  if (!where || where.until <= Date.now()) {
    where = { ...(await locate(deps, masterArn)), until: Date.now() + MASTER_LOCATION_TTL_MS };
    locations.set(masterArn, where);
  }
  return {
    engine: where.engine,
    arn: masterArn,
    creds: {
      host: where.host,
      port: where.port,
      dbname: undefined,
      ssl: undefined,
      username: parsed.secret.username,
      password: parsed.secret.password,
    },
  };
}

/** The database an RDS-managed master secret belongs to, from its RDS tags. */
async function locate(
  deps: { secrets: SecretsManagerClient; rds: RDSClient },
  masterArn: string,
): Promise<Omit<Location, 'until'>> {
  const d = await aws(`DescribeSecret ${masterArn}`, () =>
    deps.secrets.send(new DescribeSecretCommand({ SecretId: masterArn })),
  );
  const tag = (key: string) => d.Tags?.find((t) => t.Key === key)?.Value;
  const instanceArn = tag(RDS_INSTANCE_TAG);
  const clusterArn = tag(RDS_CLUSTER_TAG);
  if (instanceArn) {
    const out = await aws(`DescribeDBInstances ${instanceArn}`, () =>
      deps.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: instanceArn })),
    );
    const db = out.DBInstances?.[0];
    if (!db?.Endpoint?.Address) throw new NotFoundError(`DB instance ${instanceArn} has no endpoint yet`);
    const engine = asEngine(db.Engine, `DB instance ${instanceArn}`);
    return { engine, host: db.Endpoint.Address, port: db.Endpoint.Port ?? defaultPort(engine) };
  }
  if (clusterArn) {
    const out = await aws(`DescribeDBClusters ${clusterArn}`, () =>
      deps.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterArn })),
    );
    const c = out.DBClusters?.[0];
    if (!c?.Endpoint) throw new NotFoundError(`DB cluster ${clusterArn} has no endpoint yet`);
    const engine = asEngine(c.Engine, `DB cluster ${clusterArn}`);
    return { engine, host: c.Endpoint, port: c.Port ?? defaultPort(engine) };
  }
  throw new ValidationError(
    `master secret ${masterArn} holds only username/password and has no ${RDS_INSTANCE_TAG} or ${RDS_CLUSTER_TAG} tag to find its database`,
  );
}
