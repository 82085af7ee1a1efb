/**
 * reconcile-rotations on the local cloud, with real PostgreSQL and MariaDB servers: rotations
 * left with an AWSPENDING (cut after createSecret, after setSecret, inside finishSecret) are
 * repaired through on-rotation-failure page by page; young ones and ones a rotate-secret still
 * works on are left alone; one alert names what was found and done.
 */
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { GetExecutionHistoryCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { workflowArn } from '../../cli/context';
import { runWorkflow } from '../../cli/run';
import { loadCatalog, loadHandler } from '../../local/catalog';
import type { Deps as RotationDeps } from '../../src/deps';
import { engineFor } from '../../src/engines';
import { memoryLogger } from '../../src/log';
import { credentialsOf } from '../../src/rotation/master';
import { createSecret, setSecret, testSecret } from '../../src/rotation/steps';
import type { StrategyName as Strategy } from '../../src/rotation/types';
import { parseDbSecret } from '../../src/secret';
import { connectionOf } from '../e2e/support';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { startTestServers, type TestServers } from '../support/servers';
import { createUserSecret } from '../support/user-secret';

let servers: TestServers;
let tc: TestCloud;
let seq = 0;

beforeAll(async () => {
  [servers, tc] = await Promise.all([startTestServers(), startTestCloud()]);
}, 120_000);

afterAll(async () => {
  await Promise.all([tc?.stop(), servers?.stop()]);
});

const deps = (): RotationDeps => ({
  secrets: tc.clients.secrets,
  rds: tc.clients.rds,
  logger: memoryLogger(),
});

async function managedSecret(engine: 'postgres' | 'mysql', strategy: Strategy): Promise<string> {
  seq++;
  const { arn } = await createUserSecret({
    secrets: tc.clients.secrets,
    engine,
    admin: servers[engine].admin,
    masterName: `credflow/reconcile/master-${seq}`,
    name: `credflow/reconcile/user-${seq}`,
    username: `reconcile_${seq}`,
    password: `Reconcile-${seq}-pw`,
    strategy,
  });
  await tc.clients.secrets.send(
    new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'credflow:managed', Value: 'true' }] }),
  );
  return arn;
}

async function stages(secretId: string): Promise<Record<string, string[]>> {
  const d = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
  return (d.VersionIdsToStages ?? {}) as Record<string, string[]>;
}

const holder = (v: Record<string, string[]>, label: string) =>
  Object.entries(v).find(([, s]) => s.includes(label))?.[0];

async function currentLogsIn(secretId: string): Promise<boolean> {
  const s = parseDbSecret(
    (await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString,
  );
  return engineFor(s.engine)
    .testLogin(credentialsOf(s))
    .then(
      () => true,
      () => false,
    );
}

const token = (label: string) => `reconcile-${label}-${seq}`.padEnd(36, '0');

describe('reconcile-rotations', () => {
  it('repairs stalled rotations page by page, leaves running ones alone, and alerts once', async () => {
    const conn = connectionOf(tc);
    // Cut after createSecret: the pending password never reached the server.
    const afterCreate = await managedSecret('postgres', 'single-user');
    const createToken = token('create');
    await createSecret(deps(), { secretId: afterCreate, token: createToken });
    // Cut after setSecret: the server already has the pending password.
    const afterSet = await managedSecret('mysql', 'alternating-users');
    const setToken = token('set');
    await createSecret(deps(), { secretId: afterSet, token: setToken });
    await setSecret(deps(), { secretId: afterSet, token: setToken });
    // Cut inside finishSecret: AWSCURRENT moved, AWSPENDING still on it.
    const halfFinished = await managedSecret('postgres', 'admin-single-user');
    const finishToken = token('finish');
    await createSecret(deps(), { secretId: halfFinished, token: finishToken });
    await setSecret(deps(), { secretId: halfFinished, token: finishToken });
    await testSecret(deps(), { secretId: halfFinished, token: finishToken });
    await tc.clients.secrets.send(
      new UpdateSecretVersionStageCommand({
        SecretId: halfFinished,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: finishToken,
        RemoveFromVersionId: holder(await stages(halfFinished), 'AWSCURRENT'),
      }),
    );
    const untouched = await managedSecret('mysql', 'single-user');
    const beforeSet = holder(await stages(afterSet), 'AWSCURRENT');
    const beforeCreate = holder(await stages(afterCreate), 'AWSCURRENT');

    // A rotation that is running: held inside setSecret while the reconciler looks.
    const busy = await managedSecret('mysql', 'admin-single-user');
    const fn = loadCatalog().functions.find((f) => f.key === 'setSecret');
    if (!fn) throw new Error('no setSecret function');
    const original = loadHandler(fn);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    tc.cloud.lambdas.register('setSecret', async (e: unknown) => {
      await gate;
      return original(e);
    });
    const rotating = await tc.clients.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: await workflowArn(conn, 'rotate-secret'),
        input: JSON.stringify({ secretId: busy }),
      }),
    );
    try {
      while (!holder(await stages(busy), 'AWSPENDING')) await new Promise((r) => setTimeout(r, 20));
      const alertsBefore = tc.cloud.sns.messages().length;

      // Everything is minutes young: a 60-minute threshold finds nothing and changes nothing.
      const young = await runWorkflow(conn, 'reconcile-rotations', { olderThanMinutes: 60, pageSize: 2 });
      expect(young).toMatchObject({ status: 'SUCCEEDED', output: { stalled: 0 } });
      expect(holder(await stages(afterCreate), 'AWSPENDING')).toBe(createToken);
      expect(tc.cloud.sns.messages()).toHaveLength(alertsBefore);

      const r = await runWorkflow(conn, 'reconcile-rotations', { olderThanMinutes: 0, pageSize: 2 });
      expect(r.status).toBe('SUCCEEDED');
      const totals = r.output as Record<string, unknown>;
      expect(totals).toMatchObject({ stalled: 3, rolledForward: 2, rolledBack: 1, failed: 0, critical: 0 });
      expect(totals['scanned']).toBeGreaterThanOrEqual(5);
      // Page by page: at least three pages of two.
      const history = await tc.clients.sfn.send(
        new GetExecutionHistoryCommand({ executionArn: r.executionArn, maxResults: 1000 }),
      );
      const pages = (history.events ?? []).filter(
        (e) => e.type === 'TaskStateEntered' && e.stateEnteredEventDetails?.name === 'FindStalledRotations',
      );
      expect(pages.length).toBeGreaterThanOrEqual(3);

      // Rolled back: AWSCURRENT unchanged. Rolled forward: the pending version is AWSCURRENT.
      expect(holder(await stages(afterCreate), 'AWSCURRENT')).toBe(beforeCreate);
      expect(holder(await stages(afterSet), 'AWSCURRENT')).toBe(setToken);
      expect(holder(await stages(afterSet), 'AWSPREVIOUS')).toBe(beforeSet);
      expect(holder(await stages(halfFinished), 'AWSCURRENT')).toBe(finishToken);
      for (const s of [afterCreate, afterSet, halfFinished, untouched]) {
        expect(holder(await stages(s), 'AWSPENDING')).toBeUndefined();
        expect(await currentLogsIn(s)).toBe(true);
      }
      // The running rotation kept its AWSPENDING.
      expect(holder(await stages(busy), 'AWSPENDING')).toBeDefined();

      const alerts = tc.cloud.sns.messages().slice(alertsBefore);
      const summary = alerts.filter((m) => m.subject === 'credflow: stalled rotations reconciled');
      expect(summary).toHaveLength(1);
      expect(summary[0]?.message).toContain('3 had an AWSPENDING older than 0 minute(s)');
      for (const s of [afterCreate, afterSet, halfFinished]) {
        const name = (await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: s }))).Name;
        expect(summary[0]?.message).toContain(`${name}: rolled-`);
      }
      // on-rotation-failure alerted for each secret it repaired, naming the reconciler as the reason.
      expect(
        alerts.filter((m) => m.message.includes('reconcile-rotations: AWSPENDING has waited')),
      ).toHaveLength(3);
      for (const m of alerts) expect(m.message).not.toMatch(/Reconcile-\d+-pw/);
    } finally {
      release();
      tc.cloud.lambdas.register('setSecret', original);
    }
    await tc.cloud.stepFunctions.awaitExecution(rotating.executionArn as string);
    expect(holder(await stages(busy), 'AWSPENDING')).toBeUndefined();
    expect(await currentLogsIn(busy)).toBe(true);
  });

  it('counts and names a repair that fails, and still repairs the rest', async () => {
    const broken = await managedSecret('postgres', 'single-user');
    const brokenToken = token('broken');
    // AWSCURRENT that is not a database secret: on-rotation-failure cannot diagnose it.
    await tc.clients.secrets.send(
      new PutSecretValueCommand({ SecretId: broken, SecretString: '{"not":"a db secret"}' }),
    );
    await tc.clients.secrets.send(
      new PutSecretValueCommand({
        SecretId: broken,
        ClientRequestToken: brokenToken,
        SecretString: '{}',
        VersionStages: ['AWSPENDING'],
      }),
    );
    const fine = await managedSecret('mysql', 'single-user');
    await createSecret(deps(), { secretId: fine, token: token('fine') });
    const alertsBefore = tc.cloud.sns.messages().length;
    const r = await runWorkflow(connectionOf(tc), 'reconcile-rotations', { olderThanMinutes: 0 });
    expect(r.status).toBe('SUCCEEDED');
    expect(r.output).toMatchObject({ stalled: 2, failed: 1, rolledBack: 1 });
    const name = (await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: broken }))).Name;
    const summary = tc.cloud.sns
      .messages()
      .slice(alertsBefore)
      .find((m) => m.subject === 'credflow: stalled rotations reconciled');
    expect(summary?.message).toContain(`${name}: repair failed (States.TaskFailed)`);
    expect(holder(await stages(fine), 'AWSPENDING')).toBeUndefined();
    expect(holder(await stages(broken), 'AWSPENDING')).toBe(brokenToken);
  });

  it('a secret whose AWSCURRENT does not log in is broken: FAILED repair, ACTION NEEDED alert with attributes, counted as critical', async () => {
    const arn = await managedSecret('postgres', 'single-user');
    const good = parseDbSecret(
      (await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString,
    );
    // AWSCURRENT with a password the server never had, and a pending one that does not work either.
    await tc.clients.secrets.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: JSON.stringify({ ...good, password: 'Wrong-1-pw' }),
      }),
    );
    const pendingToken = token('unrepairable');
    await tc.clients.secrets.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: pendingToken,
        SecretString: JSON.stringify({ ...good, password: 'Wrong-2-pw' }),
        VersionStages: ['AWSPENDING'],
      }),
    );
    const alertsBefore = tc.cloud.sns.messages().length;
    const r = await runWorkflow(connectionOf(tc), 'on-rotation-failure', {
      secretId: arn,
      token: pendingToken,
      reason: 'test',
    });
    expect(r).toMatchObject({ status: 'FAILED', error: 'SecretBroken' });
    expect(r.cause).toContain('ACTION NEEDED');
    const d = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(d.Tags).toContainEqual({ Key: 'credflow:rotation-status', Value: 'broken' });
    const sinceOf = (tags: typeof d.Tags) =>
      tags?.find((t) => t.Key === 'credflow:rotation-status-since')?.Value;
    const since = sinceOf(d.Tags);
    expect(Date.parse(since ?? '')).toBeLessThanOrEqual(Date.now());
    expect(holder(await stages(arn), 'AWSPENDING')).toBeUndefined();
    const alert = tc.cloud.sns.messages().slice(alertsBefore).at(-1);
    expect(alert?.subject).toBe(`credflow: ACTION NEEDED: ${d.Name} does not log in`);
    expect(alert?.attributes).toEqual({ severity: 'critical', status: 'broken', secretId: d.ARN });
    expect(alert?.message).not.toMatch(/Wrong-\d-pw/);

    // The same through the reconciler: counted as critical, named as ACTION NEEDED.
    await tc.clients.secrets.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: token('unrepairable-2'),
        SecretString: JSON.stringify({ ...good, password: 'Wrong-3-pw' }),
        VersionStages: ['AWSPENDING'],
      }),
    );
    const rec = await runWorkflow(connectionOf(tc), 'reconcile-rotations', { olderThanMinutes: 0 });
    expect(rec.status).toBe('SUCCEEDED');
    expect(rec.output).toMatchObject({ critical: 1 });
    expect((rec.output as { message: string }).message).toContain(
      `${d.Name}: ACTION NEEDED: AWSCURRENT does not log in (SecretBroken)`,
    );
    // Still broken: the second repair keeps the date the first one recorded.
    const again = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(sinceOf(again.Tags)).toBe(since);
    expect(again.LastChangedDate?.getTime()).toBeGreaterThan(d.LastChangedDate?.getTime() ?? Infinity);
    await tc.clients.secrets.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: JSON.stringify(good) }),
    );
  });

  it('a roll-back that leaves the secret working says so, with severity warning', async () => {
    const arn = await managedSecret('mysql', 'single-user');
    const t = token('rollback');
    await createSecret(deps(), { secretId: arn, token: t });
    const alertsBefore = tc.cloud.sns.messages().length;
    const r = await runWorkflow(connectionOf(tc), 'on-rotation-failure', { secretId: arn, token: t });
    expect(r).toMatchObject({ status: 'SUCCEEDED', output: { status: 'rolled-back', severity: 'warning' } });
    const d = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
    const alert = tc.cloud.sns.messages().slice(alertsBefore).at(-1);
    expect(alert?.subject).toBe(`credflow: rotation of ${d.Name} rolled back, it logs in`);
    expect(alert?.attributes).toEqual({ severity: 'warning', status: 'rolled-back', secretId: d.ARN });
  });

  it('refuses bad input with ValidationError and changes nothing', async () => {
    const r = await runWorkflow(connectionOf(tc), 'reconcile-rotations', { olderThanMinutes: -1 });
    expect(r).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
    const p = await runWorkflow(connectionOf(tc), 'reconcile-rotations', { pageSize: 1000 });
    expect(p).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
  });
});
