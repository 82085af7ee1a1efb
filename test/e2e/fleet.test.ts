import { CreateDBInstanceCommand } from '@aws-sdk/client-rds';
import { CreateSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { workflowArn } from '../../cli/context';
import { engineFor } from '../../src/engines';
import { USER_TAG } from '../../src/rotation/boundary';
import { resolveMaster } from '../../src/rotation/master';
import { STRATEGY_TAG } from '../../src/rotation/types';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { connectionOf, logsIn, succeed } from './support';

let tc: TestCloud;

beforeAll(async () => {
  tc = await startTestCloud();
}, 120_000);
afterAll(async () => {
  await tc?.stop();
});

interface Made {
  arn: string;
  username: string;
}

/**
 * `n` users on a fresh instance, each with a secret tagged for the fleet and bound to its user.
 * The first `pairs` users are single-user credentials stored twice, as a team might keep them
 * outside credflow (no credflow:user tag): the fleet must never rotate both copies at once.
 */
async function fleetOn(id: string, engine: string, n: number, pairs: number): Promise<Made[]> {
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
          Name: `fleet/${id}/${username}${c ? '-copy' : ''}`,
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
            { Key: 'fleet', Value: 'test' },
            ...(copies === 1 ? [{ Key: USER_TAG, Value: username }] : []),
          ],
        }),
      );
      binding ??= s.ARN!;
      made.push({ arn: s.ARN!, username: `${id}/${username}` });
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

it('rotate-fleet: 50 secrets on 2 instances, at most 5 in flight, never both secrets of one user at once', async () => {
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

  const summary = await succeed(conn, 'rotate-fleet', {
    tag: { key: 'fleet', value: 'test' },
    maxConcurrency: 5,
    force: true,
  });
  // Of two single-user copies, the second to run finds its password changed by the first and
  // fails (AuthenticationError) without touching anything; the fleet goes on.
  expect(summary).toMatchObject({ total: 50, succeeded: 45, failed: 5 });
  expect(
    (summary as { results: { status: string; error?: string }[] }).results
      .filter((r) => r.status === 'FAILED')
      .map((r) => r.error),
  ).toEqual(Array(5).fill('AuthenticationError'));

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
  expect(runs).toHaveLength(50);
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
  const paired = [...byUser.values()].filter((v) => v.length === 2);
  expect(paired).toHaveLength(5);
  for (const [a, b] of paired as [{ start: number; stop: number }, { start: number; stop: number }][]) {
    expect(a.stop <= b.start || b.stop <= a.start).toBe(true);
  }
}, 300_000);
