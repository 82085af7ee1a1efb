import { mkdirSync } from 'node:fs';
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
  adoptProcess,
  assertTraversable,
  chownTo,
  chownTreeIfNeeded,
  freePort,
  isOwnChild,
  isRoot,
  logSize,
  lookupOsUser,
  portIsFree,
  type RunAs,
  readSince,
  runCommand,
  type SpawnedServer,
  spawnServer,
  waitUntilReady,
} from './process';
import {
  clearRuntime,
  liveServerOf,
  pidFileOf,
  readRuntime,
  STOP_SIGNAL,
  stopLiveServer,
  writeRuntime,
} from './runtime';
import { ensureSelfSignedCert, type TlsFiles } from './tls';
import { DbServerError, type DbServerSpec, PortInUseError, type RunningServer } from './types';

const HOST = '127.0.0.1';
const SOCKET = 'mariadbd.sock';

/**
 * RDS for MariaDB's documented master privileges ("Master user account privileges"), granted ON
 * *.* WITH GRANT OPTION: no SUPER, FILE, SHUTDOWN, CREATE TABLESPACE. DELETE HISTORY is MariaDB's
 * own database-level privilege; without it `GRANT ALL ON db.*` (which MySQL, the engine this
 * server also stands in for, accepts from the RDS master) would be refused.
 */
export const MARIADB_MASTER_PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'RELOAD',
  'PROCESS',
  'REFERENCES',
  'INDEX',
  'ALTER',
  'SHOW DATABASES',
  'CREATE TEMPORARY TABLES',
  'LOCK TABLES',
  'EXECUTE',
  'REPLICATION SLAVE',
  'REPLICATION CLIENT',
  'CREATE VIEW',
  'SHOW VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
  'CREATE USER',
  'EVENT',
  'TRIGGER',
  'DELETE HISTORY',
] as const;

/** As RDS runs it: never as root. Root launches it as Debian's `mysql` user. */
function mariadbRunAs(): RunAs {
  if (!isRoot()) return { groups: [] };
  const user = lookupOsUser('mysql');
  if (!user) {
    throw new DbServerError(
      'MariaDB must not run as root and there is no `mysql` OS user: install the Debian package ' +
        '`mariadb-server` (it creates one) or add a system user named mysql ' +
        '(adduser --system --group --no-create-home mysql)',
    );
  }
  return user;
}

/** Small and quiet: a test suite or a laptop runs several of these at once. */
function tuning(): string[] {
  return [
    '--skip-name-resolve',
    '--innodb-buffer-pool-size=32M',
    '--innodb-log-file-size=16M',
    '--performance-schema=OFF',
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_unicode_ci',
  ];
}

/** The only directory INTO OUTFILE / LOAD DATA / LOAD_FILE may touch: inside the instance's own. */
function filesDir(layout: Layout): string {
  return path.join(layout.dataDir, 'files');
}

function serverArgs(layout: Layout, port: number, tls: TlsFiles | undefined): string[] {
  return [
    '--no-defaults', // never read /etc/mysql: this server is entirely described here
    `--datadir=${layout.data}`,
    `--port=${port}`,
    `--bind-address=${HOST}`,
    `--socket=${path.join(layout.runDir, SOCKET)}`,
    `--pid-file=${pidFileOf('mariadb', layout)}`,
    `--secure-file-priv=${filesDir(layout)}`,
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
    user: adminUser(),
    connectTimeout: 3000,
  });
  conn.on('error', () => {
    // A dropped admin connection surfaces through the pending query; do not crash the process.
  });
  return conn;
}

function adminUser(): string {
  return isRoot() ? 'root' : os.userInfo().username;
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
 * The master, as RDS has it: `'<master>'@'%'` with RDS's master privileges and the grant option.
 * With --skip-name-resolve, TCP logins from 127.0.0.1 match '%' once no anonymous user is left
 * to shadow it, so no @localhost twin is needed (a twin would also need every password change).
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
    await c.query(`GRANT ${MARIADB_MASTER_PRIVILEGES.join(', ')} ON *.* TO ?@'%' WITH GRANT OPTION`, [
      spec.masterUsername,
    ]);
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

type ServerProcess = Omit<SpawnedServer, 'child'>;

/**
 * A server of this data directory still running without a launcher (the last one was killed):
 * adopted when it answers the admin socket on the port asked for, else stopped cleanly.
 */
async function takeOverLeftover(layout: Layout, spec: DbServerSpec): Promise<ServerProcess | undefined> {
  const pid = liveServerOf('mariadb', layout);
  if (pid === undefined) return undefined;
  if (isOwnChild(pid)) {
    throw new DbServerError(`a MariaDB server (pid ${pid}) is already running on ${layout.data}`);
  }
  const runtime = readRuntime(layout);
  if (runtime && runtime.pid === pid && (!spec.port || runtime.port === spec.port)) {
    const saved = { runDir: layout.runDir, runDirIsTemp: layout.runDirIsTemp };
    layout.runDir = runtime.runDir;
    layout.runDirIsTemp = runtime.runDirIsTemp;
    if (await probe(layout).catch(() => false)) return adoptProcess(pid, STOP_SIGNAL.mariadb);
    Object.assign(layout, saved);
  }
  await stopLiveServer('mariadb', layout, pid);
  return undefined;
}

async function launch(
  layout: Layout,
  spec: DbServerSpec,
  runAs: RunAs,
  mariadbd: string,
  tls: TlsFiles | undefined,
): Promise<{ server: SpawnedServer; port: number }> {
  const timeoutMs = spec.startTimeoutMs ?? 60_000;
  for (let attempt = 1; ; attempt++) {
    const port = spec.port ? spec.port : await freePort();
    if (spec.port && !(await portIsFree(port))) throw new PortInUseError(port);
    const logStart = logSize(layout.logFile);
    const server = await spawnServer(mariadbd, serverArgs(layout, port, tls), {
      cwd: layout.dataDir,
      runAs,
      logFile: layout.logFile,
      stopSignal: STOP_SIGNAL.mariadb,
    });
    try {
      await waitUntilReady(() => probe(layout), {
        exited: server.exited,
        timeoutMs,
        what: `MariaDB on port ${port}`,
        logFile: layout.logFile,
      });
      return { server, port };
    } catch (err) {
      await server.stop(5000);
      const addressInUse = /already in use/i.test(readSince(layout.logFile, logStart));
      if (addressInUse && spec.port) throw new PortInUseError(port);
      if (spec.port || attempt >= 3 || !addressInUse) throw err;
    }
  }
}

export async function startMariadb(spec: DbServerSpec): Promise<RunningServer> {
  checkSpec(spec, 32);
  const binaries = findMariadbBinaries();
  const runAs = mariadbRunAs();
  const layout = layoutFor(spec.dataDir, SOCKET);
  makeDataDir(layout);
  chownTo(runAs, layout.dataDir);
  assertTraversable(layout.dataDir, runAs, 'MariaDB (OS user mysql)');

  let marker = readMarker(layout, 'mariadb');
  const initialised = marker === undefined;
  let adopted: ServerProcess | undefined;
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
        ...(isRoot() ? ['--user=mysql'] : []),
        ...tuning(),
      ],
      { cwd: layout.dataDir, runAs: { groups: [] }, timeoutMs: 120_000, what: 'mariadb-install-db' },
    );
  } else {
    adopted = await takeOverLeftover(layout, spec);
    // A data directory made when the server still ran as root.
    if (!adopted) chownTreeIfNeeded(layout.data, runAs);
  }
  mkdirSync(filesDir(layout), { recursive: true, mode: 0o700 });
  chownTo(runAs, filesDir(layout));
  const tls = await ensureSelfSignedCert(layout.tlsDir, runAs);

  let proc: ServerProcess | undefined = adopted;
  let port = adopted ? (readRuntime(layout)?.port ?? 0) : 0;
  try {
    if (!adopted) {
      makeRunDir(layout);
      chownTo(runAs, layout.runDir);
      const started = await launch(layout, spec, runAs, binaries.mariadbd, tls);
      proc = started.server;
      port = started.port;
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
    await proc?.stop(5000);
    if (layout.runDirIsTemp) removeQuietly(layout.runDir);
    throw err;
  }

  const running = proc as ServerProcess;
  writeRuntime(layout, {
    pid: running.pid,
    port,
    runDir: layout.runDir,
    runDirIsTemp: layout.runDirIsTemp,
  });
  const master = marker.masterUsername;
  return {
    kind: 'mariadb',
    host: HOST,
    port,
    pid: running.pid,
    dataDir: layout.dataDir,
    initialised,
    adopted: adopted !== undefined,
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
    async dump(file: string, database?: string) {
      const args = [
        `--socket=${path.join(layout.runDir, SOCKET)}`,
        `--user=${adminUser()}`,
        `--result-file=${file}`,
        '--single-transaction',
        ...(database ? ['--databases', database] : ['--all-databases']),
      ];
      await runCommand(binaries.dump, args, {
        cwd: layout.dataDir,
        runAs: { groups: [] },
        timeoutMs: 300_000,
        what: 'mariadb-dump',
      });
    },
    async stop() {
      await running.stop();
      clearRuntime(layout);
      if (layout.runDirIsTemp) removeQuietly(layout.runDir);
    },
  };
}
