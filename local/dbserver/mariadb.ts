import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { escapeId } from 'mysql2';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { findMariadbBinaries, type MariadbBinaries } from './binaries';
import { HOST, type ServerContext, ServerLauncher } from './launcher';
import type { Layout } from './layout';
import { chownTo, chownTreeIfNeeded, isRoot, runCommand } from './process';
import { pidFileOf } from './runtime';
import type { TlsFiles } from './tls';
import { DbServerError, type DbServerSpec, type RunningServer } from './types';

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

/**
 * The instance's own temporary directory (MariaDB's default is the shared /tmp): installs and
 * servers running side by side never meet in it, and a killed server's leftovers stay with its
 * instance instead of tripping an unrelated install (seen: "Could not remove temporary table").
 */
function tmpDirOf(layout: Layout, runAs: ServerContext<MariadbBinaries>['runAs']): string {
  const dir = path.join(layout.dataDir, 'tmp');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownTo(runAs, dir);
  return dir;
}

/** mariadb-install-db gives the installing OS user a unix_socket account of the same name. */
function adminUser(): string {
  return isRoot() ? 'root' : os.userInfo().username;
}

/**
 * MariaDB as RDS runs it: as the `mysql` OS user with secure_file_priv confined to the
 * instance's `files/`, administered by root over the unix socket, the master `'<master>'@'%'`
 * with RDS's master privileges.
 */
class MariadbLauncher extends ServerLauncher<MariadbBinaries, Connection> {
  readonly kind = 'mariadb' as const;
  protected readonly label = 'MariaDB';
  protected readonly osUser = 'mysql';
  protected readonly osUserMissing =
    'MariaDB must not run as root and there is no `mysql` OS user: install the Debian package ' +
    '`mariadb-server` (it creates one) or add a system user named mysql ' +
    '(adduser --system --group --no-create-home mysql)';
  protected readonly maxUsername = 32;
  protected readonly socketName = SOCKET;
  protected readonly loginFailure = 'could not log in as root';

  protected findBinaries(): MariadbBinaries {
    return findMariadbBinaries();
  }

  protected adminOf(): string {
    return adminUser();
  }

  protected looksLikeOurs(entries: string[]): boolean {
    return entries.includes('mysql') || entries.includes('aria_log_control');
  }

  protected async initialise(ctx: ServerContext<MariadbBinaries>): Promise<void> {
    await runCommand(
      ctx.binaries.installDb,
      [
        '--no-defaults',
        `--datadir=${ctx.layout.data}`,
        '--auth-root-authentication-method=socket',
        '--skip-test-db',
        ...(isRoot() ? ['--user=mysql'] : []),
        `--tmpdir=${tmpDirOf(ctx.layout, ctx.runAs)}`,
        ...tuning(),
      ],
      { cwd: ctx.layout.dataDir, runAs: { groups: [] }, timeoutMs: 120_000, what: 'mariadb-install-db' },
    );
  }

  protected override prepare(
    ctx: ServerContext<MariadbBinaries>,
    start: { initialised: boolean; adopted: boolean },
  ): void {
    // A data directory made when the server still ran as root.
    if (!start.initialised && !start.adopted) chownTreeIfNeeded(ctx.layout.data, ctx.runAs);
    mkdirSync(filesDir(ctx.layout), { recursive: true, mode: 0o700 });
    chownTo(ctx.runAs, filesDir(ctx.layout));
    tmpDirOf(ctx.layout, ctx.runAs);
  }

  protected executable(binaries: MariadbBinaries): string {
    return binaries.mariadbd;
  }

  protected serverArgs(layout: Layout, port: number, tls: TlsFiles | undefined): string[] {
    return [
      '--no-defaults', // never read /etc/mysql: this server is entirely described here
      `--datadir=${layout.data}`,
      `--port=${port}`,
      `--bind-address=${HOST}`,
      `--socket=${path.join(layout.runDir, SOCKET)}`,
      `--pid-file=${pidFileOf('mariadb', layout)}`,
      `--secure-file-priv=${filesDir(layout)}`,
      `--tmpdir=${path.join(layout.dataDir, 'tmp')}`,
      '--max-connections=200',
      ...tuning(),
      ...(tls ? [`--ssl-cert=${tls.cert}`, `--ssl-key=${tls.key}`] : []),
    ];
  }

  protected socketPath(layout: Layout): string {
    return path.join(layout.runDir, SOCKET);
  }

  /** root@localhost authenticates by unix_socket: the launcher's OS user administers without a password. */
  protected async connectAdmin(ctx: ServerContext<MariadbBinaries>): Promise<Connection> {
    const conn = await mysql.createConnection({
      socketPath: path.join(ctx.layout.runDir, SOCKET),
      user: ctx.admin,
      connectTimeout: 3000,
    });
    conn.on('error', () => {
      // A dropped admin connection surfaces through the pending query; do not crash the process.
    });
    return conn;
  }

  protected async closeAdmin(conn: Connection): Promise<void> {
    await conn.end().catch(() => undefined);
  }

  protected notReadyYet(e: { code?: string }): boolean {
    return ['ENOENT', 'ECONNREFUSED', 'ETIMEDOUT', 'PROTOCOL_CONNECTION_LOST', 'ECONNRESET'].includes(
      e.code ?? '',
    );
  }

  /**
   * The master, as RDS has it: `'<master>'@'%'` with RDS's master privileges and the grant option.
   * With --skip-name-resolve, TCP logins from 127.0.0.1 match '%' once no anonymous user is left
   * to shadow it, so no @localhost twin is needed (a twin would also need every password change).
   * mysql2 errors carry the statement (`sql`), which may hold a password: only the message is kept.
   */
  protected async createMaster(ctx: ServerContext<MariadbBinaries>, port: number, spec: DbServerSpec) {
    await this.withAdminSafely(ctx, port, 'creating the master user', spec.masterPassword, async (c) => {
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

  protected async checkMasterLogin(port: number, spec: DbServerSpec): Promise<void> {
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

  protected async ensureDatabase(ctx: ServerContext<MariadbBinaries>, port: number, dbName: string) {
    await this.withAdmin(ctx, port, (c) =>
      c.query(`CREATE DATABASE IF NOT EXISTS ${escapeId(dbName, true)}`),
    );
  }

  protected async changeMasterPassword(
    ctx: ServerContext<MariadbBinaries>,
    port: number,
    master: string,
    password: string,
  ): Promise<void> {
    await this.withAdminSafely(ctx, port, 'setting the master password', password, (c) =>
      c.query("ALTER USER ?@'%' IDENTIFIED BY ?", [master, password]),
    );
  }

  protected async dumpTo(
    ctx: ServerContext<MariadbBinaries>,
    _port: number,
    file: string,
    database?: string,
  ) {
    const args = [
      `--socket=${path.join(ctx.layout.runDir, SOCKET)}`,
      `--user=${ctx.admin}`,
      `--result-file=${file}`,
      '--single-transaction',
      ...(database ? ['--databases', database] : ['--all-databases']),
    ];
    await runCommand(ctx.binaries.dump, args, {
      cwd: ctx.layout.dataDir,
      runAs: { groups: [] },
      timeoutMs: 300_000,
      what: 'mariadb-dump',
    });
  }
}

const launcher = new MariadbLauncher();

export function startMariadb(spec: DbServerSpec): Promise<RunningServer> {
  return launcher.start(spec);
}
