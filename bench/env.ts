/** What every benchmark section shares: a local cloud with database instances, users, figures. */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateDBInstanceCommand } from '@aws-sdk/client-rds';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import type { Connection } from '../cli/context';
import { bootLocalCloud, LOCAL_STAGE } from '../local/boot';
import { type QuotaSettings, quotasOff } from '../local/quotas';
import { type AwsClients, createClients } from '../src/aws/clients';
import { engineFor } from '../src/engines';
import type { Credentials } from '../src/engines/types';
import { USER_TAG } from '../src/rotation/boundary';
import { resolveMaster } from '../src/rotation/master';
import { STRATEGY_TAG, type StrategyName as Strategy } from '../src/rotation/types';

export const STRATEGIES: Strategy[] = ['single-user', 'alternating-users', 'admin-single-user'];
export const ENGINES = ['postgres', 'mysql'] as const;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}
export const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');

export interface Env {
  conn: Connection;
  clients: AwsClients;
  masters: Record<string, { arn: string; creds: Credentials }>;
  stateDir: string;
  quotas: QuotaSettings;
  /** Secrets Manager calls the cloud has answered so far, by operation. */
  calls(): Map<string, number>;
  stop(): Promise<void>;
}

export async function environment(
  instances: { id: string; engine: string }[],
  quotas: QuotaSettings = quotasOff(),
): Promise<Env> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-bench-'));
  const cloud = await bootLocalCloud({ stateDir, port: 0, quotas });
  const clients = createClients(cloud.clientConfig());
  const masters: Env['masters'] = {};
  await Promise.all(
    instances.map(async (i) => {
      const out = await clients.rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: i.id,
          Engine: i.engine,
          DBInstanceClass: 'db.t3.micro',
          DBName: 'appdb',
          MasterUsername: 'dbadmin',
          ManageMasterUserPassword: true,
        }),
      );
      await cloud.rds.waitForStatus('instance', i.id, 'available');
      const arn = out.DBInstance?.MasterUserSecret?.SecretArn as string;
      masters[i.id] = { arn, creds: (await resolveMaster(clients, arn)).creds };
    }),
  );
  return {
    conn: { clients, stage: LOCAL_STAGE, mode: 'local', region: cloud.region, endpoint: cloud.endpoint },
    clients,
    masters,
    stateDir,
    quotas: cloud.quotas,
    calls: () => new Map(cloud.secretsQuotas.calls),
    async stop() {
      await cloud.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export async function makeUser(
  env: Env,
  dbId: string,
  engine: string,
  username: string,
  strategy: Strategy,
  tags: { Key: string; Value: string }[] = [],
): Promise<string> {
  const m = env.masters[dbId] as Env['masters'][string];
  const password = `Bench-${username}-pw-0`;
  const s = await env.clients.secrets.send(
    new CreateSecretCommand({
      Name: `credflow/bench/${dbId}/${username}`,
      SecretString: JSON.stringify({
        engine,
        host: m.creds.host,
        port: m.creds.port,
        username,
        password,
        dbname: 'appdb',
        masterarn: m.arn,
      }),
      Tags: [{ Key: STRATEGY_TAG, Value: strategy }, { Key: USER_TAG, Value: username }, ...tags],
    }),
  );
  await engineFor(engine).createUser(m.creds, {
    username,
    password,
    database: 'appdb',
    privileges: ['SELECT'],
    binding: s.ARN as string,
  });
  return s.ARN as string;
}

/** The store on disk: the database and its write-ahead log. */
export function storeBytes(dir: string): number {
  return statSync(path.join(dir, 'credflow.db')).size + walSize(dir);
}

function walSize(dir: string): number {
  try {
    return statSync(path.join(dir, 'credflow.db-wal')).size;
  } catch {
    return 0;
  }
}

/**
 * CPU spent between start and read: by this process (all its threads: the endpoint, Step
 * Functions and the functions' threads) and by the whole machine (the database servers too), in
 * ms, from /proc/stat's busy jiffies. On a saturated machine the rate is bound by the total.
 */
export function cpuMeter(): { read(): { processMs: number; machineMs: number } } {
  const busy = (): number => {
    try {
      const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
      const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
      return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 10;
    } catch {
      return Number.NaN;
    }
  };
  const p0 = process.cpuUsage();
  const m0 = busy();
  return {
    read() {
      const p = process.cpuUsage(p0);
      return { processMs: (p.user + p.system) / 1000, machineMs: busy() - m0 };
    },
  };
}
