import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { escapeId } from 'mysql2';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { findMariadbBinaries } from './binaries';
import {
  checkSpec,
  clearUnfinishedInit,
  type Layout,
  layoutFor,
  makeDataDir,
  makeRunDir,
  readMarker,
  removeQuietly,
  writeMarker,
} from './layout';
import {
  freePort,
  isRoot,
  logSize,
  processRunning,
  type RunAs,
  readSince,
  runCommand,
  type SpawnedServer,
  spawnServer,
  waitUntilReady,
} from './process';
import { ensureSelfSignedCert, type TlsFiles } from './tls';
import { DbServerError, type DbServerSpec, type RunningServer } from './types';

const HOST = '127.0.0.1';
const SOCKET = 'mariadbd.sock';

/** Small and quiet: a test suite or a laptop runs several of these at once. */
function tuning(): string[] {
  return [
    '--skip-name-resolve',
    '--innodb-buffer-pool-size=32M',
    '--innodb-log-file-size=16M',
    '--performance-schema=OFF',
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_unicode_ci',
    // mariadbd refuses to run as root unless told to; as anyone else it runs as that user.
    ...(isRoot() ? ['--user=root'] : []),
  ];
}

function serverArgs(layout: Layout, port: number, tls: TlsFiles | undefined): string[] {
  return [
    '--no-defaults', // never read /etc/mysql: this server is entirely described here
    `--datadir=${layout.data}`,
    `--port=${port}`,
    `--bind-address=${HOST}`,
    `--socket=${path.join(layout.runDir, SOCKET)}`,
    `--pid-file=${path.join(layout.runDir, 'mariadbd.pid')}`,
    '--max-connections=200',
    ...tuning(),
    ...(tls ? [`--ssl-cert=${tls.cert}`, `--ssl-key=${tls.key}`] : []),
  ];
}

/** root@localhost authenticates by unix_socket: the launcher's OS user administers without a password. */
async function rootConnection(layout: Layout): Promise<Connection> {
  const conn = await mysql.createConnection({
    socketPath: path.join(layout.runDir, SOCKET),
    // mariadb-install-db gives the installing OS user a unix_socket account of the same name.
    user: isRoot() ? 'root' : os.userInfo().username,
    connectTimeout: 3000,
  });
  conn.on('error', () => {
    // A dropped admin connection surfaces through the pending query; do not crash the process.
  });
  return conn;
}

async function withRoot<T>(layout: Layout, fn: (c: Connection) => Promise<T>): Promise<T> {
  const conn = await rootConnection(layout);
  try {
    return await fn(conn);
  } finally {
    await conn.end().catch(() => undefined);
  }
}

/** mysql2 errors carry the statement (`sql`), which may hold a password: keep only the message. */
async function withRootSafely(
  layout: Layout,
  what: string,
  secret: string,
  fn: (c: Connection) => Promise<unknown>,
) {
  try {
    await withRoot(layout, fn);
  } catch (err) {
    const message = String((err as Error).message ?? err)
      .split(secret)
      .join('[redacted]');
    throw new DbServerError(`${what}: ${message}`);
  }
}

async function probe(layout: Layout): Promise<boolean> {
  try {
    await withRoot(layout, async () => undefined);
    return true;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ETIMEDOUT') return false;
    if (e.code === 'PROTOCOL_CONNECTION_LOST' || e.code === 'ECONNRESET') return false;
    throw new DbServerError(
      `MariaDB started but the launcher could not log in as root: ${e.message ?? String(err)}`,
    );
  }
}

/**
 * The master, as RDS has it: `'<master>'@'%'` with every privilege and the grant option. With
 * --skip-name-resolve, TCP logins from 127.0.0.1 match '%' once no anonymous user is left to
 * shadow it, so no @localhost twin is needed (a twin would also need every password change).
 */
async function createMaster(layout: Layout, spec: DbServerSpec): Promise<void> {
  await withRootSafely(layout, 'creating the master user', spec.masterPassword, async (c) => {
    const [anonymous] = await c.query<RowDataPacket[]>(
      "SELECT User AS user, Host AS host FROM mysql.user WHERE User = '' OR (User = 'root' AND Host <> 'localhost')",
    );
    for (const row of anonymous) await c.query('DROP USER ?@?', [row['user'], row['host']]);
    // install-db grants PROXY to root@<hostname>, which --skip-name-resolve can never match (and
    // warns about on every start); REVOKE cannot name it under that mode, so remove the row.
    await c.query("DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '')");
    await c.query('FLUSH PRIVILEGES');
    await c.query("CREATE USER ?@'%' IDENTIFIED BY ?", [spec.masterUsername, spec.masterPassword]);
    await c.query("GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", [spec.masterUsername]);
  });
}

async function checkPasswordLogin(port: number, spec: DbServerSpec): Promise<void> {
  try {
    const conn = await mysql.createConnection({
      host: HOST,
      port,
      user: spec.masterUsername,
      password: spec.masterPassword,
      connectTimeout: 5000,
    });
    await conn.end();
  } catch (err) {
    throw new DbServerError(
      `the master cannot log in over TCP after initialisation: ${(err as Error).message}`,
    );
  }
}

function assertNotRunning(layout: Layout): void {
  if (layout.runDirIsTemp) return; // a fresh temporary run dir holds no pid file
  const pidFile = path.join(layout.runDir, 'mariadbd.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (processRunning(pid, 'mariadbd') || processRunning(pid, 'mysqld')) {
    throw new DbServerError(`a MariaDB server (pid ${pid}) is already running on ${layout.data}`);
  }
}

export async function startMariadb(spec: DbServerSpec): Promise<RunningServer> {
  checkSpec(spec, 32);
  const binaries = findMariadbBinaries();
  const runAs: RunAs = { groups: [] };
  const layout = layoutFor(spec.dataDir, SOCKET);
  makeDataDir(layout);

  let marker = readMarker(layout, 'mariadb');
  const initialised = marker === undefined;
  if (!marker) {
    clearUnfinishedInit(
      layout,
      (entries) => entries.includes('mysql') || entries.includes('aria_log_control'),
    );
    await runCommand(
      binaries.installDb,
      [
        '--no-defaults',
        `--datadir=${layout.data}`,
        '--auth-root-authentication-method=socket',
        '--skip-test-db',
        ...tuning(),
      ],
      { cwd: layout.dataDir, runAs, timeoutMs: 120_000, what: 'mariadb-install-db' },
    );
  } else {
    assertNotRunning(layout);
  }
  const tls = await ensureSelfSignedCert(layout.tlsDir, runAs);
  makeRunDir(layout);

  const timeoutMs = spec.startTimeoutMs ?? 60_000;
  let server: SpawnedServer | undefined;
  let port = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      port = spec.port ? spec.port : await freePort();
      const logStart = logSize(layout.logFile);
      server = await spawnServer(binaries.mariadbd, serverArgs(layout, port, tls), {
        cwd: layout.dataDir,
        runAs,
        logFile: layout.logFile,
        stopSignal: 'SIGTERM', // mariadbd's normal shutdown
      });
      try {
        await waitUntilReady(() => probe(layout), {
          exited: server.exited,
          timeoutMs,
          what: `MariaDB on port ${port}`,
          logFile: layout.logFile,
        });
        break;
      } catch (err) {
        await server.stop(5000);
        const addressInUse = /already in use/i.test(readSince(layout.logFile, logStart));
        if (spec.port || attempt >= 3 || !addressInUse) throw err;
      }
    }
    if (initialised) {
      await createMaster(layout, spec);
      await checkPasswordLogin(port, spec);
    }
    if (spec.dbName) {
      const dbName = spec.dbName;
      await withRoot(layout, (c) => c.query(`CREATE DATABASE IF NOT EXISTS ${escapeId(dbName, true)}`));
    }
    if (!marker) {
      marker = {
        kind: 'mariadb',
        masterUsername: spec.masterUsername,
        initialisedAt: new Date().toISOString(),
      };
      writeMarker(layout, marker);
    }
  } catch (err) {
    await server?.stop(5000);
    if (layout.runDirIsTemp) removeQuietly(layout.runDir);
    throw err;
  }

  const running = server;
  const master = marker.masterUsername;
  return {
    kind: 'mariadb',
    host: HOST,
    port,
    pid: running.pid,
    dataDir: layout.dataDir,
    initialised,
    tls: tls !== undefined,
    socketPath: path.join(layout.runDir, SOCKET),
    logFile: layout.logFile,
    exited: running.exited,
    async setMasterPassword(newPassword: string) {
      if (newPassword.length === 0 || newPassword.includes('\0')) {
        throw new DbServerError('master password must be non-empty and contain no NUL');
      }
      await withRootSafely(layout, 'setting the master password', newPassword, (c) =>
        c.query("ALTER USER ?@'%' IDENTIFIED BY ?", [master, newPassword]),
      );
    },
    async stop() {
      await running.stop();
      if (layout.runDirIsTemp) removeQuietly(layout.runDir);
    },
  };
}
