/**
 * The metrics the cores report, collected through the Deps metrics port, on a real PostgreSQL
 * server and the local cloud: what a rotation, a drifted verify, a repair and a fleet selection
 * emit, with which dimensions, and never anything secret.
 */
import { randomUUID } from 'node:crypto';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import type { Deps } from '../../src/deps';
import { parsePlanFleetRotationInput, planFleetRotation } from '../../src/lifecycle/fleet';
import { findStalledRotations, parseReconcileInput } from '../../src/lifecycle/reconcile';
import { diagnoseRotation, rollBackRotation } from '../../src/lifecycle/repair';
import { verifyCredentials } from '../../src/lifecycle/verify';
import { memoryLogger } from '../../src/log';
import { type MetricPoint, memoryMetrics } from '../../src/metrics';
import { createSecret, finishSecret, setSecret, testSecret } from '../../src/rotation/steps';
import type { StrategyName } from '../../src/rotation/types';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { startTestServers, type TestServers } from '../support/servers';
import { pgClient } from '../support/sql';
import { createUserSecret } from '../support/user-secret';

let servers: TestServers;
let tc: TestCloud;
let seq = 0;

beforeAll(async () => {
  [servers, tc] = await Promise.all([startTestServers(), startTestCloud()]);
}, 180_000);

afterAll(async () => {
  await tc?.stop();
  await servers?.stop();
});

function depsWith(metrics = memoryMetrics()): Deps & { metrics: ReturnType<typeof memoryMetrics> } {
  return {
    secrets: tc.clients.secrets,
    rds: tc.clients.rds,
    logger: memoryLogger(),
    metrics,
    rotateSecretArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:credflow-local-rotate-secret',
  };
}

async function userSecret(strategy: StrategyName) {
  seq++;
  const username = `met_${strategy.split('-')[0]}_${seq}`;
  const password = `Pw-${randomUUID()}`;
  const s = await createUserSecret({
    secrets: tc.clients.secrets,
    engine: 'postgres',
    admin: servers.postgres.admin,
    masterName: `credflow/metrics/master-${seq}`,
    name: `credflow/metrics/${username}`,
    username,
    password,
    strategy,
  });
  return { ...s, username, password };
}

async function stagedValue(secretId: string, stage = 'AWSCURRENT'): Promise<string> {
  const v = await tc.clients.secrets.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }),
  );
  return v.SecretString ?? '';
}

/** No point names a password, a username or a secret: dimensions and values are labels and numbers. */
function expectNothingSecret(points: MetricPoint[], ...secrets: string[]) {
  const text = JSON.stringify(points);
  for (const s of secrets) expect(text).not.toContain(s);
}

describe('metrics reported by the cores', () => {
  it('a rotation reports RotationSucceeded and its duration by engine and strategy', async () => {
    const s = await userSecret('single-user');
    const deps = depsWith();
    const input = { secretId: s.arn, token: randomUUID() };
    for (const step of [createSecret, setSecret, testSecret]) await step(deps, input);
    expect(deps.metrics.points).toEqual([]);
    await finishSecret(deps, input);

    const dims = { engine: 'postgres', strategy: 'single-user' };
    expect(deps.metrics.points.map((p) => p.name)).toEqual(['RotationSucceeded', 'RotationDuration']);
    expect(deps.metrics.points[0]).toEqual({ name: 'RotationSucceeded', value: 1, dimensions: dims });
    const duration = deps.metrics.points[1] as MetricPoint;
    expect(duration.dimensions).toEqual(dims);
    expect(duration.value).toBeGreaterThanOrEqual(0);
    expect(duration.value).toBeLessThan(120_000);
    // A rerun finds the version current: nothing more is counted.
    await finishSecret(deps, input);
    expect(deps.metrics.points).toHaveLength(2);
    expectNothingSecret(deps.metrics.points, s.password, s.username, await stagedValue(s.arn), s.arn);
  });

  it('verify reports drift when a clone appears beside an admin-single-user user', async () => {
    const s = await userSecret('admin-single-user');
    const clean = depsWith();
    expect((await verifyCredentials(clean, { secretId: s.arn })).ok).toBe(true);
    expect(clean.metrics.points).toEqual([]);

    // Seed 003: this strategy never has a clone, so one made by hand is drift.
    const pg = pgClient({ ...servers.postgres.admin, dbname: 'appdb' });
    await pg.connect();
    try {
      await pg.query(`CREATE ROLE ${pg.escapeIdentifier(`${s.username}_clone`)} LOGIN`);
    } finally {
      await pg.end();
    }
    const drifted = depsWith();
    const report = await verifyCredentials(drifted, { secretId: s.arn });
    expect(report.drift).toBe(true);
    const dims = { engine: 'postgres', strategy: 'admin-single-user' };
    expect(drifted.metrics.points).toEqual([
      { name: 'VerificationFailed', value: 1, dimensions: dims },
      { name: 'DriftDetected', value: 1, dimensions: dims },
    ]);
  });

  it('a failed rotation and its roll-back report RotationFailed and Repair{action: roll-back}', async () => {
    const s = await userSecret('alternating-users');
    const deps = depsWith();
    const token = randomUUID();
    // createSecret stored a pending password the database never got: the repair removes it.
    await createSecret(deps, { secretId: s.arn, token });
    const diagnosis = await diagnoseRotation(deps, { secretId: s.arn, reason: 'test', token });
    expect(diagnosis.action).toBe('roll-back');
    const pending = await stagedValue(s.arn, 'AWSPENDING');
    await rollBackRotation(deps, diagnosis);
    expect(deps.metrics.points).toEqual([
      { name: 'RotationFailed', value: 1, dimensions: { engine: 'postgres', strategy: 'alternating-users' } },
      { name: 'Repair', value: 1, dimensions: { action: 'roll-back' } },
    ]);
    expectNothingSecret(deps.metrics.points, s.password, pending, s.username);
  });

  it('a repair that leaves AWSCURRENT unable to log in reports SecretsBroken (the secret-broken alarm reads it)', async () => {
    const s = await userSecret('single-user');
    // AWSCURRENT with a password the server never had: no version logs in.
    const good = JSON.parse(await stagedValue(s.arn)) as Record<string, unknown>;
    await tc.clients.secrets.send(
      new PutSecretValueCommand({
        SecretId: s.arn,
        SecretString: JSON.stringify({ ...good, password: 'Wrong-1-pw' }),
      }),
    );
    const deps = depsWith();
    const token = randomUUID();
    await createSecret(deps, { secretId: s.arn, token });
    const diagnosis = await diagnoseRotation(deps, { secretId: s.arn, reason: 'test', token });
    expect(diagnosis).toMatchObject({ action: 'roll-back', severity: 'critical' });
    await rollBackRotation(deps, diagnosis);
    expect(deps.metrics.points).toEqual([
      { name: 'RotationFailed', value: 1, dimensions: { engine: 'postgres', strategy: 'single-user' } },
      { name: 'Repair', value: 1, dimensions: { action: 'roll-back' } },
      { name: 'SecretsBroken', value: 1, dimensions: {} },
    ]);
    // Nothing left to roll back, still broken: counted again, so the alarm keeps firing.
    const again = await diagnoseRotation(deps, { secretId: s.arn, reason: 'test' });
    expect(again).toMatchObject({ action: 'none', severity: 'critical' });
    await rollBackRotation(deps, again);
    expect(deps.metrics.points.filter((p) => p.name === 'SecretsBroken')).toHaveLength(2);
    expectNothingSecret(deps.metrics.points, s.password, 'Wrong-1-pw', s.username);
  });

  it('the reconciler reports the stalled rotations it finds on a page', async () => {
    const s = await userSecret('single-user');
    await tc.clients.secrets.send(
      new TagResourceCommand({ SecretId: s.arn, Tags: [{ Key: 'credflow:managed', Value: 'true' }] }),
    );
    const base = depsWith();
    const deps = {
      ...base,
      onRotationFailureArn:
        'arn:aws:states:us-east-1:000000000000:stateMachine:credflow-local-on-rotation-failure',
      runningRotations: async () => [],
    };
    const input = parseReconcileInput({ olderThanMinutes: 0 });
    const before = await findStalledRotations(deps, input);
    expect(base.metrics.points).toEqual([
      { name: 'StuckRotationsFound', value: before.stalled.length, dimensions: {} },
    ]);
    // A rotation cut after createSecret: its AWSPENDING is what the reconciler finds.
    await createSecret(base, { secretId: s.arn, token: randomUUID() });
    const after = await findStalledRotations(deps, input);
    expect(after.stalled.map((x) => x.secretId)).toContain(s.arn);
    expect(base.metrics.points[1]).toEqual({
      name: 'StuckRotationsFound',
      value: after.stalled.length,
      dimensions: {},
    });
    expect(after.stalled.length).toBe(before.stalled.length + 1);
  });

  it('rotate-fleet selection reports the secrets selected and those overdue', async () => {
    const tag = { key: 'metrics-test', value: randomUUID() };
    const arns = [];
    for (let i = 0; i < 3; i++) {
      const s = await userSecret('single-user');
      await tc.clients.secrets.send(
        new TagResourceCommand({ SecretId: s.arn, Tags: [{ Key: tag.key, Value: tag.value }] }),
      );
      arns.push(s.arn);
    }
    const base = { tag, maxConcurrency: 2, force: false, maxAgeDays: 30, overdueAfterHours: 25 };
    const day = 86_400_000;
    const machines = {
      rotateSecretArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:credflow-local-rotate-secret',
      rotateFleetPageArn:
        'arn:aws:states:us-east-1:000000000000:stateMachine:credflow-local-rotate-fleet-page',
    };
    // PlanFleetRotation counts the due secrets of a run: the count and the overdue go out as metrics.
    const selectDueSecrets = async (deps: ReturnType<typeof depsWith>, input: Record<string, unknown>) => ({
      total: (
        await planFleetRotation(
          { ...deps, ...machines },
          parsePlanFleetRotationInput({ executionName: 'metrics-test', input }),
        )
      ).totals.selected,
    });

    // Created today, 30-day rotations: nothing due, nothing overdue.
    const today = depsWith();
    expect((await selectDueSecrets(today, base)).total).toBe(0);
    expect(today.metrics.points).toEqual([
      { name: 'FleetSecretsSelected', value: 0, dimensions: {} },
      { name: 'SecretsOverdue', value: 0, dimensions: {} },
    ]);

    // Thirty days and an hour on: all due, none overdue yet (the daily run has not missed them).
    const due = depsWith();
    const dueNow = new Date(Date.now() + 30 * day + 3_600_000).toISOString();
    expect((await selectDueSecrets(due, { ...base, now: dueNow })).total).toBe(3);
    expect(due.metrics.points.find((p) => p.name === 'SecretsOverdue')?.value).toBe(0);

    // Two days after they fell due: a run should have rotated them, so they are overdue.
    const late = depsWith();
    const lateNow = new Date(Date.now() + 32 * day).toISOString();
    expect((await selectDueSecrets(late, { ...base, now: lateNow })).total).toBe(3);
    expect(late.metrics.points).toEqual([
      { name: 'FleetSecretsSelected', value: 3, dimensions: {} },
      { name: 'SecretsOverdue', value: 3, dimensions: {} },
    ]);
  });
});
