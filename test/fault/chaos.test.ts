/**
 * Chaos: the local cloud is killed with SIGKILL at random moments of rotations (rotate-secret
 * executions and Secrets Manager's own RotateSecret) and, in half the rounds, again while it
 * repairs them, over PostgreSQL and MariaDB servers this test starts and all three strategies.
 * Every round must end, within 60 s of the last restart, with no AWSPENDING, AWSCURRENT logging
 * in, and AWSPREVIOUS on the old version whenever AWSCURRENT moved.
 *
 * The seed is printed; CREDFLOW_CHAOS_SEED=<n> replays its plan. CREDFLOW_CHAOS_ROUNDS sets the
 * rounds (10 in `npm test`, 30 with `npm run test:chaos`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, ListExecutionsCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { type Connection, type Workflow, workflowArn } from '../../cli/context';
import { runWorkflow } from '../../cli/run';
import { type AwsClients, createClients } from '../../src/aws/clients';
import { engineFor } from '../../src/engines';
import { credentialsOf } from '../../src/rotation/master';
import { parseDbSecret } from '../../src/secret';
import { startTestServers, type TestServers } from '../support/servers';
import { createUserSecret } from '../support/user-secret';
import { type ChaosRotation, type Kill, type RoundPlan, roundPlan } from './chaos-plan';

const root = path.resolve(__dirname, '../..');
const ROUNDS = Number(
  process.env['CREDFLOW_CHAOS_ROUNDS'] ?? (process.env['npm_lifecycle_event'] === 'test:chaos' ? 30 : 10),
);
const SEED = Number(process.env['CREDFLOW_CHAOS_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
/** Every Lambda call of the child cloud takes this long, split at random around the handler. */
const LAMBDA_DELAY_MS = 150;
const SETTLE_MS = 60_000;

interface CloudConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** A cloud process that has loaded its modules and boots when told to. */
interface Spare {
  proc: ChildProcess;
  warm: Promise<void>;
  ready: Promise<CloudConfig>;
  /** Lambda calls begun so far. */
  calls(): number;
  /** Resolves once `n` calls have begun, or once no call has begun for `idleMs`. */
  untilCalls(n: number, idleMs: number): Promise<void>;
}

let spawned = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spawnSpare(stateDir: string): Spare {
  spawned++;
  const proc = spawn(
    process.execPath,
    ['--require', './test/fault/register-cached.js', 'test/fault/cloud-child.ts', stateDir, '--warm'],
    {
      cwd: root,
      env: {
        ...process.env,
        LOG_LEVEL: 'ERROR',
        POWERTOOLS_LOG_LEVEL: 'ERROR',
        CREDFLOW_LOG_LEVEL: 'error',
        AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1',
        CREDFLOW_CHAOS_DELAY_MS: String(LAMBDA_DELAY_MS),
        CREDFLOW_CHAOS_SEED: String((SEED + spawned * 7919) >>> 0),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  let out = '';
  let calls = 0;
  let lastCallAt = Date.now();
  const lines: ((line: Record<string, unknown>) => void)[] = [
    (l) => {
      if (typeof l['call'] === 'number') {
        calls = l['call'];
        lastCallAt = Date.now();
      }
    },
  ];
  proc.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
    let nl = out.indexOf('\n');
    while (nl >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (line.startsWith('{')) for (const fn of lines) fn(JSON.parse(line));
      nl = out.indexOf('\n');
    }
  });
  const exited = new Promise<never>((_, reject) =>
    proc.once('exit', (code, signal) => reject(new Error(`cloud child exited (${code ?? signal})`))),
  );
  exited.catch(() => {});
  const line = (key: string) =>
    Promise.race([
      new Promise<Record<string, unknown>>((resolve) =>
        lines.push((l) => {
          if (l[key]) resolve(l);
        }),
      ),
      exited,
    ]);
  const warm = line('warm').then(() => undefined);
  const ready = line('ready').then((l) => l as unknown as CloudConfig);
  warm.catch(() => {});
  ready.catch(() => {});
  const untilCalls = async (n: number, idleMs: number) => {
    lastCallAt = Math.max(lastCallAt, Date.now());
    while (calls < n && Date.now() - lastCallAt < idleMs && proc.exitCode === null) await sleep(5);
  };
  return { proc, warm, ready, calls: () => calls, untilCalls };
}

let servers: TestServers;
let stateDir: string;
const spares: Spare[] = [];
let live: Spare | undefined;
let clients: AwsClients | undefined;
let conn: Connection;
const stats = {
  kills: 0,
  rotations: 0,
  native: 0,
  rotated: 0,
  rolledForward: 0,
  rolledBack: 0,
  unchanged: 0,
  reconcilerRuns: 0,
  roundsNeedingReconciler: [] as number[],
  repairReruns: 0,
  slowestSettleMs: 0,
};

/** Starts the next cloud on the state dir from a warm spare, and warms another. */
const debug = (m: string) => {
  if (process.env['CREDFLOW_CHAOS_DEBUG']) process.stdout.write(`${new Date().toISOString()} ${m}\n`);
};

async function boot(): Promise<void> {
  const spare = spares.shift() ?? spawnSpare(stateDir);
  spares.push(spawnSpare(stateDir));
  const t0 = Date.now();
  await spare.warm;
  const t1 = Date.now();
  spare.proc.stdin?.write('go\n');
  const config = await spare.ready;
  debug(`boot: waited ${t1 - t0} ms for a warm spare, booted in ${Date.now() - t1} ms`);
  live = spare;
  for (const c of Object.values(clients ?? {})) c.destroy();
  clients = createClients(config);
  conn = { clients, stage: 'local', mode: 'local', region: config.region, endpoint: config.endpoint };
}

/** SIGKILL `k.delayMs` after the live cloud's `k.afterCalls`-th Lambda call from `base` began. */
async function kill(k: Kill = { afterCalls: 0, delayMs: 0 }, base = live?.calls() ?? 0): Promise<void> {
  if (!live) return;
  if (k.afterCalls > 0) await live.untilCalls(base + k.afterCalls, 3000);
  await sleep(k.delayMs);
  const proc = live.proc;
  live = undefined;
  if (proc.exitCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await gone;
  stats.kills++;
}

beforeAll(async () => {
  process.stdout.write(
    `chaos: seed ${SEED}, ${ROUNDS} rounds (replay with CREDFLOW_CHAOS_SEED=${SEED} CREDFLOW_CHAOS_ROUNDS=${ROUNDS})\n`,
  );
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-chaos-'));
  // The servers first: the spares inherit NODE_EXTRA_CA_CERTS, naming the CA the servers' come from.
  servers = await startTestServers();
  spares.push(spawnSpare(stateDir), spawnSpare(stateDir));
  await boot();
}, 120_000);

afterAll(async () => {
  if (live) {
    const l = await conn.clients.sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: await workflowArn(conn, 'on-rotation-failure'),
        maxResults: 1000,
      }),
    );
    stats.repairReruns = (l.executions ?? []).filter((e) => /-rerun-\d+$/.test(e.name ?? '')).length;
  }
  await kill();
  for (const s of spares.splice(0)) {
    if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
  }
  for (const c of Object.values(clients ?? {})) c.destroy();
  await servers?.stop();
  rmSync(stateDir, { recursive: true, force: true });
  process.stdout.write(`chaos: seed ${SEED} outcome ${JSON.stringify(stats)}\n`);
});

interface Subject extends ChaosRotation {
  arn: string;
  /** AWSCURRENT before the round. */
  before: string;
}

async function stagesOf(secretId: string): Promise<Record<string, string[]>> {
  const d = await (clients as AwsClients).secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
  return (d.VersionIdsToStages ?? {}) as Record<string, string[]>;
}

const holder = (v: Record<string, string[]>, label: string) =>
  Object.entries(v).find(([, s]) => s.includes(label))?.[0];

async function prepare(plan: RoundPlan): Promise<Subject[]> {
  const c = clients as AwsClients;
  const subjects: Subject[] = [];
  // One after another: PostgreSQL refuses concurrent GRANTs on one database ("tuple concurrently updated").
  for (const [i, r] of plan.rotations.entries()) {
    const id = `r${plan.round}_${i}`;
    const { arn } = await createUserSecret({
      secrets: c.secrets,
      engine: r.engine,
      admin: servers[r.engine].admin,
      masterName: `credflow/chaos/master-${id}`,
      name: `credflow/chaos/${id}`,
      username: `chaos_${id}`,
      password: `Chaos-${id}-pw-${SEED}`,
      strategy: r.strategy,
    });
    // The reconciler looks at credflow-managed secrets only.
    await c.secrets.send(
      new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'credflow:managed', Value: 'true' }] }),
    );
    subjects.push({ ...r, arn, before: holder(await stagesOf(arn), 'AWSCURRENT') as string });
  }
  return subjects;
}

async function startRotation(s: Subject, rotateSecretArn: string): Promise<void> {
  const c = clients as AwsClients;
  await sleep(s.startAfterMs);
  if (s.native) {
    await c.secrets.send(
      new RotateSecretCommand({
        SecretId: s.arn,
        RotationLambdaARN: `arn:aws:lambda:${conn.region}:000000000000:function:rotationLambda`,
        RotationRules: { AutomaticallyAfterDays: 30 },
        RotateImmediately: true,
      }),
    );
  } else {
    await c.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: rotateSecretArn,
        input: JSON.stringify({ secretId: s.arn }),
      }),
    );
  }
}

const WATCHED: Workflow[] = ['rotate-secret', 'on-rotation-failure', 'reconcile-rotations'];

async function anyRunning(): Promise<boolean> {
  for (const w of WATCHED) {
    const l = await conn.clients.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: await workflowArn(conn, w), statusFilter: 'RUNNING' }),
    );
    if ((l.executions ?? []).length > 0) return true;
  }
  return false;
}

/**
 * Waits until no subject holds AWSPENDING and nothing runs. When the cloud has been quiet for a
 * while and an AWSPENDING is still there (a native rotation died: no execution, no event), runs
 * the reconciler with a zero threshold, as its schedule would 15 minutes later.
 */
async function settle(subjects: Subject[], plan: RoundPlan, restartedAt: number): Promise<void> {
  let quietSince: number | undefined;
  let reconciled = '';
  for (;;) {
    const pending: string[] = [];
    for (const s of subjects) if (holder(await stagesOf(s.arn), 'AWSPENDING')) pending.push(s.arn);
    const running = await anyRunning();
    if (pending.length === 0 && !running) return;
    if (Date.now() - restartedAt > SETTLE_MS) {
      throw new Error(
        `round ${plan.round} not settled ${SETTLE_MS} ms after the restart: AWSPENDING on ${pending.join(', ')}; running: ${running}; plan ${JSON.stringify(plan)}\n${await evidence(pending)}\nlast reconcile-rotations: ${reconciled}`,
      );
    }
    if (running) quietSince = undefined;
    else if (quietSince === undefined) quietSince = Date.now();
    else if (Date.now() - quietSince > 1500) {
      stats.reconcilerRuns++;
      if (!stats.roundsNeedingReconciler.includes(plan.round)) stats.roundsNeedingReconciler.push(plan.round);
      const r = await runWorkflow(conn, 'reconcile-rotations', { olderThanMinutes: 0 });
      if (r.status !== 'SUCCEEDED') throw new Error(`reconcile-rotations ${r.status}: ${r.error} ${r.cause}`);
      reconciled = JSON.stringify(r.output);
      quietSince = undefined;
    }
    await sleep(200);
  }
}

/** What a failed round leaves to look at: the secrets' versions and the repairs that ran. */
async function evidence(secretIds: string[]): Promise<string> {
  const out: string[] = [];
  for (const id of secretIds) out.push(`${id}: ${JSON.stringify(await stagesOf(id))}`);
  const repairs = await conn.clients.sfn.send(
    new ListExecutionsCommand({
      stateMachineArn: await workflowArn(conn, 'on-rotation-failure'),
      maxResults: 10,
    }),
  );
  for (const e of repairs.executions ?? []) {
    const d = await conn.clients.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
    out.push(`repair ${d.name} ${d.status} ${d.error ?? ''} ${d.cause ?? ''} output ${d.output ?? ''}`);
  }
  return out.join('\n');
}

async function currentLogsIn(secretId: string): Promise<boolean> {
  const v = await conn.clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  const s = parseDbSecret(v.SecretString);
  return engineFor(s.engine)
    .testLogin(credentialsOf(s))
    .then(
      () => true,
      () => false,
    );
}

describe(`chaos: SIGKILL during rotations and repairs (seed ${SEED})`, () => {
  it.each(Array.from({ length: ROUNDS }, (_, i) => i))(
    'round %i ends with no AWSPENDING, AWSCURRENT logging in, AWSPREVIOUS kept',
    async (round) => {
      const plan = roundPlan(SEED, round);
      debug(`round ${round}: plan ${JSON.stringify(plan)}`);
      const subjects = await prepare(plan);
      debug(`round ${round}: prepared`);
      const rotateSecretArn = await workflowArn(conn, 'rotate-secret');
      const base = live?.calls() ?? 0;
      const started = subjects.map((s) => startRotation(s, rotateSecretArn).catch(() => undefined));
      await kill(plan.kill, base);
      await Promise.all(started);
      await boot();
      let restartedAt = Date.now();
      if (plan.secondKill) {
        await kill(plan.secondKill);
        await boot();
        restartedAt = Date.now();
      }
      debug(`round ${round}: settling`);
      await settle(subjects, plan, restartedAt);
      debug(`round ${round}: settled in ${Date.now() - restartedAt} ms`);
      stats.slowestSettleMs = Math.max(stats.slowestSettleMs, Date.now() - restartedAt);

      // Executions and events survive a kill: only a native rotation (no execution, no event) needs the reconciler.
      if (!plan.rotations.some((r) => r.native)) {
        expect({ round, reconciled: stats.roundsNeedingReconciler.includes(round) }).toEqual({
          round,
          reconciled: false,
        });
      }
      for (const s of subjects) {
        const stages = await stagesOf(s.arn);
        const where = `round ${round} ${s.engine} ${s.strategy}${s.native ? ' (native)' : ''}; plan ${JSON.stringify(plan)}`;
        expect({ where, pending: holder(stages, 'AWSPENDING') }).toEqual({ where, pending: undefined });
        expect({ where, logsIn: await currentLogsIn(s.arn) }).toEqual({ where, logsIn: true });
        const current = holder(stages, 'AWSCURRENT');
        if (current !== s.before) {
          expect({ where, previous: holder(stages, 'AWSPREVIOUS') }).toEqual({ where, previous: s.before });
        }
        const status = (
          await conn.clients.secrets.send(new DescribeSecretCommand({ SecretId: s.arn }))
        ).Tags?.find((t) => t.Key === 'credflow:rotation-status')?.Value;
        stats.rotations++;
        if (s.native) stats.native++;
        if (status === 'rolled-forward') stats.rolledForward++;
        else if (status === 'rolled-back') stats.rolledBack++;
        else if (current !== s.before) stats.rotated++;
        else stats.unchanged++;
      }
    },
    120_000,
  );
});
