/**
 * `npm run bench`: figures, not assertions. Ratios come from one run on a noisy 2-core machine.
 *
 *   rotation      rotate-secret on the local cloud vs the raw floor (the same logins and ALTERs
 *                 done directly with the drivers), median and p95 over N rotations per engine x strategy
 *   fleet         rotate-fleet over many secrets on 4 instances, quotas off: secrets/s vs the raw floor
 *   fleet-quotas  rotate-fleet with AWS's quotas on, both engines, all strategies: rate vs the
 *                 budget-bound rate, failures, throttling, largest state, longest history
 *   availability  logins at a fixed rate through the application helper while rotations run
 *   iam           the IAM evaluator alone: µs per authorize call, uncached and from the decision cache
 *   iam-gate      IAM on vs off end to end: the same Secrets Manager calls to two clouds, interleaved
 *
 * Select with `npm run bench -- rotation fleet`; sizes with BENCH_ROTATIONS, BENCH_FLEET,
 * BENCH_QUOTA_FLEET, BENCH_QUOTA_INSTANCES (per engine), BENCH_IAM_CALLS, BENCH_GATE_CALLS; `--quick` for CI-sized runs.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetSecretValueCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { workflowArn } from '../cli/context';
import { runWorkflow } from '../cli/run';
import { isAuthFailure, SecretCredentials } from '../src/client';
import { engineFor } from '../src/engines';
import type { Credentials } from '../src/engines/types';
import { MAX_FLEET_CONCURRENCY, MAX_FLEET_CONCURRENCY_REASON } from '../src/lifecycle/fleet';
import { cloneOf } from '../src/rotation/strategies';
import type { StrategyName as Strategy } from '../src/rotation/types';
import {
  cpuMeter,
  ENGINES,
  type Env,
  environment,
  f1,
  makeUser,
  pct,
  STRATEGIES,
  sleep,
  storeBytes,
} from './env';
import { benchFleetQuotas } from './fleet-quotas';
import { benchIam } from './iam';
import { benchIamGate } from './iam-gate';

process.env['LOG_LEVEL'] ??= 'ERROR';
process.env['POWERTOOLS_LOG_LEVEL'] ??= 'ERROR';
process.env['CREDFLOW_LOG_LEVEL'] ??= 'error';
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

/** What the floor's users are bound to (they have no secret: the floor bypasses Secrets Manager). */
const FLOOR_BINDING = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench/floor-000000';

/** The raw floor: the logins and ALTERs rotate-secret's steps and its verify make, straight to the driver. */
async function floorRotation(
  engine: string,
  strategy: Strategy,
  admin: Credentials,
  user: Credentials,
  next: string,
  binding = FLOOR_BINDING,
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
    await e.cloneUser(admin, user.username, clone.username, next, binding);
    await e.testLogin(clone);
    await e.testLogin(clone);
    await e.inspectUsers(admin, [clone.username, user.username]);
    return user; // the next round alternates back to the original user
  }
  await refused(pending);
  await e.setPassword(admin, user.username, next, binding);
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
    // What one Secrets Manager call costs end to end here (SDK, SigV4 both ways, HTTP, SQLite):
    // the workflow's calls are sequential, so they add at least calls x this to every rotation.
    const master = Object.values(env.masters)[0]?.arn as string;
    const trips: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await env.clients.secrets.send(new GetSecretValueCommand({ SecretId: master }));
      trips.push(performance.now() - t);
    }
    console.log(
      `One GetSecretValue round trip: median ${f1(pct(trips, 50))} ms, p95 ${f1(pct(trips, 95))} ms (200 in sequence)\n`,
    );
    console.log(
      '| engine | strategy | workflow median | workflow p95 | floor median | floor p95 | ratio (median) | Secrets Manager calls per rotation |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const engine of ENGINES) {
      const dbId = engine === 'postgres' ? 'bench-pg' : 'bench-my';
      const admin = (env.masters[dbId] as Env['masters'][string]).creds;
      for (const strategy of STRATEGIES) {
        const tag = strategy.split('-')[0];
        const arn = await makeUser(env, dbId, engine, `w_${tag}`, strategy);
        await runWorkflow(env.conn, 'rotate-secret', { secretId: arn }); // warm-up (JIT, pools)
        const callsBefore = env.calls();
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
        const callsAfter = env.calls();
        let calls = 0;
        for (const [op, n] of callsAfter) calls += n - (callsBefore.get(op) ?? 0);
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
          `| ${engine} | ${strategy} | ${f1(pct(wf, 50))} | ${f1(pct(wf, 95))} | ${f1(pct(floor, 50))} | ${f1(pct(floor, 95))} | ${f1(ratio)} | ${f1(calls / rounds)} |`,
        );
      }
    }
  } finally {
    await env.stop();
  }
}

/**
 * The fleet concurrencies to measure (BENCH_CONCURRENCY, default 10 and 40). At most 40: a
 * fleet page is an inline Map, which runs at most 40 iterations at once on AWS and locally.
 */
function fleetConcurrencies(): number[] {
  const values = (process.env['BENCH_CONCURRENCY'] ?? '10,40').split(',').map(Number);
  const bad = values.filter((c) => !Number.isInteger(c) || c < 1 || c > MAX_FLEET_CONCURRENCY);
  if (bad.length > 0)
    throw new Error(`BENCH_CONCURRENCY ${bad.join(',')}: each must be ${MAX_FLEET_CONCURRENCY_REASON}`);
  return values;
}

async function benchFleet(total: number): Promise<void> {
  console.log(`\n## Fleet throughput (${total} secrets over 4 instances)\n`);
  const concurrencies = fleetConcurrencies();
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
    console.log(
      '| max concurrency | secrets | succeeded | seconds | secrets/s | CPU ms per rotation: credflow / machine | store MB | RSS MB |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    let best = 0;
    for (const c of concurrencies) {
      const t1 = performance.now();
      const cpu = cpuMeter();
      // Quotas off: no write budget to keep to, so the fleet is bound by the machine alone.
      const r = await runWorkflow(env.conn, 'rotate-fleet', {
        tag: { key: 'bench', value: 'fleet' },
        maxConcurrency: c,
        writeBudget: 10_000,
        force: true,
      });
      const secs = (performance.now() - t1) / 1000;
      const out = r.output as { total: number; succeeded: number };
      if (r.status !== 'SUCCEEDED')
        console.log(`rotate-fleet ${r.status}: ${r.error}: ${String(r.cause).slice(0, 300)}`);
      best = Math.max(best, (out?.succeeded ?? 0) / secs);
      const store = storeBytes(env.stateDir);
      const used = cpu.read();
      const per = (ms: number) => f1(ms / Math.max(1, out?.succeeded ?? 0));
      console.log(
        `| ${c} | ${out?.total ?? '-'} | ${out?.succeeded ?? '-'} | ${f1(secs)} | ${f1((out?.succeeded ?? 0) / secs)} | ${per(used.processMs)} / ${per(used.machineMs)} | ${f1(store / 1e6)} | ${f1(process.memoryUsage().rss / 1e6)} |`,
      );
    }
    const floor = await fleetFloor(env, fleet, Math.max(...concurrencies));
    console.log(`rotate-fleet's best / raw floor: ${f1((100 * best) / floor)}% (target 85%)`);
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
): Promise<number> {
  const users = await Promise.all(
    fleet.map(async (f) => {
      const v = await env.clients.secrets.send(new GetSecretValueCommand({ SecretId: f.arn }));
      const s = JSON.parse(v.SecretString as string) as Credentials & { dbname: string };
      return { ...f, creds: { ...s, port: Number(s.port) } as Credentials };
    }),
  );
  const cpu0 = process.cpuUsage();
  const machine = cpuMeter();
  const t0 = performance.now();
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < users.length; i = next++) {
        const u = users[i] as (typeof users)[number];
        const admin = (env.masters[u.dbId] as Env['masters'][string]).creds;
        // The fleet's users are bound to their own secrets: the boundary refuses any other binding.
        await floorRotation(u.engine, u.strategy, admin, u.creds, `Floor-fleet-${i}-pw`, u.arn).catch(() => {
          failed++;
        });
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const machineMs = machine.read().machineMs;
  console.log(
    `\nraw floor at concurrency ${concurrency}: ${users.length - failed}/${users.length} in ${f1(secs)} s = ${f1((users.length - failed) / secs)} secrets/s (CPU per rotation: driver side ${f1((cpu.user + cpu.system) / 1000 / users.length)} ms, machine ${f1(machineMs / users.length)} ms)`,
  );
  return (users.length - failed) / secs;
}

/** Logins the availability probe keeps in flight at most (an application's connection pool). */
const AVAILABILITY_POOL = 20;

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
      '| engine | strategy | logins | failed (helper) | longest failure window (ms, helper) | failures by reason | failed (no helper) |',
    );
    console.log('|---|---|---|---|---|---|---|');
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
        const reasons = new Map<string, number>();
        const interval = 1000 / rate;
        const loop = (async () => {
          const inflight = new Set<Promise<void>>();
          let next = performance.now();
          while (running) {
            // An application's pool: at most AVAILABILITY_POOL logins at once; past that a login
            // waits for a slot, so a slow moment queues logins instead of opening ever more.
            while (inflight.size >= AVAILABILITY_POOL) await Promise.race(inflight);
            const p = (async () => {
              try {
                await helper.withCredentials((c) => e.testLogin(c));
                stats.ok++;
                if (stats.windowStart) {
                  stats.longest = Math.max(stats.longest, performance.now() - stats.windowStart);
                  stats.windowStart = 0;
                }
              } catch (err) {
                stats.failed++;
                stats.windowStart ||= performance.now();
                const e2 = err as { name?: string; code?: string };
                const why = isAuthFailure(err) ? 'auth' : (e2.code ?? e2.name ?? 'error');
                reasons.set(why, (reasons.get(why) ?? 0) + 1);
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
          `| ${engine} | ${strategy} | ${stats.ok + stats.failed} | ${stats.failed} | ${f1(stats.longest)} | ${[...reasons].map(([k, n]) => `${k} ${n}`).join(', ') || '-'} | ${stats.naiveFailed} |`,
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
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const only = args.filter((a) => a !== '--quick');
  const want = (name: string) => only.length === 0 || only.includes(name);
  const size = (name: string, full: number, small: number) =>
    Number(process.env[name] ?? (quick ? small : full));
  console.log(
    `# credflow benchmarks${quick ? ' (--quick)' : ''} — ${new Date().toISOString()}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}`,
  );
  if (quick) process.env['BENCH_CONCURRENCY'] ??= '40';
  if (want('rotation')) await benchRotation(size('BENCH_ROTATIONS', 20, 5));
  if (want('fleet')) await benchFleet(size('BENCH_FLEET', 1000, 100));
  if (want('fleet-quotas'))
    await benchFleetQuotas(size('BENCH_QUOTA_FLEET', 10_000, 200), size('BENCH_QUOTA_INSTANCES', 4, 1));
  if (want('bundle')) await benchBundles();
  if (want('availability'))
    await benchAvailability(size('BENCH_RATE', 200, 100), size('BENCH_AVAIL_ROTATIONS', 5, 2));
  if (want('iam')) benchIam(size('BENCH_IAM_CALLS', 200_000, 20_000));
  if (want('iam-gate')) await benchIamGate(size('BENCH_GATE_CALLS', 2_000, 300));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
