/**
 * The launcher the local RDS and the test harness share: first start, restart on the same data,
 * password reset without the old password, and the clear errors it owes its callers.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  DbServerError,
  PortInUseError,
  type RunningServer,
  type ServerKind,
  startDbServer,
  stopServerIn,
} from '../../local/dbserver';
import { engineFor } from '../../src/engines';
import type { Credentials } from '../../src/engines/types';
import { AuthenticationError } from '../../src/errors';
import { itWhen } from '../support/skip';
import { trustCa } from '../support/trust';

const MASTER = 'rds_master';
const PASSWORD = `M4ster'"\\%pw`;

let root: string;
const running: RunningServer[] = [];

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'credflow-dbserver-'));
  chmodSync(root, 0o711);
});

afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
  rmSync(root, { recursive: true, force: true });
});

async function start(kind: ServerKind, dataDir: string, extra: { port?: number; password?: string } = {}) {
  const server = await startDbServer({
    kind,
    dataDir,
    masterUsername: MASTER,
    masterPassword: extra.password ?? PASSWORD,
    dbName: 'firstdb',
    ...(extra.port ? { port: extra.port } : {}),
  });
  running.push(server);
  // Given no CA, a server's directory gets one of its own: clients trust it to log in.
  if (server.caBundle) trustCa(server.caBundle);
  return server;
}

function master(server: RunningServer, password = PASSWORD): Credentials {
  return { host: server.host, port: server.port, username: MASTER, password, dbname: 'firstdb' };
}

describe.each<ServerKind>(['postgres', 'mariadb'])('%s server', (kind) => {
  const engine = engineFor(kind === 'postgres' ? 'postgres' : 'mariadb');
  const dir = () => path.join(root, kind);

  it('initialises on first start: loopback, TLS offered, master logs in to the initial database', async () => {
    const s = await start(kind, dir());
    expect(s.initialised).toBe(true);
    expect(s.host).toBe('127.0.0.1');
    expect(s.tls).toBe(true);
    expect(existsSync(s.socketPath)).toBe(true);
    const session = await engine.describeSession!(master(s));
    expect(session.tls).toBe(true);
    await engine.createUser(master(s), {
      username: 'kept',
      password: 'Kept-1',
      database: 'firstdb',
      privileges: ['SELECT'],
      binding: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:credflow/kept-000000',
    });
    await s.stop();
    await s.stop(); // twice is fine
    expect((await s.exited).code).toBe(0);
    await expect(engine.testLogin(master(s))).rejects.toThrow();
  });

  it('restarts on the same data with the same password, on the requested port', async () => {
    const port = await freePort();
    // The password given on restart is not applied: the data directory keeps its own.
    const s = await start(kind, dir(), { port, password: 'ignored-on-restart' });
    expect(s.initialised).toBe(false);
    expect(s.port).toBe(port);
    await expect(engine.testLogin(master(s))).resolves.toBeUndefined();
    await expect(engine.userExists(master(s), 'kept')).resolves.toBe(true);
  });

  it('refuses a second server on a data directory that is in use', async () => {
    const err = await start(kind, dir()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DbServerError);
    expect((err as Error).message).toMatch(/already running/);
  });

  it('sets the master password without the old one', async () => {
    const s = running.find((r) => r.kind === kind && r.dataDir === dir() && r.initialised === false)!;
    await s.setMasterPassword("N3w'master\\pw");
    await expect(engine.testLogin(master(s))).rejects.toBeInstanceOf(AuthenticationError);
    await expect(engine.testLogin(master(s, "N3w'master\\pw"))).resolves.toBeUndefined();
    await s.setMasterPassword(PASSWORD);
  });

  it('never moves off a taken port: PortInUseError, and no server is left running', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      const err = await start(kind, path.join(root, `${kind}-busy`), { port }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PortInUseError);
      expect((err as PortInUseError).port).toBe(port);
      expect((err as Error).message).toMatch(`port ${port} on 127.0.0.1 is in use`);
      expect(await stopServerIn(path.join(root, `${kind}-busy`))).toBeUndefined();
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });

  it('keeps the unix socket short when the data directory path is long', async () => {
    const deep = path.join(root, `${kind}-${'d'.repeat(60)}`, 'e'.repeat(40));
    const s = await start(kind, deep);
    expect(s.socketPath.length).toBeLessThan(100);
    expect(s.socketPath.startsWith('/tmp/credflow-')).toBe(true);
    await expect(engine.testLogin(master(s))).resolves.toBeUndefined();
    await s.stop();
    expect(existsSync(path.dirname(s.socketPath))).toBe(false);
  });
});

describe('leftover servers', () => {
  it('stopServerIn signals nothing when the pid file names a process that is not that server', async () => {
    const dataDir = path.join(root, 'impostor');
    mkdirSync(path.join(dataDir, 'data'), { recursive: true });
    writeFileSync(path.join(dataDir, 'credflow-dbserver.json'), JSON.stringify({ kind: 'postgres' }));
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(path.join(dataDir, 'data', 'postmaster.pid'), `${other.pid}\n`);
      expect(await stopServerIn(dataDir)).toBeUndefined();
      expect(other.exitCode).toBeNull();
      expect(other.signalCode).toBeNull();
    } finally {
      other.kill('SIGKILL');
    }
  });
});

describe('start-up errors', () => {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

  itWhen(asRoot, 'needs root: the servers run as other OS users only when the tests run as root')(
    'says which directory the postgres OS user cannot traverse',
    async () => {
      const closed = path.join(root, 'closed');
      mkdirSync(closed, { mode: 0o700 });
      const err = await start('postgres', path.join(closed, 'pg')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DbServerError);
      expect((err as Error).message).toContain(`${closed} (mode 0700`);
    },
  );

  it('refuses a master username RDS would refuse', async () => {
    const err = await startDbServer({
      kind: 'mariadb',
      dataDir: path.join(root, 'badname'),
      masterUsername: "x'y",
      masterPassword: 'pw',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DbServerError);
  });
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
