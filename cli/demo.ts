import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import { type ExecutionListItem, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { bootLocalCloud, exportLines, LOCAL_STAGE } from '../local/boot';
import { quotasOff, quotasOn } from '../local/quotas';
import { createClients } from '../src/aws/clients';
import { engineFor } from '../src/engines';
import { credentialsOf } from '../src/rotation/master';
import { parseDbSecret } from '../src/secret';
import { type Connection, type GlobalOptions, workflowArn } from './context';
import { CliError, EXIT } from './errors';
import { untilStopSignal } from './local';
import { bold, dim, green, ms, printJson, progressPrinter, red, say, table } from './output';
import { type ExecutionResult, runWorkflow } from './run';

export interface DemoPart {
  part: string;
  ms: number;
  ok: boolean;
  detail: string;
}

export interface DemoSummary {
  ok: boolean;
  totalMs: number;
  parts: DemoPart[];
  executions: number;
}

const STRATEGIES = ['single-user', 'alternating-users', 'admin-single-user'] as const;
const ENGINES = [
  { id: 'demo-postgres', engine: 'postgres', label: 'postgres' },
  { id: 'demo-mysql', engine: 'mysql', label: 'mysql' },
] as const;

const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

/**
 * `credflow demo`: the whole lifecycle on the embedded local cloud, through StartExecution only
 * (plus one deliberate sabotage): provision PostgreSQL and MySQL with managed master secrets,
 * create a user per strategy, rotate each twice, verify, rotate the master passwords, break a
 * rotation and watch the failure rule repair it, decommission. Ends with a timed summary.
 */
export async function demo(
  g: GlobalOptions,
  o: { keep: boolean; port: number; quotas?: boolean; iam?: boolean },
): Promise<number> {
  process.env['LOG_LEVEL'] ??= 'WARN';
  process.env['POWERTOOLS_LOG_LEVEL'] ??= 'WARN';
  process.env['CREDFLOW_LOG_LEVEL'] ??= 'warn';
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-demo-'));
  const parts: DemoPart[] = [];
  let executions = 0;
  const started = Date.now();
  const part = async (name: string, fn: () => Promise<string>): Promise<void> => {
    say(bold(`\n▶ ${name}`));
    const t0 = Date.now();
    try {
      const detail = await fn();
      parts.push({ part: name, ms: Date.now() - t0, ok: true, detail });
      say(green(`✓ ${name} ${dim(ms(Date.now() - t0))}`));
    } catch (err) {
      parts.push({ part: name, ms: Date.now() - t0, ok: false, detail: (err as Error).message });
      say(red(`✗ ${name}: ${(err as Error).message}`));
      throw err;
    }
  };

  const t0 = Date.now();
  const cloud = await bootLocalCloud({
    stateDir,
    port: o.port,
    quotas: o.quotas === false ? quotasOff() : quotasOn(),
    iam: o.iam !== false,
  });
  parts.push({ part: 'start the local cloud', ms: Date.now() - t0, ok: true, detail: cloud.endpoint });
  say(bold(`credflow demo: local cloud at ${cloud.endpoint}, state in ${stateDir}`));
  const conn: Connection = {
    clients: createClients(cloud.clientConfig()),
    stage: LOCAL_STAGE,
    mode: 'local',
    region: cloud.region,
    endpoint: cloud.endpoint,
  };
  const flow = async (workflow: Parameters<typeof runWorkflow>[1], input: unknown, label: string) => {
    executions++;
    const r: ExecutionResult = await runWorkflow(conn, workflow, input, { progress: progressPrinter(label) });
    if (r.status !== 'SUCCEEDED')
      throw new CliError(`${label}: ${r.status}: ${r.cause ?? ''}`, r.error ?? r.status);
    return r.output as Record<string, unknown>;
  };
  const secrets: Record<string, string> = {};
  let ok = false;
  try {
    await part('provision PostgreSQL and MySQL with RDS-managed master secrets', async () => {
      const out = await Promise.all(
        ENGINES.map((e) =>
          flow('provision-database', { identifier: e.id, engine: e.engine, pollSeconds: 1 }, `[${e.label}]`),
        ),
      );
      return out.map((x) => `${x['identifier']} at ${x['endpoint']}:${x['port']}`).join(', ');
    });

    await part('create a least-privilege user per strategy on each (SELECT, INSERT)', async () => {
      await Promise.all(
        ENGINES.flatMap((e) =>
          STRATEGIES.map(async (strategy) => {
            const username = `app_${strategy.split('-')[0]}`;
            const out = await flow(
              'create-database-user',
              { dbIdentifier: e.id, username, privileges: ['SELECT', 'INSERT'], strategy },
              `[${e.label} ${username}]`,
            );
            secrets[`${e.label}/${strategy}`] = String(out['secretArn']);
          }),
        ),
      );
      return `${Object.keys(secrets).length} users with secrets`;
    });

    for (const round of [1, 2]) {
      await part(`rotate every user (all three strategies), round ${round}`, async () => {
        await Promise.all(
          Object.entries(secrets).map(([k, arn]) => flow('rotate-secret', { secretId: arn }, `[${k}]`)),
        );
        return `${Object.keys(secrets).length} rotations, each verified`;
      });
    }

    await part('verify: logins, old passwords refused, clone grants, no stray _clone', async () => {
      const reports = await Promise.all(
        Object.entries(secrets).map(([k, arn]) => flow('verify-credentials', { secretId: arn }, `[${k}]`)),
      );
      const checks = reports.reduce((n, r) => n + ((r['checks'] as unknown[]) ?? []).length, 0);
      return `${checks} checks passed`;
    });

    await part('rotate the master passwords (RotateMasterUserPassword)', async () => {
      await Promise.all(
        ENGINES.map((e) =>
          flow('rotate-master-password', { identifier: e.id, pollSeconds: 1 }, `[${e.label}]`),
        ),
      );
      return 'new master passwords log in';
    });

    await part('break a rotation on purpose; the failure rule repairs it', async () => {
      const arn = secrets['postgres/admin-single-user'] as string;
      const c = conn.clients.secrets;
      const good = (await c.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString ?? '';
      const value = parseDbSecret(good);
      // A master secret whose password is wrong: setSecret (the master sets the user's password) fails.
      const broken = await c.send(
        new CreateSecretCommand({
          Name: 'credflow/demo/broken-master',
          SecretString: JSON.stringify({
            ...value,
            username: 'dbadmin',
            password: 'not-the-password',
            masterarn: undefined,
          }),
        }),
      );
      await c.send(
        new PutSecretValueCommand({
          SecretId: arn,
          SecretString: JSON.stringify({ ...value, masterarn: broken.ARN }),
        }),
      );
      const repairArn = await workflowArn(conn, 'on-rotation-failure');
      const before = new Date();
      executions++;
      const failed = await runWorkflow(
        conn,
        'rotate-secret',
        { secretId: arn },
        { progress: progressPrinter('[sabotaged]') },
      );
      if (failed.status !== 'FAILED') throw new Error(`the sabotaged rotation ended ${failed.status}`);
      say(dim(`  rotate-secret failed as intended (${failed.error}); waiting for on-rotation-failure`));
      let repair: ExecutionListItem | undefined;
      for (let i = 0; i < 300 && repair?.status !== 'SUCCEEDED'; i++) {
        const list = await conn.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: repairArn }));
        repair = list.executions?.find(
          (x) => x.startDate && new Date(x.startDate) >= new Date(before.getTime() - 1000),
        );
        if (repair?.status === 'FAILED') throw new Error('on-rotation-failure failed');
        if (repair?.status !== 'SUCCEEDED') await sleep(100);
      }
      if (repair?.status !== 'SUCCEEDED') throw new Error('on-rotation-failure did not run');
      executions++;
      const current = parseDbSecret(
        (await c.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString,
      );
      await engineFor(current.engine).testLogin(credentialsOf(current));
      // Put the real master back and rotate again: the secret is healthy.
      await c.send(
        new PutSecretValueCommand({
          SecretId: arn,
          SecretString: JSON.stringify({ ...current, masterarn: value.masterarn }),
        }),
      );
      await flow('rotate-secret', { secretId: arn }, '[repaired]');
      return `rotation failed (${failed.error}), rolled back by on-rotation-failure; AWSCURRENT kept logging in; next rotation succeeded`;
    });

    if (!o.keep) {
      await part('decommission (PostgreSQL with a final snapshot, MySQL without)', async () => {
        await Promise.all(
          ENGINES.map((e, i) =>
            flow(
              'decommission-database',
              {
                identifier: e.id,
                pollSeconds: 1,
                // The choice is explicit, as RDS's own DeleteDBInstance wants it.
                ...(i === 0 ? { finalSnapshotIdentifier: `${e.id}-final` } : { skipFinalSnapshot: true }),
              },
              `[${e.label}]`,
            ),
          ),
        );
        // decommission-database and on-deletion (from the RDS deletion event) share this work.
        let n = 0;
        for (const arn of Object.values(secrets)) {
          const d = await conn.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
          if (d.DeletedDate) n++;
        }
        return `2 databases deleted, ${n} user secrets scheduled for deletion`;
      });
    }
    ok = true;
  } catch {
    ok = false;
  }

  const summary: DemoSummary = { ok, totalMs: Date.now() - started, parts, executions };
  say(bold('\nSummary'));
  process.stderr.write(
    `${table(
      ['part', 'time', 'result'],
      parts.map((p) => [p.part, ms(p.ms), p.ok ? `ok: ${p.detail}` : `FAILED: ${p.detail}`]),
    )}\n`,
  );
  say(
    `${executions} workflow executions, ${ms(summary.totalMs)} in all: ${ok ? green('all passed') : red('FAILED')}`,
  );
  if (g.json) printJson(summary);

  if (o.keep) {
    const stopped = untilStopSignal();
    say(bold('\n--keep: the local cloud stays up (Ctrl-C stops it). In another shell:'));
    process.stdout.write(`${exportLines(cloud)}\n`);
    await stopped;
  }
  await cloud.stop();
  if (!o.keep) rmSync(stateDir, { recursive: true, force: true });
  return ok ? EXIT.ok : EXIT.failed;
}
