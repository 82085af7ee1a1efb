import { CreateDBInstanceCommand } from '@aws-sdk/client-rds';
import { CreateSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
} from '@aws-sdk/client-sfn';
import { type Workflow, workflowArn } from '../../cli/context';
import { startWorkflow } from '../../cli/run';
import { quotasOn } from '../../local/quotas';
import { engineFor } from '../../src/engines';
import { WRITES_PER_ROTATION } from '../../src/lifecycle/fleet-pacing';
import { type FleetProgress, fleetSnapshot } from '../../src/lifecycle/fleet-progress';
import { USER_TAG } from '../../src/rotation/boundary';
import { resolveMaster } from '../../src/rotation/master';
import { STRATEGY_TAG } from '../../src/rotation/types';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { connectionOf, logsIn, succeed } from './support';

let tc: TestCloud;

beforeAll(async () => {
  // AWS's request rates on: the fleet paces itself to its write budget and meets no throttling.
  tc = await startTestCloud(quotasOn());
}, 120_000);
afterAll(async () => {
  await tc?.stop();
});

interface Made {
  arn: string;
  username: string;
  strategy: string;
}

/**
 * `n` users on a fresh instance, each with a secret tagged for the fleet and bound to its user.
 * The first `pairs` users are single-user credentials stored twice, as a team might keep them
 * outside credflow (no credflow:user tag): the fleet must never rotate both copies at once.
 */
async function fleetOn(id: string, engine: string, n: number, pairs: number, tag = 'test'): Promise<Made[]> {
  const out = await tc.clients.rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      Engine: engine,
      DBInstanceClass: 'db.t3.micro',
      DBName: 'appdb',
      MasterUsername: 'dbadmin',
      ManageMasterUserPassword: true,
    }),
  );
  await tc.cloud.rds.waitForStatus('instance', id, 'available');
  const masterArn = out.DBInstance!.MasterUserSecret!.SecretArn!;
  const master = await resolveMaster(tc.clients, masterArn);
  const e = engineFor(engine);
  const made: Made[] = [];
  const strategies = ['single-user', 'alternating-users', 'admin-single-user'];
  for (let i = 0; i < n; i++) {
    const username = `f${i}`;
    const password = `Fleet-${i}-initial-pw`;
    const strategy = i < pairs ? 'single-user' : (strategies[i % 3] as string);
    const copies = i < pairs ? 2 : 1;
    let binding: string | undefined;
    for (let c = 0; c < copies; c++) {
      const s = await tc.clients.secrets.send(
        new CreateSecretCommand({
          Name: `credflow/fleet/${id}/${username}${c ? '-copy' : ''}`,
          SecretString: JSON.stringify({
            engine,
            host: master.creds.host,
            port: master.creds.port,
            username,
            password,
            dbname: 'appdb',
            masterarn: masterArn,
          }),
          Tags: [
            { Key: STRATEGY_TAG, Value: strategy },
            { Key: 'fleet', Value: tag },
            ...(copies === 1 ? [{ Key: USER_TAG, Value: username }] : []),
          ],
        }),
      );
      binding ??= s.ARN!;
      made.push({ arn: s.ARN!, username: `${id}/${username}`, strategy });
    }
    await e.createUser(master.creds, {
      username,
      password,
      database: 'appdb',
      privileges: ['SELECT'],
      binding: binding as string,
    });
  }
  return made;
}

async function executionsOf(workflow: Workflow) {
  const list = await tc.clients.sfn.send(
    new ListExecutionsCommand({
      stateMachineArn: await workflowArn(connectionOf(tc), workflow),
      maxResults: 1000,
    }),
  );
  return list.executions ?? [];
}

it('rotate-fleet: 50 secrets on 2 instances in pages of 10, at most 5 in flight, never both secrets of one user at once, failures retried once, progress as the CLI reads it', async () => {
  const made = [
    ...(await fleetOn('fleet-pg', 'postgres', 23, 3)),
    ...(await fleetOn('fleet-my', 'mysql', 22, 2)),
  ];
  expect(made).toHaveLength(50);
  const conn = connectionOf(tc);
  const before = new Map<string, string>();
  for (const m of made) {
    const v = await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: m.arn }));
    before.set(m.arn, v.VersionId!);
  }

  const arn = await startWorkflow(conn, 'rotate-fleet', {
    tag: { key: 'fleet', value: 'test' },
    maxConcurrency: 5,
    force: true,
    pageSize: 10,
    pagesPerExecution: 2,
  });
  // What the CLI shows while it runs, read as it does: every 200 ms until the run stops.
  const seen: FleetProgress[] = [];
  let run = await conn.clients.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
  while (run.status === 'RUNNING') {
    seen.push(await fleetSnapshot(conn.clients.sfn, arn));
    await new Promise((r) => setTimeout(r, 200));
    run = await conn.clients.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
  }
  expect(run.status).toBe('SUCCEEDED');
  const summary = JSON.parse(run.output ?? '{}') as Record<string, unknown>;
  // Of two single-user copies, the second to run finds its password changed by the first and
  // fails (AuthenticationError) without touching anything; retried once at the end it fails
  // again and is reported; the fleet goes on.
  expect(summary).toMatchObject({
    total: 50,
    selected: 50,
    succeeded: 45,
    failed: 5,
    retried: 5,
    recovered: 0,
    failuresByError: { AuthenticationError: 5 },
    throttling: { throttledRequests: 0, backoffs: 0 },
    // 5 pages of 10 and one retry page; two pages per execution: the run continued twice.
    pages: 6,
    executions: 3,
  });
  expect((summary['failures'] as { error: string }[]).map((f) => f.error)).toEqual(
    Array(5).fill('AuthenticationError'),
  );

  // Progress: counts only grow, rotations were seen in flight in pages of later executions, and
  // the last look agrees with the summary.
  for (let i = 1; i < seen.length; i++) expect(seen[i]!.rotated).toBeGreaterThanOrEqual(seen[i - 1]!.rotated);
  expect(seen.some((p) => p.inFlight > 0)).toBe(true);
  expect(new Set(seen.map((p) => p.executionArn)).size).toBeGreaterThan(1);
  expect(seen.every((p) => p.selected === undefined || p.selected === 50)).toBe(true);
  expect(
    seen.every(
      (p) => p.rotated + p.failed + p.inFlight + (p.remaining ?? 0) === 50 || p.selected === undefined,
    ),
  ).toBe(true);
  expect(await fleetSnapshot(conn.clients.sfn, arn)).toMatchObject({
    selected: 50,
    rotated: 45,
    failed: 5,
    awaitingRetry: 0,
    inFlight: 0,
    remaining: 0,
  });

  // No execution's history grows with the fleet: each holds one page or a few pages' worth.
  const fleetRuns = [...(await executionsOf('rotate-fleet')), ...(await executionsOf('rotate-fleet-page'))];
  expect(fleetRuns).toHaveLength(3 + 6);
  for (const e of fleetRuns) {
    const h = await tc.clients.sfn.send(
      new GetExecutionHistoryCommand({ executionArn: e.executionArn, maxResults: 1000 }),
    );
    expect({ execution: e.name, bounded: (h.events ?? []).length < 400 }).toEqual({
      execution: e.name,
      bounded: true,
    });
  }

  // Every other secret rotated (a new AWSCURRENT version) and logs in; of two copies, exactly
  // the one rotated holds the working password.
  const loginsByUser = new Map<string, boolean[]>();
  for (const m of made) {
    const v = await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: m.arn }));
    const works = await logsIn(conn, m.arn);
    if (works) expect(v.VersionId).not.toBe(before.get(m.arn));
    loginsByUser.set(m.username, [...(loginsByUser.get(m.username) ?? []), works]);
  }
  for (const logins of loginsByUser.values()) expect(logins.filter(Boolean)).toHaveLength(1);

  // From the executions' own start and stop times: concurrency and pairs.
  const list = await tc.clients.sfn.send(
    new ListExecutionsCommand({
      stateMachineArn: await workflowArn(conn, 'rotate-secret'),
      maxResults: 1000,
    }),
  );
  const runs = await Promise.all(
    (list.executions ?? []).map(async (e) => {
      const d = await tc.clients.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
      const secretId = (JSON.parse(d.input ?? '{}') as { secretId: string }).secretId;
      return { secretId, start: d.startDate!.getTime(), stop: d.stopDate!.getTime() };
    }),
  );
  // 50 rotations and the 5 retries.
  expect(runs).toHaveLength(55);
  const points = runs.flatMap((r) => [
    { t: r.start, d: 1 },
    { t: r.stop, d: -1 },
  ]);
  // Stops before starts at the same millisecond: a slot freed and taken is not an overlap.
  points.sort((a, b) => a.t - b.t || a.d - b.d);
  let inFlight = 0;
  let most = 0;
  for (const p of points) {
    inFlight += p.d;
    most = Math.max(most, inFlight);
  }
  expect(most).toBeLessThanOrEqual(5);
  expect(most).toBeGreaterThan(1);

  const byUser = new Map<string, { start: number; stop: number }[]>();
  for (const r of runs) {
    const user = made.find((m) => m.arn === r.secretId)!.username;
    byUser.set(user, [...(byUser.get(user) ?? []), r]);
  }
  // Each pair: two rotations and the retry of the one that failed, never two at once.
  const paired = [...byUser.values()].filter((v) => v.length > 1);
  expect(paired.map((v) => v.length)).toEqual(Array(5).fill(3));
  for (const v of paired)
    for (const a of v)
      for (const b of v) if (a !== b) expect(a.stop <= b.start || b.stop <= a.start).toBe(true);
}, 300_000);

/**
 * Reads one rotate-secret execution (its four steps and its verify) makes, by strategy, in the
 * order fleetOn makes them. A function remembers a master's endpoint for 30 s, so the master's
 * DescribeSecret is paid by the first master-using rotation only (alternating here: in setSecret
 * and in the verify), not by the admin-single one after it.
 */
// finishSecret reads AWSCURRENT once to check AWSPENDING points at the same database; MySQL's
// verify asks the master for same-name accounts on other hosts, even for single-user. The
// master's DescribeSecret is paid once per function per 30 s, so it shows on the first rotation
// of each engine that uses the master (the rotations below run in this order).
const READS_PER_ROTATION = {
  postgres: {
    'single-user': { GetSecretValue: 8, DescribeSecret: 7 },
    'alternating-users': { GetSecretValue: 9, DescribeSecret: 9 },
    'admin-single-user': { GetSecretValue: 9, DescribeSecret: 7 },
  },
  mysql: {
    'single-user': { GetSecretValue: 9, DescribeSecret: 8 },
    'alternating-users': { GetSecretValue: 9, DescribeSecret: 8 },
    'admin-single-user': { GetSecretValue: 9, DescribeSecret: 7 },
  },
};

/** Calls in Secrets Manager's write group (PutSecretValue, UpdateSecret, UpdateSecretVersionStage) so far. */
function writesSoFar(): number {
  const c = tc.cloud.secretsQuotas.calls;
  return ['PutSecretValue', 'UpdateSecret', 'UpdateSecretVersionStage'].reduce(
    (n, op) => n + (c.get(op) ?? 0),
    0,
  );
}

it('rotate-fleet never writes faster than its budget: 12 secrets at 6 writes/s (2 rotations/s)', async () => {
  await fleetOn('pace-pg', 'postgres', 12, 0, 'pace');
  const before = writesSoFar();
  const t0 = Date.now();
  const summary = await succeed(connectionOf(tc), 'rotate-fleet', {
    tag: { key: 'fleet', value: 'pace' },
    force: true,
    writeBudget: 6,
    pageSize: 4,
  });
  const seconds = (Date.now() - t0) / 1000;
  const writes = writesSoFar() - before;
  expect(summary).toMatchObject({ succeeded: 12, failed: 0, pacing: { writeBudget: 6, budgetRate: 2 } });
  expect(writes).toBe(12 * WRITES_PER_ROTATION);
  // Start times 0.5 s apart (one second's worth may go at once after a pause between pages): an
  // upper bound on speed, never one on slowness.
  expect(seconds).toBeGreaterThanOrEqual((12 - 2) / 2);
  expect(writes).toBeLessThanOrEqual(6 * seconds + 6);
}, 300_000);

it('rotate-fleet slows down when other writers leave it less than its budget, and nothing fails', async () => {
  await fleetOn('adapt-my', 'mysql', 15, 0, 'adapt');
  // Other applications use all but 6 of the account's 50 writes a second.
  tc.cloud.secretsQuotas.limit('PutSecretValue', 6);
  try {
    const summary = await succeed(connectionOf(tc), 'rotate-fleet', {
      tag: { key: 'fleet', value: 'adapt' },
      force: true,
      pageSize: 5,
    });
    expect(summary).toMatchObject({ succeeded: 15, failed: 0, retried: 0 });
    const throttling = summary['throttling'] as { throttledRequests: number; backoffs: number };
    expect(throttling.throttledRequests).toBeGreaterThan(0);
    expect(throttling.backoffs).toBeGreaterThanOrEqual(1);
    expect((summary['pacing'] as { finalRate: number }).finalRate).toBeLessThan(25 / WRITES_PER_ROTATION);
  } finally {
    tc.cloud.secretsQuotas.limit('PutSecretValue', 50);
  }
}, 300_000);

it('one rotation makes WRITES_PER_ROTATION writes in the regional write quota, every engine and strategy', async () => {
  const made = [
    ...(await fleetOn('calls-pg', 'postgres', 3, 0, 'calls')),
    ...(await fleetOn('calls-my', 'mysql', 3, 0, 'calls')),
  ];
  const seen: Record<string, number | string>[] = [];
  const expected: Record<string, number | string>[] = [];
  for (const m of made) {
    const before = new Map(tc.cloud.secretsQuotas.calls);
    await succeed(connectionOf(tc), 'rotate-secret', { secretId: m.arn });
    const delta = (op: string) => (tc.cloud.secretsQuotas.calls.get(op) ?? 0) - (before.get(op) ?? 0);
    // README "Secrets Manager calls per rotation": the writes, the two other 50/s quotas a
    // rotation uses once each, and the reads (the master's for the strategies that use it).
    seen.push({
      secret: m.username,
      writes: delta('PutSecretValue') + delta('UpdateSecretVersionStage') + delta('UpdateSecret'),
      GetRandomPassword: delta('GetRandomPassword'),
      TagResource: delta('TagResource'),
      GetSecretValue: delta('GetSecretValue'),
      DescribeSecret: delta('DescribeSecret'),
    });
    expected.push({
      secret: m.username,
      writes: WRITES_PER_ROTATION,
      GetRandomPassword: 1,
      TagResource: 1,
      ...READS_PER_ROTATION[m.username.startsWith('calls-pg/') ? 'postgres' : 'mysql'][
        m.strategy as keyof (typeof READS_PER_ROTATION)['postgres']
      ],
    });
  }
  expect(seen).toEqual(expected);
}, 300_000);
