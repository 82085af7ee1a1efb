/**
 * The fault suite: every case ends with AWSCURRENT logging in and no secret version lost; a
 * rerun or the repair workflow finishes the job.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import mysql from 'mysql2/promise';
import { workflowArn } from '../../cli/context';
import { runWorkflow } from '../../cli/run';
import { startDbServer } from '../../local/dbserver';
import type { RunningServer } from '../../local/dbserver/types';
import { createClients } from '../../src/aws/clients';
import type { Deps as RotationDeps } from '../../src/deps';
import { engineFor } from '../../src/engines';
import type { Credentials } from '../../src/engines/types';
import { AccessDeniedError, AuthenticationError, TransientError, ValidationError } from '../../src/errors';
import { verifyCredentials } from '../../src/lifecycle/verify';
import { memoryLogger } from '../../src/log';
import { credentialsOf } from '../../src/rotation/master';
import { createSecret, finishSecret, setSecret, testSecret } from '../../src/rotation/steps';
import { STEPS, type StrategyName as Strategy } from '../../src/rotation/types';
import { parseDbSecret } from '../../src/secret';
import { connectionOf } from '../e2e/support';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { trusting } from '../support/trust';
import { createUserSecret } from '../support/user-secret';

const root = path.resolve(__dirname, '../..');
const ADMIN = { username: 'fault_admin', password: 'Fault-admin-pw-1' };
let dir: string;
let tc: TestCloud;
let servers: Record<'postgres' | 'mariadb', RunningServer>;
let seq = 0;

async function start(kind: 'postgres' | 'mariadb', port?: number): Promise<RunningServer> {
  // Each server's certificate comes from a CA in its own directory: trusted here, and by the
  // cloud child processes, which inherit NODE_EXTRA_CA_CERTS.
  return trusting(
    await startDbServer({
      kind,
      dataDir: path.join(dir, kind),
      masterUsername: ADMIN.username,
      masterPassword: ADMIN.password,
      dbName: 'appdb',
      ...(port ? { port } : {}),
    }),
  );
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'credflow-fault-'));
  chmodSync(dir, 0o711);
  const [pg, maria, cloud] = await Promise.all([start('postgres'), start('mariadb'), startTestCloud()]);
  servers = { postgres: pg, mariadb: maria };
  tc = cloud;
}, 120_000);

afterAll(async () => {
  await Promise.all([servers?.postgres.stop(), servers?.mariadb.stop(), tc?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const engineName = (kind: 'postgres' | 'mariadb') => (kind === 'postgres' ? 'postgres' : 'mysql');
const admin = (kind: 'postgres' | 'mariadb'): Credentials => ({
  host: servers[kind].host,
  port: servers[kind].port,
  ...ADMIN,
  dbname: 'appdb',
});

function deps(secrets: SecretsManagerClient = tc.clients.secrets): RotationDeps {
  return { secrets, rds: tc.clients.rds, logger: memoryLogger() };
}

async function userSecret(
  kind: 'postgres' | 'mariadb',
  strategy: Strategy,
  client = tc.clients.secrets,
): Promise<string> {
  seq++;
  const engine = engineName(kind);
  const a = admin(kind);
  const { arn } = await createUserSecret({
    secrets: client,
    engine,
    admin: a,
    masterName: `credflow/fault/${kind}/master-${seq}`,
    name: `credflow/fault/${kind}/user-${seq}`,
    username: `fault_${seq}`,
    password: `Fault-user-${seq}-pw`,
    strategy,
  });
  return arn;
}

async function currentLogsIn(secretId: string, client = tc.clients.secrets): Promise<boolean> {
  const s = parseDbSecret(
    (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString,
  );
  return engineFor(s.engine)
    .testLogin(credentialsOf(s))
    .then(
      () => true,
      () => false,
    );
}

async function versions(secretId: string): Promise<string[]> {
  const v = await tc.clients.secrets.send(
    new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true }),
  );
  return (v.Versions ?? []).map((x) => x.VersionId!).sort();
}

const stepFns = { createSecret, setSecret, testSecret, finishSecret };

describe.each(['postgres', 'mariadb'] as const)('the %s server killed during a step', (kind) => {
  it.each(STEPS)(
    'during %s: a typed error, then a rerun after restart completes the rotation',
    async (step) => {
      const secretId = await userSecret(kind, 'single-user');
      const before = await versions(secretId);
      const token = `fault-${kind}-${step}-${seq}`.padEnd(36, '0');
      const input = { secretId, token };
      for (const s of STEPS.slice(0, STEPS.indexOf(step))) await stepFns[s](deps(), input);
      const port = servers[kind].port;
      process.kill(servers[kind].pid, 'SIGKILL');
      await servers[kind].exited;
      try {
        await stepFns[step](deps(), input);
        // createSecret and finishSecret do not touch the database.
        expect(['createSecret', 'finishSecret']).toContain(step);
      } catch (err) {
        expect(err).toBeInstanceOf(TransientError);
      }
      servers[kind] = await start(kind, port);
      for (const s of STEPS) await stepFns[s](deps(), input);
      expect(await currentLogsIn(secretId)).toBe(true);
      const after = await versions(secretId);
      for (const v of before) expect(after).toContain(v);
      const d = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
      expect(d.VersionIdsToStages?.[token]).toEqual(['AWSCURRENT']);
    },
  );
});

describe('the local cloud killed between setSecret and finishSecret', () => {
  function child(
    stateDir: string,
    slow?: string,
  ): Promise<{
    proc: ChildProcess;
    config: {
      endpoint: string;
      region: string;
      credentials: { accessKeyId: string; secretAccessKey: string };
    };
  }> {
    return new Promise((resolve, reject) => {
      const proc = spawn(
        process.execPath,
        ['--require', './test/support/register-ts.js', 'test/fault/cloud-child.ts', stateDir],
        {
          cwd: root,
          env: {
            ...process.env,
            LOG_LEVEL: 'ERROR',
            CREDFLOW_LOG_LEVEL: 'error',
            ...(slow ? { CREDFLOW_FAULT_SLOW_STATE: slow } : {}),
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let out = '';
      proc.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve({ proc, config: JSON.parse(line) });
      });
      proc.once('exit', (code) => reject(new Error(`cloud child exited ${code}`)));
    });
  }

  it('on restart the interrupted execution fails, and on-rotation-failure rolls the working pending forward', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-fault-cloud-'));
    let c = await child(stateDir, 'testSecret:5000');
    try {
      let clients = createClients(c.config);
      const secretId = await userSecret('postgres', 'single-user', clients.secrets);
      const conn = { ...connectionOf(tc), clients };
      const sm = await workflowArn(conn, 'rotate-secret');
      const { executionArn } = await clients.sfn.send(
        new StartExecutionCommand({ stateMachineArn: sm, input: JSON.stringify({ secretId }) }),
      );
      // Wait until setSecret is done (the server has the pending password), then kill -9.
      for (;;) {
        const d = await clients.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
        const pending = Object.entries(d.VersionIdsToStages ?? {}).find(([, s]) => s.includes('AWSPENDING'));
        if (pending && !(await currentLogsIn(secretId, clients.secrets))) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      c.proc.kill('SIGKILL');
      await new Promise((r) => c.proc.once('exit', r));
      c = await child(stateDir);
      clients = createClients(c.config);
      const sfn: SFNClient = clients.sfn;
      expect((await sfn.send(new DescribeExecutionCommand({ executionArn }))).status).toBe('FAILED');
      const repairArn = await workflowArn({ ...conn, clients }, 'on-rotation-failure');
      for (let i = 0; ; i++) {
        const l = await sfn.send(new ListExecutionsCommand({ stateMachineArn: repairArn }));
        if (l.executions?.some((e) => e.status === 'SUCCEEDED')) break;
        if (i > 300) throw new Error('on-rotation-failure did not finish');
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await currentLogsIn(secretId, clients.secrets)).toBe(true);
      const d = await clients.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
      expect(d.Tags).toContainEqual({ Key: 'credflow:rotation-status', Value: 'rolled-forward' });
    } finally {
      c.proc.kill('SIGKILL');
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('concurrency and drift', () => {
  it('10 concurrent rotate-now on one secret: one rotation, the others a clear "rotation in progress"', async () => {
    const secretId = await userSecret('postgres', 'alternating-users');
    const before = await versions(secretId);
    const conn = connectionOf(tc);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => runWorkflow(conn, 'rotate-secret', { secretId })),
    );
    const ok = results.filter((r) => r.status === 'SUCCEEDED');
    const failed = results.filter((r) => r.status !== 'SUCCEEDED');
    expect(ok).toHaveLength(1);
    for (const f of failed) expect(['RotationInProgressError', 'RotationStateError']).toContain(f.error);
    // One new AWSCURRENT; the old one is AWSPREVIOUS; a loser's version (if it got as far as
    // writing one) carries no label; nothing is left pending.
    const d = await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
    const labelled = Object.entries(d.VersionIdsToStages ?? {}).filter(([, st]) => st.length > 0);
    expect(labelled.map(([, st]) => st.join(',')).sort()).toEqual(['AWSCURRENT', 'AWSPREVIOUS']);
    const previous = labelled.find(([, st]) => st.includes('AWSPREVIOUS'))?.[0];
    expect(before).toContain(previous);
    expect(await currentLogsIn(secretId)).toBe(true);
    await tc.cloud.stepFunctions.awaitIdle();
  });

  it("the master's password changed behind credflow's back: setSecret refuses, AWSCURRENT untouched", async () => {
    const secretId = await userSecret('mariadb', 'admin-single-user');
    const before = (await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId })))
      .VersionId;
    const a = admin('mariadb');
    await engineFor('mysql').changeOwnPassword(a, 'Changed-behind-back-1');
    try {
      const token = `fault-master-changed-${seq}`.padEnd(36, '0');
      await createSecret(deps(), { secretId, token });
      await expect(setSecret(deps(), { secretId, token })).rejects.toBeInstanceOf(AuthenticationError);
      expect(
        (await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).VersionId,
      ).toBe(before);
      expect(await currentLogsIn(secretId)).toBe(true);
    } finally {
      await engineFor('mysql').changeOwnPassword({ ...a, password: 'Changed-behind-back-1' }, ADMIN.password);
    }
  });

  it('a user dropped out of band: verify says so and rotation fails without losing AWSCURRENT', async () => {
    const secretId = await userSecret('postgres', 'single-user');
    const s = parseDbSecret(
      (await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString,
    );
    await engineFor('postgres').dropUser(admin('postgres'), s.username);
    const report = await verifyCredentials(deps(), { secretId });
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.check === 'current-logs-in')?.ok).toBe(false);
    const r = await runWorkflow(connectionOf(tc), 'rotate-secret', { secretId });
    expect(r).toMatchObject({ status: 'FAILED', error: 'AuthenticationError' });
    const v = await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
    expect(parseDbSecret(v.SecretString).password).toBe(s.password);
  });

  it('a _clone whose grants drifted: verify reports the drift', async () => {
    const secretId = await userSecret('mariadb', 'alternating-users');
    await runWorkflow(connectionOf(tc), 'rotate-secret', { secretId });
    const s = parseDbSecret(
      (await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString,
    );
    expect(s.username.endsWith('_clone')).toBe(true);
    const a = admin('mariadb');
    await engineFor('mysql').createUser(a, {
      username: 'fault_drift_probe',
      password: 'x-Probe-12345',
      database: 'appdb',
      privileges: ['SELECT'],
      binding: secretId,
    });
    // Give the clone one more privilege than the original.
    const c = await mysql.createConnection({
      host: a.host,
      port: a.port,
      user: a.username,
      password: a.password,
    });
    await c.query('GRANT INSERT ON `appdb`.* TO ?@?', [s.username, '%']);
    await c.end();
    const report = await verifyCredentials(deps(), { secretId });
    expect(report).toMatchObject({ ok: false, drift: true });
    expect(report.checks.find((x) => x.check === 'clone-grants-equal')?.ok).toBe(false);
  });
});

describe('hostile input', () => {
  it.each([
    ['a username over the limit', { username: 'u'.repeat(70) }],
    ['a username with a NUL byte', { username: 'bad\u0000name' }],
  ])('%s: ValidationError, nothing changes', async (_what, change) => {
    const secretId = await userSecret('postgres', 'single-user');
    const v = await tc.clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
    const s = parseDbSecret(v.SecretString);
    await tc.clients.secrets.send(
      new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify({ ...s, ...change }) }),
    );
    const token = `fault-hostile-${seq}`.padEnd(36, '0');
    await expect(createSecret(deps(), { secretId, token })).rejects.toBeInstanceOf(ValidationError);
    expect(
      Object.values(
        (await tc.clients.secrets.send(new DescribeSecretCommand({ SecretId: secretId })))
          .VersionIdsToStages ?? {},
      ).flat(),
    ).not.toContain('AWSPENDING');
  });

  it('a secret ARN from another account or region: a typed error, nothing touched', async () => {
    const arn = 'arn:aws:secretsmanager:eu-west-3:123456789012:secret:elsewhere-AbCdEf';
    // As AWS answers: no policy of that account lets this one in (IAM is enforced locally too).
    await expect(createSecret(deps(), { secretId: arn, token: 'x'.repeat(36) })).rejects.toBeInstanceOf(
      AccessDeniedError,
    );
  });
});
