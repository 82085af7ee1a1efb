/**
 * `npm run iam:minimal [-- ROLE...]`: least privilege, shown grant by grant. For each function and
 * state machine role named (default: every role of the stack), each of its grants (an Allow
 * statement, or one action of a statement that lists several) is removed in turn from the policies
 * the local cloud enforces, through the cloud's own stack hook (no file is copied), and the
 * workflow steps the role serves are run through the SDK as the CLI runs them. A grant is needed
 * when its removal makes the policy log record an AccessDenied of that role; the table names the
 * workflow step that was denied, or "nothing failed". Prints a Markdown table (docs/iam-minimal.md).
 *
 * First every step runs once with the full policies (they must pass: sufficiency), and every
 * decision is attributed to the step during which it was made, with the statement that allowed
 * it. A grant is then tried against the steps in which it allowed something; a grant that allowed
 * nothing in any step cannot change a decision when removed (the run would be the same), so it is
 * reported "nothing failed" without running anything again.
 *
 * One local cloud serves every run: a PostgreSQL instance and an Aurora PostgreSQL cluster (each
 * with the master password RDS keeps in Secrets Manager) and a user secret on each are shared by
 * the steps that leave them as they found them; destructive steps (decommission, deletion) make
 * their own database or secret in a preparation that runs with the full policies. Slow: CI does
 * not run it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
} from '@aws-sdk/client-rds';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { ListExecutionsCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { type Connection, WORKFLOWS, type Workflow, workflowArn } from '../cli/context';
import { runWorkflow, startWorkflow } from '../cli/run';
import { bootLocalCloud, LOCAL_STAGE } from '../local/boot';
import type { LocalCloud } from '../local/cloud';
import type { PolicyLogEntry } from '../local/iam/gate';
import { type Grant, grantsOf, withoutGrant } from '../local/iam/grants';
import type { StackIam } from '../local/iam/template';
import { createClients } from '../src/aws/clients';
import { memoryLogger } from '../src/log';
import { resolveMaster } from '../src/rotation/master';
import { createSecret, setSecret } from '../src/rotation/steps';
import { sqlAs } from '../test/support/sql';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What every step can use: the cloud, the administrator's connection, the shared fixtures. */
interface Ctx {
  cloud: LocalCloud;
  conn: Connection;
  /** The shared instance and cluster: a user secret (alternating-users) and the master secret of each. */
  instance: { db: string; user: string; master: string };
  cluster: { db: string; user: string; master: string };
  /** A fresh name on each call. */
  fresh: (prefix: string) => string;
}

/**
 * One workflow step of the map: `prepare` runs with the full policies (a destructive step makes
 * its own database or secret there); `run` runs with the grant removed and waits for every
 * execution it starts, directly or through events. It throws when the outcome is not the one
 * expected with the full policies.
 */
interface Step {
  name: string;
  prepare?: (ctx: Ctx) => Promise<Record<string, string>>;
  run: (ctx: Ctx, p: Record<string, string>) => Promise<void>;
  cleanup?: (ctx: Ctx, p: Record<string, string>) => Promise<void>;
  /** What `prepare` started keeps running into `run` (no waiting for it first). */
  keepRunning?: boolean;
}

async function must(conn: Connection, workflow: Workflow, input: unknown): Promise<Record<string, unknown>> {
  const r = await runWorkflow(conn, workflow, input);
  if (r.status !== 'SUCCEEDED') throw new Error(`${workflow} ${r.status}: ${r.error}: ${r.cause}`);
  return (r.output ?? {}) as Record<string, unknown>;
}

async function makeUser(
  ctx: Ctx,
  db: string,
  strategy: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const out = await must(ctx.conn, 'create-database-user', {
    dbIdentifier: db,
    username: ctx.fresh('u'),
    privileges: ['SELECT'],
    strategy,
    ...extra,
  });
  return String(out['secretArn']);
}

/** A database and a user secret on it, made with the full policies. */
async function makeDatabase(ctx: Ctx, engine: 'postgres' | 'aurora-postgresql', protect = false) {
  const db = ctx.fresh(engine === 'postgres' ? 'imin-i' : 'imin-c');
  await must(ctx.conn, 'provision-database', {
    identifier: db,
    engine,
    pollSeconds: 1,
    ...(protect ? { deletionProtection: true } : {}),
  });
  return { db, user: await makeUser(ctx, db, 'single-user') };
}

/** Deletes what a destructive step left (its run may have been refused half way). */
async function dropDatabase(ctx: Ctx, db: string): Promise<void> {
  const rds = ctx.conn.clients.rds;
  const instance = await rds
    .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: db }))
    .then((d) => d.DBInstances?.[0])
    .catch(() => undefined);
  if (instance)
    await rds
      .send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: db, SkipFinalSnapshot: true }))
      .catch(() => undefined);
  const cluster = await rds
    .send(new DescribeDBClustersCommand({ DBClusterIdentifier: db }))
    .then((d) => d.DBClusters?.[0])
    .catch(() => undefined);
  if (cluster)
    await rds
      .send(new DeleteDBClusterCommand({ DBClusterIdentifier: db, SkipFinalSnapshot: true }))
      .catch(() => undefined);
}

/** Waits for every execution of every workflow and every native rotation to end (at most `ms`). */
async function settle(ctx: Ctx, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  await ctx.cloud.secrets.awaitIdle();
  for (;;) {
    let running = 0;
    for (const w of WORKFLOWS) {
      const list = await ctx.conn.clients.sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: await workflowArn(ctx.conn, w),
          statusFilter: 'RUNNING',
        }),
      );
      running += list.executions?.length ?? 0;
    }
    if (running === 0 || Date.now() > deadline) return;
    await sleep(1000);
  }
}

/** Removes an AWSPENDING a refused rotation left, so the next rotation of a shared secret starts clean. */
async function clearPending(ctx: Ctx, secretArn: string): Promise<void> {
  const sm = ctx.conn.clients.secrets;
  const d = await sm.send(new DescribeSecretCommand({ SecretId: secretArn }));
  for (const [version, stages] of Object.entries(d.VersionIdsToStages ?? {}))
    if (stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT'))
      await sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretArn,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: version,
        }),
      );
}

/** A user secret whose masterarn names a master secret with a wrong password: setSecret fails. */
async function breakMaster(ctx: Ctx, secretArn: string): Promise<void> {
  const sm = ctx.conn.clients.secrets;
  const value = JSON.parse(
    (await sm.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString ?? '{}',
  ) as Record<string, unknown>;
  const broken = await sm.send(
    new CreateSecretCommand({
      Name: `credflow/iam-minimal/${ctx.fresh('broken-master')}`,
      SecretString: JSON.stringify({
        ...value,
        username: 'dbadmin',
        password: 'not-the-password',
        masterarn: undefined,
      }),
    }),
  );
  await sm.send(
    new PutSecretValueCommand({
      SecretId: secretArn,
      SecretString: JSON.stringify({ ...value, masterarn: broken.ARN }),
    }),
  );
}

/** Waits until `check` holds (at most `ms`). */
async function until(what: string, check: () => Promise<boolean>, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await sleep(250);
  }
}

const pendingOf = async (ctx: Ctx, arn: string) =>
  Object.values(
    (await ctx.conn.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }))).VersionIdsToStages ??
      {},
  ).some((stages) => stages.includes('AWSPENDING'));

const deletedDate = async (ctx: Ctx, arn: string) =>
  (await ctx.conn.clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }))).DeletedDate;

const STEPS: Step[] = [
  ...(['single-user', 'alternating-users', 'admin-single-user'] as const).map(
    (strategy): Step => ({
      name: `create-database-user (${strategy}) on the instance`,
      run: async (ctx) => void (await makeUser(ctx, ctx.instance.db, strategy)),
    }),
  ),
  {
    name: 'create-database-user on the cluster',
    run: async (ctx) => void (await makeUser(ctx, ctx.cluster.db, 'alternating-users')),
  },
  {
    name: 'create-database-user with rotation on',
    run: async (ctx) =>
      void (await makeUser(ctx, ctx.instance.db, 'single-user', {
        rotation: { scheduleExpression: 'rate(10 days)' },
      })),
  },
  {
    name: 'create-database-user refused by the database (the secret is cleaned up)',
    run: async (ctx) => {
      const r = await runWorkflow(ctx.conn, 'create-database-user', {
        dbIdentifier: ctx.instance.db,
        username: ctx.fresh('u'),
        database: 'no_such_database',
        privileges: ['SELECT'],
        strategy: 'single-user',
      });
      if (r.status !== 'FAILED') throw new Error(`expected a failure, got ${r.status}`);
    },
  },
  ...(['instance', 'cluster'] as const).flatMap((kind): Step[] => [
    {
      name: `rotate-secret on the ${kind}`,
      run: async (ctx) => void (await must(ctx.conn, 'rotate-secret', { secretId: ctx[kind].user })),
      cleanup: (ctx) => clearPending(ctx, ctx[kind].user),
    },
    {
      name: `verify-credentials on the ${kind}`,
      run: async (ctx) => void (await must(ctx.conn, 'verify-credentials', { secretId: ctx[kind].user })),
    },
    {
      name: `rotate-master-password on the ${kind}`,
      run: async (ctx) =>
        void (await must(ctx.conn, 'rotate-master-password', { identifier: ctx[kind].db, pollSeconds: 1 })),
    },
    {
      name: `check-connectivity on the ${kind}`,
      run: async (ctx) => void (await must(ctx.conn, 'check-connectivity', { identifier: ctx[kind].db })),
    },
  ]),
  {
    name: 'rotation through RotateSecret (the rotation Lambda)',
    prepare: async (ctx) => ({
      secret: await makeUser(ctx, ctx.instance.db, 'admin-single-user', {
        rotation: { scheduleExpression: 'rate(10 days)' },
      }),
    }),
    run: async (ctx, p) => {
      await ctx.conn.clients.secrets.send(
        new RotateSecretCommand({ SecretId: p['secret'], RotateImmediately: true }),
      );
      await settle(ctx);
    },
  },
  {
    name: 'verify-credentials finds drift (a clone where admin-single-user has none)',
    prepare: async (ctx) => {
      const secret = await makeUser(ctx, ctx.instance.db, 'admin-single-user');
      const value = JSON.parse(
        (await ctx.conn.clients.secrets.send(new GetSecretValueCommand({ SecretId: secret }))).SecretString ??
          '{}',
      ) as { username: string };
      const master = await resolveMaster(ctx.conn.clients, ctx.instance.master);
      await sqlAs('postgres', master.creds, `CREATE ROLE "${value.username}_clone"`);
      return { secret };
    },
    run: async (ctx, p) => {
      // Drift fails the execution (VerificationFailed) after its DriftDetected event.
      const r = await runWorkflow(ctx.conn, 'verify-credentials', { secretId: p['secret'] });
      if (r.error !== 'VerificationFailed') throw new Error(`expected drift, got ${r.status} ${r.error}`);
    },
  },
  {
    name: 'on-rotation-failure after a forced failure (rolled back)',
    prepare: async (ctx) => {
      const secret = await makeUser(ctx, ctx.instance.db, 'alternating-users');
      await breakMaster(ctx, secret);
      return { secret };
    },
    run: async (ctx, p) => {
      const r = await runWorkflow(ctx.conn, 'rotate-secret', { secretId: p['secret'] });
      if (r.status !== 'FAILED') throw new Error(`the sabotaged rotation ended ${r.status}`);
      await settle(ctx);
    },
    cleanup: (ctx, p) => clearPending(ctx, p['secret'] as string),
  },
  {
    name: 'on-rotation-failure of a pending password already set (rolled forward)',
    prepare: async (ctx) => {
      const secret = await makeUser(ctx, ctx.instance.db, 'single-user');
      const deps = { secrets: ctx.conn.clients.secrets, rds: ctx.conn.clients.rds, logger: memoryLogger() };
      const token = ctx.fresh('roll-forward').padEnd(36, '0');
      await createSecret(deps, { secretId: secret, token });
      await setSecret(deps, { secretId: secret, token });
      return { secret };
    },
    run: async (ctx, p) => {
      const out = await must(ctx.conn, 'on-rotation-failure', { secretId: p['secret'] });
      if (out['outcome'] !== 'rolled-forward')
        throw new Error(`expected rolled-forward, got ${out['outcome']}`);
    },
  },
  {
    name: 'reconcile-rotations repairs a stalled rotation',
    prepare: async (ctx) => {
      const secret = await makeUser(ctx, ctx.instance.db, 'single-user');
      const value = (await ctx.conn.clients.secrets.send(new GetSecretValueCommand({ SecretId: secret })))
        .SecretString;
      await ctx.conn.clients.secrets.send(
        new PutSecretValueCommand({
          SecretId: secret,
          SecretString: value,
          ClientRequestToken: ctx.fresh('stalled').padEnd(36, '0'),
          VersionStages: ['AWSPENDING'],
        }),
      );
      // A rotation that is still running (its database does not answer, so it retries): the
      // reconciler must tell it from the stalled one (it describes the running executions).
      const like = await ctx.conn.clients.secrets.send(new DescribeSecretCommand({ SecretId: secret }));
      const unreachable = await ctx.conn.clients.secrets.send(
        new CreateSecretCommand({
          Name: `credflow/iam-minimal/${ctx.fresh('unreachable')}`,
          SecretString: JSON.stringify({ ...JSON.parse(value ?? '{}'), port: 9 }),
          Tags: like.Tags,
        }),
      );
      const running = await startWorkflow(ctx.conn, 'rotate-secret', { secretId: unreachable.ARN });
      return { secret, running };
    },
    keepRunning: true,
    run: async (ctx, p) => {
      await must(ctx.conn, 'reconcile-rotations', { olderThanMinutes: 0 });
      await ctx.conn.clients.sfn.send(new StopExecutionCommand({ executionArn: p['running'] }));
      await settle(ctx);
      if (await pendingOf(ctx, p['secret'] as string))
        throw new Error('the stalled rotation was not repaired');
    },
    cleanup: async (ctx, p) => {
      await ctx.conn.clients.sfn
        .send(new StopExecutionCommand({ executionArn: p['running'] }))
        .catch(() => undefined);
    },
  },
  ...[false, true].map(
    (failing): Step => ({
      name: failing ? 'rotate-fleet with a failing rotation' : 'rotate-fleet over a tagged secret',
      prepare: async (ctx) => {
        const tag = ctx.fresh('fleet');
        // With a failing one: the broken master makes its setSecret fail (rotate-fleet-page describes it).
        const secret = await makeUser(ctx, ctx.instance.db, failing ? 'alternating-users' : 'single-user');
        if (failing) await breakMaster(ctx, secret);
        await ctx.conn.clients.secrets.send(
          new TagResourceCommand({ SecretId: secret, Tags: [{ Key: 'iam-minimal-fleet', Value: tag }] }),
        );
        return { tag, secret };
      },
      run: async (ctx, p) => {
        await must(ctx.conn, 'rotate-fleet', {
          tag: { key: 'iam-minimal-fleet', value: p['tag'] },
          force: true,
        });
        await settle(ctx);
      },
      cleanup: (ctx, p) => clearPending(ctx, p['secret'] as string),
    }),
  ),
  {
    name: 'on-deletion of a user secret (protected: restored; unprotected: alert)',
    prepare: async (ctx) => ({
      kept: await makeUser(ctx, ctx.instance.db, 'single-user', { protected: true }),
      gone: await makeUser(ctx, ctx.instance.db, 'single-user'),
    }),
    run: async (ctx, p) => {
      for (const s of [p['kept'], p['gone']])
        await ctx.conn.clients.secrets.send(
          new DeleteSecretCommand({ SecretId: s, RecoveryWindowInDays: 7 }),
        );
      await until(
        'on-deletion restores the protected secret',
        async () => !(await deletedDate(ctx, p['kept'] as string)),
      );
      await settle(ctx);
    },
  },
  ...(['postgres', 'aurora-postgresql'] as const).map(
    (engine): Step => ({
      name: `provision-database, then decommission-database with a final snapshot (${engine === 'postgres' ? 'instance' : 'cluster'})`,
      run: async (ctx, p) => {
        const db = ctx.fresh(engine === 'postgres' ? 'imin-i' : 'imin-c');
        p['db'] = db;
        await must(ctx.conn, 'provision-database', {
          identifier: db,
          engine,
          pollSeconds: 1,
          deletionProtection: true,
        });
        // The user secret is made with the full policies: create-database-user has its own steps.
        const user = await makeUser(ctx, db, 'single-user');
        await must(ctx.conn, 'decommission-database', {
          identifier: db,
          pollSeconds: 1,
          finalSnapshotIdentifier: `${db}-final`,
          disableDeletionProtection: true,
        });
        await settle(ctx);
        if (!(await deletedDate(ctx, user))) throw new Error('the child secret was not deleted');
      },
      cleanup: async (ctx, p) => dropDatabase(ctx, p['db'] as string),
    }),
  ),
  {
    name: 'on-deletion of a database deleted behind credflow (its user secrets retired)',
    prepare: async (ctx) => makeDatabase(ctx, 'postgres'),
    run: async (ctx, p) => {
      await ctx.conn.clients.rds.send(
        new DeleteDBInstanceCommand({ DBInstanceIdentifier: p['db'], SkipFinalSnapshot: true }),
      );
      await until(
        'on-deletion retires the user secret',
        async () => !!(await deletedDate(ctx, p['user'] as string)),
      );
      await settle(ctx);
    },
    cleanup: async (ctx, p) => dropDatabase(ctx, p['db'] as string),
  },
  {
    name: 'adopt-secrets: dry run, apply, rotate and verify the adopted secret, undo',
    prepare: async (ctx) => {
      const master = await resolveMaster(ctx.conn.clients, ctx.instance.master);
      const username = ctx.fresh('adopted').replace(/-/g, '_');
      const password = `Adopt-${Math.random().toString(36).slice(2)}-pw`;
      await sqlAs('postgres', master.creds, `CREATE ROLE "${username}" WITH LOGIN PASSWORD '${password}'`);
      const prefix = `apps/${ctx.fresh('adopt')}/`;
      const made = await ctx.conn.clients.secrets.send(
        new CreateSecretCommand({
          Name: `${prefix}${username}`,
          SecretString: JSON.stringify({
            engine: 'postgres',
            host: master.creds.host,
            port: master.creds.port,
            username,
            password,
            dbname: 'postgres',
          }),
        }),
      );
      return { prefix, secret: made.ARN as string };
    },
    run: async (ctx, p) => {
      const dry = await must(ctx.conn, 'adopt-secrets', { prefix: p['prefix'], dryRun: true });
      if (!JSON.stringify(dry).includes('"dry-run"')) throw new Error('no dry-run report');
      const applied = await must(ctx.conn, 'adopt-secrets', { secretId: p['secret'] });
      if (!JSON.stringify(applied).includes('"adopted"'))
        throw new Error(`not adopted: ${JSON.stringify(applied)}`);
      await must(ctx.conn, 'rotate-secret', { secretId: p['secret'] });
      await must(ctx.conn, 'verify-credentials', { secretId: p['secret'] });
      const undone = await must(ctx.conn, 'adopt-secrets', { secretId: p['secret'], undo: true });
      if (!JSON.stringify(undone).includes('"undone"'))
        throw new Error(`not undone: ${JSON.stringify(undone)}`);
    },
    cleanup: (ctx, p) => clearPending(ctx, p['secret'] as string),
  },
];

const step = (prefix: string): string[] => STEPS.map((s) => s.name).filter((n) => n.startsWith(prefix));
const createUser = step('create-database-user');
const rotate = step('rotate-secret');
const verify = step('verify-credentials');
const masters = step('rotate-master-password');
const connectivity = step('check-connectivity');
const [rotationLambda] = step('rotation through RotateSecret');
const repair = step('on-rotation-failure');
const [reconcile] = step('reconcile-rotations');
const fleet = step('rotate-fleet');
const lifecycle = step('provision-database');
const deletion = step('on-deletion');
const [adopt] = step('adopt-secrets');

/**
 * Role (logical id) -> the steps that exercise it. Every function role and state machine role of
 * the stack is here; the rule targets' roles (serverless-step-functions' own, one
 * states:StartExecution each) are not: an event reaching its workflow shows them.
 */
const SERVES: Record<string, string[]> = {
  RotationFunctionRole: [...rotate, rotationLambda, ...repair, reconcile, ...fleet, adopt].map(String),
  VerifyFunctionRole: [...rotate, ...verify, adopt].map(String),
  NoAwsFunctionRole: [...fleet, reconcile, ...deletion].map(String),
  DatabaseFunctionRole: [...lifecycle, ...masters].map(String),
  UserFunctionRole: [...createUser, rotationLambda, ...fleet, ...deletion, ...lifecycle].map(String),
  ReconcileFunctionRole: [String(reconcile)],
  PreflightFunctionRole: connectivity,
  AdoptFunctionRole: [String(adopt)],
  RotateSecretStateMachineRole: [...rotate, ...repair].map(String),
  ProvisionDatabaseStateMachineRole: lifecycle,
  CreateDatabaseUserStateMachineRole: createUser,
  RotateMasterPasswordStateMachineRole: masters,
  VerifyCredentialsStateMachineRole: verify,
  DecommissionDatabaseStateMachineRole: lifecycle,
  RotateFleetStateMachineRole: fleet,
  RotateFleetPageStateMachineRole: fleet,
  OnRotationFailureStateMachineRole: [...repair, reconcile, ...fleet].map(String),
  ReconcileRotationsStateMachineRole: [String(reconcile)],
  OnDeletionStateMachineRole: [...deletion, ...lifecycle].map(String),
  CheckConnectivityStateMachineRole: connectivity,
  AdoptSecretsStateMachineRole: [String(adopt)],
  // The rule targets' roles (serverless-step-functions' own: states:StartExecution of one machine).
  OnRotationFailureEventToStepFunctionsRole: repair,
  OnDeletionEventToStepFunctionsRole: deletion,
};

/** Roles no step can show, and why. */
const NOT_RUN: Record<string, string> = {
  RotateFleetScheduleToStepFunctionsRole:
    'not exercised: the daily schedule starts rotate-fleet with it; the steps start the machine directly',
  ReconcileRotationsScheduleToStepFunctionsRole:
    'not exercised: the schedule starts reconcile-rotations with it; the steps start the machine directly',
};

/**
 * The state machines' monitoring policy (log delivery, X-Ray) serves Step Functions' own logging
 * and tracing on AWS, which the local cloud does not emulate: listed, not run.
 */
const MONITORING = /StateMachineMonitoringPolicy/;
const NOT_LOCAL = "not exercised locally (Step Functions' log delivery and X-Ray on AWS)";

interface Row {
  role: string;
  grant: string;
  neededBy: string;
}

/** The key a decision and a grant share: the role, the statement, the action. */
const keyOf = (roleName: string, policy: string, statement: number, action: string) =>
  `${roleName}\u0001${policy} #${statement}\u0001${action.toLowerCase()}`;
const roleNameOf = (principal: string) => principal.split('/')[1] ?? principal;

async function main(): Promise<void> {
  process.env['POWERTOOLS_LOG_LEVEL'] ??= 'ERROR';
  process.env['LOG_LEVEL'] ??= 'ERROR';
  process.env['CREDFLOW_LOG_LEVEL'] ??= 'error';
  const args = process.argv.slice(2);
  const roles = args.length ? args : [...Object.keys(SERVES), ...Object.keys(NOT_RUN)];
  for (const r of roles) if (!SERVES[r] && !NOT_RUN[r]) throw new Error(`no workflows mapped for ${r}`);
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-iam-minimal-'));
  const cloud = await bootLocalCloud({ stateDir, port: 0, iam: true });
  const full = cloud.iam.principals.stack;
  if (!full) throw new Error('the stack IAM was not loaded');
  for (const id of full.roles.keys())
    if (/Role$/.test(id) && !SERVES[id] && !NOT_RUN[id])
      process.stderr.write(`warning: ${id} is not in the map\n`);
  const conn: Connection = {
    clients: createClients(cloud.clientConfig()),
    stage: LOCAL_STAGE,
    mode: 'local',
    region: cloud.region,
    endpoint: cloud.endpoint,
  };
  let seq = 0;
  const tag = Date.now().toString(36).slice(-4);
  const fresh = (prefix: string) => `${prefix}-${tag}-${++seq}`;
  let decisions: PolicyLogEntry[] = [];
  const stopObserving = cloud.iam.gate.observe((e) => decisions.push(e));
  const rows: Row[] = [];
  try {
    const shared = async (db: string, engine: 'postgres' | 'aurora-postgresql') => {
      const out = await must(conn, 'provision-database', { identifier: db, engine, pollSeconds: 1 });
      const user = await must(conn, 'create-database-user', {
        dbIdentifier: db,
        username: 'minimal_app',
        privileges: ['SELECT'],
        strategy: 'alternating-users',
      });
      return { db, user: String(user['secretArn']), master: String(out['masterSecretArn']) };
    };
    const ctx: Ctx = {
      cloud,
      conn,
      instance: await shared('iam-minimal-db', 'postgres'),
      cluster: await shared('iam-minimal-cluster', 'aurora-postgresql'),
      fresh,
    };

    /**
     * Runs one step with `stack` enforced (preparation and clean-up with the full policies);
     * returns the decisions made while it ran and the error it ended with, if any.
     */
    const runStep = async (s: Step, stack: StackIam) => {
      let p: Record<string, string>;
      try {
        p = s.prepare ? await s.prepare(ctx) : {};
      } catch (err) {
        // A preparation that failed (under load, a Step Functions timeout) proves nothing either way.
        return {
          seen: [] as PolicyLogEntry[],
          error: `preparation failed: ${(err as Error).message.slice(0, 160)}`,
        };
      }
      if (!s.keepRunning) await settle(ctx);
      // Every function starts cold, as after a deploy: nothing a warm function remembered (a
      // master's location, a client) spares a call the removed grant would have refused.
      await cloud.lambdas.stop();
      decisions = [];
      cloud.iam.useStack(stack);
      let error: string | undefined;
      try {
        await s.run(ctx, p);
        await settle(ctx);
      } catch (err) {
        error = (err as Error).message.slice(0, 200);
        await settle(ctx).catch(() => undefined);
      } finally {
        cloud.iam.useStack(full);
      }
      const seen = decisions;
      decisions = [];
      await s.cleanup?.(ctx, p).catch(() => undefined);
      return { seen, error };
    };

    // Sufficiency, and which statement allowed what in which step.
    const wanted = new Set(roles.flatMap((r) => SERVES[r] ?? []));
    const deciders = new Map<string, Set<string>>();
    const took = new Map<string, number>();
    const broken = new Set<string>();
    for (const s of STEPS) {
      if (!wanted.has(s.name)) continue;
      const started = Date.now();
      const { seen, error } = await runStep(s, full);
      took.set(s.name, Date.now() - started);
      const denied = seen.filter((d) => !d.allowed);
      if (error || denied.length) {
        // Reported, not fatal: the grants only this step would show are marked inconclusive.
        broken.add(s.name);
        process.stderr.write(
          `baseline FAILED: ${s.name}: ${error ?? ''} ${denied.map((d) => `${d.principal} ${d.action}`).join(', ')}\n`,
        );
      }
      const keys = new Set<string>();
      for (const d of seen)
        if (d.by) {
          const [policy, statement] = d.by.split(' #');
          keys.add(
            keyOf(roleNameOf(d.principal), policy ?? '', Number.parseInt(statement ?? '', 10), d.action),
          );
        }
      deciders.set(s.name, keys);
      const by = [
        ...new Set(
          seen.filter((d) => d.principal.includes('assumed-role')).map((d) => roleNameOf(d.principal)),
        ),
      ];
      process.stderr.write(
        `baseline: ${s.name}: ${seen.length} decisions, ${took.get(s.name)} ms; ${by.join(' ')}\n`,
      );
    }

    for (const role of roles) {
      const roleName = full.roles.get(role)?.name ?? role;
      const grants: Grant[] = grantsOf(full, role);
      const notRun = NOT_RUN[role];
      if (notRun) {
        for (const g of grants) rows.push({ role, grant: g.label, neededBy: notRun });
        continue;
      }
      const monitoring = grants.filter((g) => MONITORING.test(g.policy));
      if (monitoring.length)
        rows.push({
          role,
          grant: `StateMachineMonitoringPolicy (${monitoring.length} actions: log delivery, X-Ray)`,
          neededBy: NOT_LOCAL,
        });
      if (!grants.length) rows.push({ role, grant: "(none but the Lambda runtime's logs)", neededBy: '-' });
      for (const g of grants) {
        if (MONITORING.test(g.policy)) continue;
        const document = full.roles.get(role)?.policies.find((p) => p.name === g.policy)?.document;
        const statements = [document?.Statement ?? []].flat();
        const actions = g.action ? [g.action] : [statements[g.statement]?.Action ?? []].flat();
        // The quickest step first: the step a grant allowed something in is nearly always the step
        // its removal breaks.
        const uses = [...deciders.keys()]
          .filter((n) => actions.some((a) => deciders.get(n)?.has(keyOf(roleName, g.policy, g.statement, a))))
          .sort((a, b) => (took.get(a) ?? 0) - (took.get(b) ?? 0));
        let neededBy = 'nothing failed (it allowed no call in the steps run)';
        let inconclusive: string | undefined;
        const reduced = withoutGrant(full, g);
        for (const n of uses) {
          const s = STEPS.find((x) => x.name === n) as Step;
          const { seen, error } = await runStep(s, reduced);
          const denied = seen.filter((d) => !d.allowed && d.principal.includes(`/${roleName}/`));
          if (denied.length) {
            const d = denied[0] as PolicyLogEntry;
            neededBy = `${n} (${d.principal.split('/').pop()}: ${d.action} denied)`;
            inconclusive = undefined;
            break;
          }
          if (error) inconclusive ??= `${n}: ${error}`;
          neededBy = 'nothing failed (another statement allowed the same calls)';
        }
        const unproven = (SERVES[role] ?? []).filter((n) => broken.has(n));
        if (!uses.length && unproven.length)
          inconclusive = `failed with the full policies: ${unproven.join('; ')}`;
        if (inconclusive) neededBy = `inconclusive (${inconclusive})`;
        rows.push({ role, grant: g.label, neededBy });
        process.stderr.write(`${role} | ${g.label} | ${neededBy}\n`);
      }
    }
  } finally {
    stopObserving();
    await cloud.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
  // Shorter cells: a function's two ARNs (itself and its versions) as its name.
  const cell = (s: string) =>
    s
      .replace(/function:credflow-local-(\w+), function:credflow-local-\1:\*/g, '$1')
      .replace(/credflow-local-/g, '')
      .replace(/\|/g, '\\|');
  process.stdout.write('| role | grant | the step that needs it |\n|---|---|---|\n');
  for (const r of rows) process.stdout.write(`| ${r.role} | ${cell(r.grant)} | ${cell(r.neededBy)} |\n`);
}

main().catch((err) => {
  process.stderr.write(`iam:minimal failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
