/**
 * check-connectivity on the local cloud, through StartExecution as on AWS: a healthy database
 * passes every hop; a stopped database, a wrong port, a server without TLS, a master password
 * changed behind Secrets Manager's back, a name that does not resolve and a Secrets Manager that
 * never answers each fail at their own hop, with the fix. Also: provision-database sends the
 * network settings it was given, and a private database unless told otherwise.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  type CreateDBInstanceCommandInput,
  DescribeDBInstancesCommand,
  StartDBInstanceCommand,
  StopDBInstanceCommand,
} from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Connection } from '../../cli/context';
import { executionHistory } from '../../cli/run';
import { LOCAL_STAGE } from '../../local/boot';
import { lambdaClients } from '../../src/aws/lambda-clients';
import { engineFor } from '../../src/engines';
import { memoryLogger } from '../../src/log';
import { checkConnectivity, type Hop, type PreflightReport } from '../../src/preflight/check';
import { resolveMaster } from '../../src/rotation/master';
import { connectionOf, run, succeed } from '../e2e/support';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { startNoTlsProxy } from '../support/no-tls-proxy';

let tc: TestCloud;
let conn: Connection;
const sent: CreateDBInstanceCommandInput[] = [];
const DBS = { postgres: 'pf-postgres', mysql: 'pf-mysql' } as const;
const masters: Record<string, { arn: string; password: string }> = {};
const reports: PreflightReport[] = [];

beforeAll(async () => {
  // The handlers run on this thread here, so the test can watch the RDS client they build.
  tc = await startTestCloud(undefined, 'inline');
  conn = connectionOf(tc);
  // What the handlers really send to RDS: the process-wide client they build, observed.
  lambdaClients().rds.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'CreateDBInstanceCommand')
        sent.push(args.input as CreateDBInstanceCommandInput);
      return next(args);
    },
    { step: 'initialize', name: 'recordCreateDBInstance' },
  );
  for (const engine of ['postgres', 'mysql'] as const) {
    const out = await succeed(conn, 'provision-database', {
      identifier: DBS[engine],
      engine,
      pollSeconds: 1,
      dbSubnetGroupName: 'credflow-private',
      vpcSecurityGroupIds: ['sg-0123456789abcdef0'],
    });
    const arn = out['masterSecretArn'] as string;
    masters[engine] = { arn, password: (await resolveMaster(tc.clients, arn)).creds.password };
  }
}, 180_000);

afterAll(async () => {
  await tc?.stop();
});

/** Runs check-connectivity; returns its report whether it passed or failed, and the execution. */
async function preflight(input: Record<string, unknown>) {
  const r = await run(conn, 'check-connectivity', input);
  let report = r.status === 'SUCCEEDED' ? (r.output as PreflightReport) : undefined;
  if (!report) {
    const exited = (await executionHistory(conn, r.executionArn))
      .map((e) => e.stateExitedEventDetails)
      .find((d) => d?.name === 'CheckConnectivity');
    report = (JSON.parse(exited?.output ?? '{}') as { report: PreflightReport }).report;
  }
  reports.push(report);
  return { r, report, hop: (name: Hop['hop']) => report.hops.find((h) => h.hop === name) as Hop };
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function portOf(id: string): Promise<number> {
  const d = await tc.clients.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
  return d.DBInstances?.[0]?.Endpoint?.Port as number;
}

async function waitStatus(id: string, status: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    const d = await tc.clients.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
    if (d.DBInstances?.[0]?.DBInstanceStatus === status) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${id} never became ${status}`);
}

describe('provision-database on a VPC', () => {
  it('sends the subnet group and security groups, and asks for a private database', () => {
    expect(sent.map((i) => i.DBInstanceIdentifier).sort()).toEqual([DBS.mysql, DBS.postgres]);
    for (const i of sent) {
      expect(i).toMatchObject({
        PubliclyAccessible: false,
        DBSubnetGroupName: 'credflow-private',
        VpcSecurityGroupIds: ['sg-0123456789abcdef0'],
      });
    }
  });

  it('refuses a security group that is not an id, before creating anything', async () => {
    const before = sent.length;
    const r = await run(conn, 'provision-database', {
      identifier: 'pf-bad',
      engine: 'postgres',
      vpcSecurityGroupIds: ['my-group'],
    });
    expect(r).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
    expect(r.cause).toMatch(/vpcSecurityGroupIds\.0: must be a security group id/);
    expect(sent.length).toBe(before);
  });
});

describe.each(['postgres', 'mysql'] as const)('check-connectivity on %s', (engine) => {
  const id = DBS[engine];

  it('passes every hop on a healthy database: verdicts in order, TLS and the master login', async () => {
    const { r, report, hop } = await preflight({ identifier: id });
    expect(r.status).toBe('SUCCEEDED');
    expect(report.ok).toBe(true);
    expect(report.hops.map((h) => [h.hop, h.status])).toEqual([
      ['rds', 'ok'],
      ['secrets-manager', 'ok'],
      ['dns', 'ok'],
      ['tcp', 'ok'],
      ['tls', 'ok'],
      ['master-login', 'ok'],
    ]);
    expect(report.endpoint).toEqual({ host: '127.0.0.1', port: await portOf(id) });
    expect(hop('rds').detail).toMatch(new RegExp(`DB instance ${id} is available`));
    expect(hop('tls').detail).toMatch(/^TLSv1\.[23] /);
    expect(hop('master-login').detail).toMatch(/^logged in as .*\(TLS, server /);
  });

  it('wrong port: TCP refused, with the port RDS describes', async () => {
    const port = await closedPort();
    const { r, hop } = await preflight({ identifier: id, port });
    expect(r).toMatchObject({ status: 'FAILED', error: 'PreflightFailed' });
    expect(hop('tcp')).toMatchObject({ status: 'failed' });
    expect(hop('tcp').detail).toMatch(/refused the connection/);
    expect(hop('tcp').fix).toContain(`listens on ${await portOf(id)}, not ${port}`);
    expect(hop('tls').status).toBe('skipped');
    expect(hop('master-login').status).toBe('skipped');
    expect(r.cause).toContain('tcp: ');
  });

  it('no TLS: the TLS hop fails and the master login is not attempted', async () => {
    const proxy = await startNoTlsProxy(engine, { host: '127.0.0.1', port: await portOf(id) });
    try {
      const { r, hop } = await preflight({ identifier: id, port: proxy.port });
      expect(r).toMatchObject({ status: 'FAILED', error: 'PreflightFailed' });
      expect(hop('tcp').status).toBe('ok');
      expect(hop('tls')).toMatchObject({ status: 'failed', detail: `127.0.0.1:${proxy.port} offers no TLS` });
      expect(hop('tls').fix).toMatch(/RDS always offers TLS/);
      expect(hop('master-login').status).toBe('skipped');
    } finally {
      await proxy.close();
    }
  });

  it('bad master password: the login hop fails, and rotate-master (its fix) makes it pass', async () => {
    const m = await resolveMaster(tc.clients, masters[engine]!.arn);
    await engineFor(m.engine).changeOwnPassword(m.creds, `Changed-Behind-${engine}-1`);
    const { r, hop } = await preflight({ identifier: id });
    expect(r).toMatchObject({ status: 'FAILED', error: 'PreflightFailed' });
    expect(hop('secrets-manager').status).toBe('ok');
    expect(hop('tls').status).toBe('ok');
    expect(hop('master-login')).toMatchObject({ status: 'failed' });
    expect(hop('master-login').detail).toMatch(/password is refused/);
    expect(hop('master-login').fix).toMatch(/rotate-master/);
    await succeed(conn, 'rotate-master-password', { identifier: id, pollSeconds: 1 });
    expect((await preflight({ identifier: id })).report.ok).toBe(true);
  });

  it('stopped database: RDS says stopped and TCP is refused, both saying to start it', async () => {
    await tc.clients.rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: id }));
    await waitStatus(id, 'stopped');
    try {
      const { r, hop } = await preflight({ identifier: id });
      expect(r).toMatchObject({ status: 'FAILED', error: 'PreflightFailed' });
      expect(hop('rds')).toMatchObject({ status: 'failed', detail: `DB instance ${id} is stopped` });
      expect(hop('rds').fix).toContain(`start-db-instance --db-instance-identifier ${id}`);
      expect(hop('tcp')).toMatchObject({ status: 'failed' });
      expect(hop('tcp').fix).toContain(`${id} is stopped: start it`);
      expect(hop('master-login').status).toBe('skipped');
    } finally {
      await tc.clients.rds.send(new StartDBInstanceCommand({ DBInstanceIdentifier: id }));
      await waitStatus(id, 'available');
    }
  });
});

describe('check-connectivity, other failing hops', () => {
  it('a host name that does not resolve fails at DNS', async () => {
    const { hop } = await preflight({ identifier: DBS.postgres, host: 'no-such-database.invalid' });
    expect(hop('dns')).toMatchObject({ status: 'failed' });
    expect(hop('dns').detail).toMatch(/^no-such-database\.invalid/);
    expect(hop('tcp').status).toBe('skipped');
  });

  it('an unknown database fails at RDS and says so', async () => {
    const { r, hop } = await preflight({ identifier: 'pf-missing' });
    expect(r.status).toBe('FAILED');
    expect(hop('rds')).toMatchObject({
      status: 'failed',
      detail: 'no DB instance or cluster named pf-missing',
    });
  });

  it('refuses bad input with ValidationError', async () => {
    const r = await run(conn, 'check-connectivity', { identifier: DBS.postgres, port: 70000 });
    expect(r).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
  });

  it('a Secrets Manager that never answers (no endpoint, no NAT) fails in its time, naming both fixes', async () => {
    // A listener that accepts and never replies: what a VPC without a route looks like from inside.
    const sockets = new Set<net.Socket>();
    const blackHole = net.createServer((s) => sockets.add(s));
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
    const cfg = tc.cloud.clientConfig();
    const silent = new SecretsManagerClient({
      ...cfg,
      endpoint: `http://127.0.0.1:${(blackHole.address() as net.AddressInfo).port}`,
    });
    try {
      const d = await tc.clients.rds.send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: DBS.postgres }),
      );
      const report = await checkConnectivity(
        { secrets: silent, rds: tc.clients.rds, logger: memoryLogger() },
        { identifier: DBS.postgres, masterSecretArn: d.DBInstances?.[0]?.MasterUserSecret?.SecretArn },
        { rds: 5_000, secretsManager: 1_000, dns: 3_000, tcp: 3_000, tls: 5_000, login: 10_000 },
      );
      reports.push(report);
      const sm = report.hops.find((h) => h.hop === 'secrets-manager');
      expect(sm).toMatchObject({ status: 'failed' });
      expect(sm?.detail).toMatch(/no answer from Secrets Manager within 1000 ms/);
      expect(sm?.fix).toMatch(/interface endpoint \(--param vpcEndpoints=secretsmanager\) or a NAT gateway/);
      // The database itself is reachable; only the login, which needs the secret, is not tried.
      expect(report.hops.filter((h) => h.status === 'ok').map((h) => h.hop)).toEqual([
        'rds',
        'dns',
        'tcp',
        'tls',
      ]);
      expect(report.hops.at(-1)?.status).toBe('skipped');
    } finally {
      silent.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => blackHole.close(() => r()));
    }
  });
});

describe('credflow preflight (the CLI, as a subprocess)', () => {
  const cli = async (...args: string[]) => {
    const cfg = tc.cloud.clientConfig();
    try {
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        ['--require', './test/support/register-ts.js', 'cli/credflow.ts', ...args],
        {
          cwd: path.resolve(__dirname, '../..'),
          env: {
            ...process.env,
            AWS_ENDPOINT_URL: cfg.endpoint,
            AWS_REGION: cfg.region,
            AWS_ACCESS_KEY_ID: cfg.credentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: cfg.credentials.secretAccessKey,
            NO_COLOR: '1',
          },
          timeout: 120_000,
        },
      );
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };

  it('prints one line per hop and exits 0 when all pass, 1 with the fix when one fails', async () => {
    const good = await cli('--stage', LOCAL_STAGE, 'preflight', DBS.mysql);
    expect(good.code).toBe(0);
    // The verdicts are the result: on stdout.
    expect(good.stdout).toMatch(/✓ master-login .*logged in as/);
    expect(good.stdout).toContain(`preflight ${DBS.mysql}: every hop passed`);

    const port = await closedPort();
    const bad = await cli('--stage', LOCAL_STAGE, '--json', 'preflight', DBS.mysql, '--port', String(port));
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout) as PreflightReport;
    reports.push(report);
    expect(report.ok).toBe(false);
    expect(report.hops.find((h) => h.hop === 'tcp')?.fix).toContain(`not ${port}`);
  }, 180_000);

  it('provision passes --vpc-security-group-ids on (a bad id: ValidationError, exit 2, nothing created)', async () => {
    const before = sent.length;
    const r = await cli(
      '--stage',
      LOCAL_STAGE,
      'provision',
      'pf-cli',
      '--engine',
      'postgres',
      '--db-subnet-group',
      'credflow-private',
      '--vpc-security-group-ids',
      'sg-0123456789abcdef0,default',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/vpcSecurityGroupIds\.1: must be a security group id/);
    // The reason alone, not inside a stack trace.
    expect(r.stderr).not.toMatch(/\n\s+at |"trace"|errorType/);
    expect(sent.length).toBe(before);
  }, 120_000);
});

describe('secrets', () => {
  it('no report (workflow output, history or CLI --json) carries a master password', async () => {
    const text = JSON.stringify(reports);
    expect(reports.length).toBeGreaterThan(10);
    const passwords = [
      ...Object.values(masters).map((m) => m.password),
      ...(await Promise.all(
        Object.values(masters).map(async (m) => (await resolveMaster(tc.clients, m.arn)).creds.password),
      )),
      'Changed-Behind-postgres-1',
      'Changed-Behind-mysql-1',
    ];
    for (const p of passwords) expect(text).not.toContain(p);
  });
});
