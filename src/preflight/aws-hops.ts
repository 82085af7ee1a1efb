/**
 * The preflight's two AWS hops, RDS and Secrets Manager, called exactly as the workflows call
 * them but with a deadline each: from a function in a VPC without a route to the service, an SDK
 * call waits on a connection that never opens, and that silence is the finding.
 */
import {
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
} from '@aws-sdk/client-rds';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { Deps } from '../deps';
import { ENGINES, type EngineName, parseMasterSecret, sslPreference } from '../secret';
import { DeadlineError, withDeadline } from './probes';
import { failed, type Outcome, ok, skipped, type Target } from './types';

const NETWORK_CODES = new Set([
  'ETIMEDOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** The parameter that creates a service's interface endpoint (deploy/network.js). */
type EndpointParam = 'rds' | 'secretsmanager';

/** What an SDK failure means for a function in a VPC, and what to change. */
export function awsFailure(err: unknown, service: string, action: string, param: EndpointParam): Outcome {
  const e = err as { name?: string; code?: string; message?: string };
  if (err instanceof DeadlineError || NETWORK_CODES.has(e.code ?? '') || e.name === 'TimeoutError') {
    return failed(
      `${action}: ${err instanceof DeadlineError ? `no answer from ${service} within ${err.ms} ms` : (e.code ?? e.name)}`,
      `no route to ${service} from the VPC: add the ${service} interface endpoint (--param vpcEndpoints=${param}) or a NAT gateway`,
    );
  }
  if (/AccessDenied|UnauthorizedOperation|not authorized/i.test(`${e.name} ${e.message}`)) {
    const kms = /kms/i.test(e.message ?? '');
    return failed(
      `${action}: access denied${kms ? ' by KMS' : ''}`,
      kms
        ? "the function's role may not use the secret's KMS key (kms:Decrypt via secretsmanager): pass the key as --param kmsKeyArn"
        : `the function's role may not call ${action}`,
    );
  }
  return failed(`${action}: ${e.name ?? 'error'}: ${e.message ?? String(err)}`);
}

interface Described {
  kind: 'instance' | 'cluster';
  status: string;
  engine: string | undefined;
  host: string | undefined;
  port: number | undefined;
  secretArn: string | undefined;
}

function fromInstance(db: DBInstance): Described {
  return {
    kind: 'instance',
    status: db.DBInstanceStatus ?? 'unknown',
    engine: db.Engine,
    host: db.Endpoint?.Address,
    port: db.Endpoint?.Port,
    secretArn: db.MasterUserSecret?.SecretArn,
  };
}

function fromCluster(c: DBCluster): Described {
  return {
    kind: 'cluster',
    status: c.Status ?? 'unknown',
    engine: c.Engine,
    host: c.Endpoint,
    port: c.Port,
    secretArn: c.MasterUserSecret?.SecretArn,
  };
}

const NOT_FOUND = new Set(['DBInstanceNotFoundFault', 'DBClusterNotFoundFault']);

async function describe(deps: Deps, t: Target, signal: AbortSignal): Promise<Described | undefined> {
  const opts = { abortSignal: signal as never };
  for (const kind of t.kind ? [t.kind] : (['instance', 'cluster'] as const)) {
    try {
      if (kind === 'instance') {
        const out = await deps.rds.send(
          new DescribeDBInstancesCommand({ DBInstanceIdentifier: t.identifier }),
          opts,
        );
        const db = out.DBInstances?.[0];
        if (db) return fromInstance(db);
      } else {
        const out = await deps.rds.send(
          new DescribeDBClustersCommand({ DBClusterIdentifier: t.identifier }),
          opts,
        );
        const c = out.DBClusters?.[0];
        if (c) return fromCluster(c);
      }
    } catch (err) {
      if (!NOT_FOUND.has((err as Error).name)) throw err;
    }
  }
  return undefined;
}

function asEngine(engine: string | undefined): EngineName | undefined {
  return (ENGINES as readonly string[]).includes(engine ?? '') ? (engine as EngineName) : undefined;
}

/** RDS: the database exists, is available, and where it listens (given values win). */
export async function rdsHop(deps: Deps, t: Target, ms: number): Promise<Outcome> {
  let found: Described | undefined;
  try {
    found = await withDeadline(ms, 'DescribeDBInstances', (signal) => describe(deps, t, signal));
  } catch (err) {
    return awsFailure(err, 'RDS', 'rds:DescribeDBInstances', 'rds');
  }
  if (!found) {
    return failed(
      `no DB instance or cluster named ${t.identifier}`,
      "check the identifier and that the stack's region is the database's",
    );
  }
  t.kind = found.kind;
  t.status = found.status;
  t.engine ??= asEngine(found.engine);
  t.host ??= found.host;
  t.port ??= found.port;
  t.describedPort = found.port;
  t.masterSecretArn ??= found.secretArn;
  const what = `DB ${found.kind} ${t.identifier}`;
  if (found.status !== 'available') {
    return failed(
      `${what} is ${found.status}`,
      found.status === 'stopped'
        ? `start it: aws rds start-db-${found.kind} --db-${found.kind}-identifier ${t.identifier}`
        : 'wait until it is available',
    );
  }
  return ok(`${what} is available: ${found.engine ?? '?'} at ${found.host ?? '?'}:${found.port ?? '?'}`);
}

/** Secrets Manager: the master secret's AWSCURRENT can be read (and decrypted). */
export async function secretsManagerHop(deps: Deps, t: Target, ms: number): Promise<Outcome> {
  const arn = t.masterSecretArn;
  if (!arn) return skipped('no master secret to read: RDS named none and none was given');
  let value: string | undefined;
  try {
    const out = await withDeadline(ms, 'GetSecretValue', (signal) =>
      deps.secrets.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSCURRENT' }), {
        abortSignal: signal as never,
      }),
    );
    value = out.SecretString;
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') {
      return failed(`the master secret ${arn} does not exist`, 'check the secret ARN');
    }
    return awsFailure(err, 'Secrets Manager', 'secretsmanager:GetSecretValue', 'secretsmanager');
  }
  let master: ReturnType<typeof parseMasterSecret>;
  try {
    master = parseMasterSecret(value, `master secret ${arn}`);
  } catch (err) {
    return failed((err as Error).message, 'the master secret must hold username and password');
  }
  const s = master.secret;
  if (master.kind === 'full') {
    t.engine ??= master.secret.engine;
    t.host ??= master.secret.host;
    t.port ??= master.secret.port;
  }
  t.master = {
    username: s.username,
    password: s.password,
    ssl: master.kind === 'full' ? sslPreference(master.secret.ssl) : undefined,
  };
  return ok(`read AWSCURRENT of the master secret ${arn} (user ${s.username})`);
}
