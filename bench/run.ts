/**
 * `npm run bench`: figures, not assertions. Ratios come from one run on a noisy 2-core machine.
 *
 *   rotation      rotate-secret on the local cloud vs the raw floor (the same logins and ALTERs
 *                 done directly with the drivers), median and p95 over N rotations per engine x strategy
 *   fleet         rotate-fleet over many secrets on 4 instances: secrets/s, store size, memory
 *   availability  logins at a fixed rate through the application helper while rotations run
 *
 * Select with `npm run bench -- rotation fleet`; sizes with BENCH_ROTATIONS, BENCH_FLEET.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateDBInstanceCommand } from '@aws-sdk/client-rds';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Connection } from '../cli/context';
import { workflowArn } from '../cli/context';
import { runWorkflow } from '../cli/run';
import { bootLocalCloud, LOCAL_STAGE } from '../local/boot';
import { type AwsClients, createClients } from '../src/aws/clients';
import { SecretCredentials } from '../src/client';
import { engineFor } from '../src/engines';
import type { Credentials } from '../src/engines/types';
import { USER_TAG } from '../src/rotation/boundary';
import { resolveMaster } from '../src/rotation/master';
import { cloneOf } from '../src/rotation/strategies';
import { STRATEGY_TAG, type StrategyName as Strategy } from '../src/rotation/types';

process.env['LOG_LEVEL'] ??= 'ERROR';
process.env['POWERTOOLS_LOG_LEVEL'] ??= 'ERROR';
process.env['CREDFLOW_LOG_LEVEL'] ??= 'error';
process.env['AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING'] ??= '1';

const STRATEGIES: Strategy[] = ['single-user', 'alternating-users', 'admin-single-user'];
const ENGINES = ['postgres', 'mysql'] as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');

interface Env {
  conn: Connection;
  clients: AwsClients;
  masters: Record<string, { arn: string; creds: Credentials }>;
  stateDir: string;
  stop(): Promise<void>;
}

async function environment(instances: { id: string; engine: string }[]): Promise<Env> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-bench-'));
  const cloud = await bootLocalCloud({ stateDir, port: 0 });
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
    async stop() {
      await cloud.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

async function makeUser(
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
      Name: `bench/${dbId}/${username}`,
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

/** What the floor's users are bound to (they have no secret: the floor bypasses Secrets Manager). */
const FLOOR_BINDING = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench/floor-000000';

/** The raw floor: the logins and ALTERs rotate-secret's steps and its verify make, straight to the driver. */
async function floorRotation(
  engine: string,
  strategy: Strategy,
  admin: Credentials,
  user: Credentials,
  next: string,
) {
  const e = engineFor(engine);
  const pending = { ...user, password: next };
  const refused = (c: Credentials) =>
    e.testLogin(c).then(
      () => undefined,
      () => undefined,
    );
  if (strategy === 'single-user') {
    await refused(pending); // setSecret: does pending already work?
    await e.changeOwnPassword(user, next); // ...log in as current, change the password
    await e.testLogin(pending); // testSecret
    await e.testLogin(pending); // verify: current logs in
    await refused(user); // verify: previous refused
    return pending;
  }
  if (strategy === 'alternating-users') {
    const clone = { ...user, username: cloneOf(user.username), password: next };
    await refused(clone);
    await e.testLogin(user);
    await e.cloneUser(admin, user.username, clone.username, next, FLOOR_BINDING);
    await e.testLogin(clone);
    await e.testLogin(clone);
    await e.inspectUsers(admin, [clone.username, user.username]);
    return user; // the next round alternates back to the original user
  }
  await refused(pending);
  await e.setPassword(admin, user.username, next, FLOOR_BINDING);
  await e.testLogin(pending);
  await e.testLogin(pending);
  await e.inspectUsers(admin, [cloneOf(user.username)]);
  return pending;
}

async function benchRotation(rounds: number): Promise<void> {
  console.log(`\n## Rotation latency (${rounds} rotations each; ms)\n`);
  const env = await environment([
    { id: 'bench-pg', engine: 'postgres' },
    { id: 'bench-my', engine: 'mysql' },
  ]);
  try {
    const sm = await workflowArn(env.conn, 'rotate-secret');
    console.log(
      '| engine | strategy | workflow median | workflow p95 | floor median | floor p95 | ratio (median) |',
    );
    console.log('|---|---|---|---|---|---|---|');
    for (const engine of ENGINES) {
      const dbId = engine === 'postgres' ? 'bench-pg' : 'bench-my';
      const admin = (env.masters[dbId] as Env['masters'][string]).creds;
      for (const strategy of STRATEGIES) {
        const tag = strategy.split('-')[0];
        const arn = await makeUser(env, dbId, engine, `w_${tag}`, strategy);
        await runWorkflow(env.conn, 'rotate-secret', { secretId: arn }); // warm-up (JIT, pools)
        const wf: number[] = [];
        for (let i = 0; i < rounds; i++) {
          const { executionArn } = await env.clients.sfn.send(
            new StartExecutionCommand({ stateMachineArn: sm, input: JSON.stringify({ secretId: arn }) }),
          );
          for (;;) {
            // Polled gently: a tight DescribeExecution loop would take the CPU the rotation needs.
            await sleep(10);
            const d = await env.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
            if (d.status !== 'RUNNING') {
              if (d.status !== 'SUCCEEDED') throw new Error(`rotation ${d.status}: ${d.error} ${d.cause}`);
              // The execution's own start-to-stop time, as Step Functions records it.
              wf.push((d.stopDate as Date).getTime() - (d.startDate as Date).getTime());
              break;
            }
          }
        }
        const username = `f_${tag}`;
        let user: Credentials = { ...admin, username, password: 'Floor-pw-0', dbname: 'appdb' };
        await engineFor(engine).createUser(admin, {
          username,
          password: user.password,
          database: 'appdb',
          privileges: ['SELECT'],
          binding: FLOOR_BINDING,
        });
        const floor: number[] = [];
        for (let i = 0; i < rounds + 1; i++) {
          const t0 = performance.now();
          user = await floorRotation(engine, strategy, admin, user, `Floor-pw-${i + 1}-x`);
          if (i > 0) floor.push(performance.now() - t0);
        }
        const ratio = pct(wf, 50) / pct(floor, 50);
        console.log(
          `| ${engine} | ${strategy} | ${f1(pct(wf, 50))} | ${f1(pct(wf, 95))} | ${f1(pct(floor, 50))} | ${f1(pct(floor, 95))} | ${f1(ratio)} |`,
        );
      }
    }
  } finally {
    await env.stop();
  }
}

async function benchFleet(total: number): Promise<void> {
  console.log(`\n## Fleet throughput (${total} secrets over 4 instances)\n`);
  const instances = [
    { id: 'fleet-pg1', engine: 'postgres' },
    { id: 'fleet-pg2', engine: 'postgres' },
    { id: 'fleet-my1', engine: 'mysql' },
    { id: 'fleet-my2', engine: 'mysql' },
  ];
  const env = await environment(instances);
  try {
    const t0 = performance.now();
    let made = 0;
    const fleet: { arn: string; dbId: string; engine: string; strategy: Strategy }[] = [];
    await Promise.all(
      instances.map(async (inst, k) => {
        for (let i = k; i < total; i += instances.length) {
          const strategy = STRATEGIES[i % 3] as Strategy;
          const arn = await makeUser(env, inst.id, inst.engine, `u${i}`, strategy, [
            { Key: 'bench', Value: 'fleet' },
          ]);
          fleet.push({ arn, dbId: inst.id, engine: inst.engine, strategy });
          made++;
        }
      }),
    );
    console.log(`set-up: ${made} users and secrets in ${f1((performance.now() - t0) / 1000)} s\n`);
    console.log('| max concurrency | secrets | succeeded | seconds | secrets/s | store MB | RSS MB |');
    console.log('|---|---|---|---|---|---|---|');
    for (const c of (process.env['BENCH_CONCURRENCY'] ?? '10,50').split(',').map(Number)) {
      const t1 = performance.now();
      const r = await runWorkflow(env.conn, 'rotate-fleet', {
        tag: { key: 'bench', value: 'fleet' },
        maxConcurrency: c,
        force: true,
      });
      const secs = (performance.now() - t1) / 1000;
      const out = r.output as { total: number; succeeded: number };
      if (r.status !== 'SUCCEEDED')
        console.log(`rotate-fleet ${r.status}: ${r.error}: ${String(r.cause).slice(0, 300)}`);
      const store = statSync(path.join(env.stateDir, 'credflow.db')).size + walSize(env.stateDir);
      console.log(
        `| ${c} | ${out?.total ?? '-'} | ${out?.succeeded ?? '-'} | ${f1(secs)} | ${f1((out?.succeeded ?? 0) / secs)} | ${f1(store / 1e6)} | ${f1(process.memoryUsage().rss / 1e6)} |`,
      );
    }
    await fleetFloor(
      env,
      fleet,
      Math.max(...(process.env['BENCH_CONCURRENCY'] ?? '10,50').split(',').map(Number)),
    );
  } finally {
    await env.stop();
  }
}

/**
 * The fleet's raw floor: the same logins and ALTERs as the rotations above (floorRotation), for
 * every secret, straight to the drivers at the same concurrency, with no Secrets Manager, Step
 * Functions or Lambda in between. The database work alone caps what rotate-fleet can reach.
 */
async function fleetFloor(
  env: Env,
  fleet: { arn: string; dbId: string; engine: string; strategy: Strategy }[],
  concurrency: number,
): Promise<void> {
  const users = await Promise.all(
    fleet.map(async (f) => {
      const v = await env.clients.secrets.send(new GetSecretValueCommand({ SecretId: f.arn }));
      const s = JSON.parse(v.SecretString as string) as Credentials & { dbname: string };
      return { ...f, creds: { ...s, port: Number(s.port) } as Credentials };
    }),
  );
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < users.length; i = next++) {
        const u = users[i] as (typeof users)[number];
        const admin = (env.masters[u.dbId] as Env['masters'][string]).creds;
        await floorRotation(u.engine, u.strategy, admin, u.creds, `Floor-fleet-${i}-pw`).catch(() => {
          failed++;
        });
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `\nraw floor at concurrency ${concurrency}: ${users.length - failed}/${users.length} in ${f1(secs)} s = ${f1((users.length - failed) / secs)} secrets/s (driver-side CPU ${f1((cpu.user + cpu.system) / 1000 / users.length)} ms per rotation)`,
  );
}

function walSize(dir: string): number {
  try {
    return statSync(path.join(dir, 'credflow.db-wal')).size;
  } catch {
    return 0;
  }
}

async function benchAvailability(rate: number, rotations: number): Promise<void> {
  console.log(
    `\n## Availability: ${rate} logins/s through the helper during ${rotations} rotations per strategy\n`,
  );
  const env = await environment([
    { id: 'avail-pg', engine: 'postgres' },
    { id: 'avail-my', engine: 'mysql' },
  ]);
  try {
    const lambda = `arn:aws:lambda:us-east-1:000000000000:function:rotationLambda`;
    console.log(
      '| engine | strategy | logins | failed (helper) | longest failure window (ms, helper) | failed (no helper) |',
    );
    console.log('|---|---|---|---|---|---|');
    for (const engine of ENGINES) {
      const dbId = engine === 'postgres' ? 'avail-pg' : 'avail-my';
      for (const strategy of STRATEGIES) {
        const tag = strategy.split('-')[0];
        const arn = await makeUser(env, dbId, engine, `a_${tag}`, strategy);
        const helper = new SecretCredentials({ secretId: arn, client: env.clients.secrets, ttlMs: 60_000 });
        const naive = await helper.credentials();
        const e = engineFor(engine);
        let running = true;
        const stats = { ok: 0, failed: 0, naiveFailed: 0, windowStart: 0, longest: 0 };
        const interval = 1000 / rate;
        const loop = (async () => {
          const inflight = new Set<Promise<void>>();
          let next = performance.now();
          while (running) {
            const p = (async () => {
              try {
                await helper.withCredentials((c) => e.testLogin(c));
                stats.ok++;
                if (stats.windowStart) {
                  stats.longest = Math.max(stats.longest, performance.now() - stats.windowStart);
                  stats.windowStart = 0;
                }
              } catch {
                stats.failed++;
                stats.windowStart ||= performance.now();
              }
              // The no-helper control logs in at a tenth of the rate (CPU: each login is a TLS handshake).
              if ((stats.ok + stats.failed) % 10 === 0) {
                await e.testLogin(naive).catch(() => {
                  stats.naiveFailed++;
                });
              }
            })();
            inflight.add(p);
            p.finally(() => inflight.delete(p));
            next += interval;
            await sleep(Math.max(0, next - performance.now()));
          }
          await Promise.all(inflight);
        })();
        for (let i = 0; i < rotations; i++) {
          const before = (await env.clients.secrets.send(new GetSecretValueCommand({ SecretId: arn })))
            .VersionId;
          await env.clients.secrets.send(
            new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: lambda, RotateImmediately: true }),
          );
          for (let w = 0; ; w++) {
            const v = await env.clients.secrets.send(new GetSecretValueCommand({ SecretId: arn }));
            if (v.VersionId !== before) break;
            if (w > 2000) throw new Error(`rotation ${i + 1} of ${arn} did not finish`);
            await sleep(5);
          }
          await sleep(200);
        }
        running = false;
        await loop;
        console.log(
          `| ${engine} | ${strategy} | ${stats.ok + stats.failed} | ${stats.failed} | ${f1(stats.longest)} | ${stats.naiveFailed} |`,
        );
      }
    }
  } finally {
    await env.stop();
  }
}

/** Zip size and module init time of each Lambda bundle from `serverless package` (.serverless/). */
async function benchBundles(): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  const { existsSync, readdirSync } = await import('node:fs');
  const root = path.resolve(__dirname, '../..');
  const out = path.join(root, '.serverless');
  if (!existsSync(out)) {
    execFileSync(path.join(root, 'node_modules/.bin/osls'), ['package', '--stage', 'bench'], {
      cwd: root,
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'AKIDOFFLINE',
        AWS_SECRET_ACCESS_KEY: 'offline',
        SLS_TELEMETRY_DISABLED: '1',
      },
      stdio: 'ignore',
    });
  }
  console.log(
    '\n## Lambda bundles (serverless package): zip size and module init (median of 5 cold processes)\n',
  );
  console.log('| function | zip KB | init ms |');
  console.log('|---|---|---|');
  for (const zip of readdirSync(out)
    .filter((f) => f.endsWith('.zip'))
    .sort()) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'credflow-zip-'));
    execFileSync('unzip', ['-q', path.join(out, zip), '-d', dir]);
    const js = execFileSync('find', [dir, '-name', '*.js']).toString().trim().split('\n')[0] as string;
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const ms = execFileSync(process.execPath, [
        '-e',
        `const t=process.hrtime.bigint();require(${JSON.stringify(js)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`,
      ]).toString();
      times.push(Number(ms));
    }
    console.log(
      `| ${zip.replace('.zip', '')} | ${(statSync(path.join(out, zip)).size / 1024).toFixed(0)} | ${f1(pct(times, 50))} |`,
    );
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const want = (name: string) => only.length === 0 || only.includes(name);
  console.log(
    `# credflow benchmarks — ${new Date().toISOString()}, ${os.cpus().length} cores, Node ${process.version}`,
  );
  if (want('rotation')) await benchRotation(Number(process.env['BENCH_ROTATIONS'] ?? 20));
  if (want('fleet')) await benchFleet(Number(process.env['BENCH_FLEET'] ?? 1000));
  if (want('bundle')) await benchBundles();
  if (want('availability'))
    await benchAvailability(
      Number(process.env['BENCH_RATE'] ?? 200),
      Number(process.env['BENCH_AVAIL_ROTATIONS'] ?? 5),
    );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
