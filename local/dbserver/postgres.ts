import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, escapeIdentifier, escapeLiteral } from 'pg';
import { findPostgresBinaries, type PostgresBinaries } from './binaries';
import { HOST, type ServerContext, ServerLauncher } from './launcher';
import type { Layout, Marker } from './layout';
import { isRoot, runCommand } from './process';
import type { TlsFiles } from './tls';
import { DbServerError, type DbServerSpec, type RunningServer } from './types';

/** The bootstrap superuser, as on RDS: the launcher's identity, never given to anyone. */
export const PG_ADMIN_ROLE = 'rdsadmin';

/**
 * What RDS's rds_superuser holds that PostgreSQL 15 offers as predefined roles: monitoring,
 * signalling other backends, CHECKPOINT. Deliberately not pg_read_server_files,
 * pg_write_server_files or pg_execute_server_program (RDS denies server file access).
 */
export const RDS_SUPERUSER_GRANTS = ['pg_monitor', 'pg_signal_backend', 'pg_checkpoint'] as const;

/**
 * Client authentication. The launcher's own OS user administers through the socket with peer
 * authentication mapped to the admin role (as MariaDB's root does with unix_socket), so restarts
 * and password resets never need a password; everyone else logs in with SCRAM, and TCP is
 * loopback only. With TLS, TCP logins must use it (`hostssl`), as RDS for PostgreSQL 15 and later
 * forces (rds.force_ssl defaults to 1): a client that would fall back to plain fails here as it
 * would there. Written at every start, so older data directories get it too.
 */
function writeAuthConfig(layout: Layout, admin: string, tls: boolean): void {
  const osUser = isRoot() ? 'root' : os.userInfo().username;
  writeFileSync(
    path.join(layout.data, 'pg_hba.conf'),
    [
      '# Written by credflow (local/dbserver). TYPE DATABASE USER ADDRESS METHOD',
      `local all ${admin} peer map=credflow`,
      'local all all scram-sha-256',
      `${tls ? 'hostssl' : 'host'} all all ${HOST}/32 scram-sha-256`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(layout.data, 'pg_ident.conf'),
    [
      '# Written by credflow (local/dbserver). MAPNAME SYSTEM-USERNAME PG-USERNAME',
      `credflow ${osUser} ${admin}`,
      '',
    ].join('\n'),
  );
}

/**
 * PostgreSQL as RDS runs it: as the `postgres` OS user, administered by the bootstrap superuser
 * `rdsadmin` over the socket, the master a CREATEROLE/CREATEDB member of `rds_superuser`.
 */
class PostgresLauncher extends ServerLauncher<PostgresBinaries, Client> {
  readonly kind = 'postgres' as const;
  protected readonly label = 'PostgreSQL';
  protected readonly osUser = 'postgres';
  protected readonly osUserMissing =
    'PostgreSQL refuses to run as root and there is no `postgres` OS user: install the Debian package ' +
    '`postgresql` (it creates one) or add a system user named postgres';
  protected readonly maxUsername = 63;
  protected readonly socketName = '.s.PGSQL.65535.lock';
  protected readonly loginFailure = 'could not log in';

  protected findBinaries(): PostgresBinaries {
    return findPostgresBinaries();
  }

  /** Older data directories: the master itself is the bootstrap superuser. */
  protected adminOf(marker: Marker | undefined): string {
    return marker ? (marker.adminRole ?? marker.masterUsername) : PG_ADMIN_ROLE;
  }

  protected override markerExtras(): Partial<Marker> {
    return { adminRole: PG_ADMIN_ROLE };
  }

  protected looksLikeOurs(entries: string[]): boolean {
    return entries.includes('PG_VERSION') || entries.includes('global');
  }

  protected async initialise(ctx: ServerContext<PostgresBinaries>): Promise<void> {
    await runCommand(
      ctx.binaries.initdb,
      [
        '-D',
        ctx.layout.data,
        '-U',
        PG_ADMIN_ROLE,
        // Replaced by writeAuthConfig before the server first starts.
        '--auth-local=peer',
        '--auth-host=reject',
        '--no-locale',
        '--encoding=UTF8',
        '--no-instructions',
      ],
      { cwd: ctx.layout.dataDir, runAs: ctx.runAs, timeoutMs: 120_000, what: 'initdb' },
    );
  }

  protected override prepare(
    ctx: ServerContext<PostgresBinaries>,
    start: { initialised: boolean; adopted: boolean; tls: boolean },
  ): void {
    writeAuthConfig(ctx.layout, ctx.admin, start.tls);
  }

  protected executable(binaries: PostgresBinaries): string {
    return binaries.postgres;
  }

  /** Settings passed on the command line, so a restart can change port and socket directory. */
  protected serverArgs(layout: Layout, port: number, tls: TlsFiles | undefined): string[] {
    const settings: Record<string, string> = {
      listen_addresses: HOST,
      port: String(port),
      unix_socket_directories: layout.runDir,
      unix_socket_permissions: '0700',
      // Small: a test suite or a laptop runs several of these at once.
      shared_buffers: '16MB',
      max_connections: '100',
      max_wal_size: '128MB',
      password_encryption: 'scram-sha-256',
      logging_collector: 'off',
      ...(tls ? { ssl: 'on', ssl_cert_file: tls.cert, ssl_key_file: tls.key } : { ssl: 'off' }),
    };
    return ['-D', layout.data, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  }

  protected socketPath(layout: Layout, port: number): string {
    return path.join(layout.runDir, `.s.PGSQL.${port}`);
  }

  protected async connectAdmin(ctx: ServerContext<PostgresBinaries>, port: number): Promise<Client> {
    const client = new Client({
      host: ctx.layout.runDir,
      port,
      user: ctx.admin,
      database: 'postgres',
      connectionTimeoutMillis: 3000,
      application_name: 'credflow-dbserver',
    });
    client.on('error', () => {
      // A dropped admin connection surfaces through the pending query; do not crash the process.
    });
    try {
      await client.connect();
    } catch (err) {
      await this.closeAdmin(client);
      throw err;
    }
    return client;
  }

  protected async closeAdmin(client: Client): Promise<void> {
    await client.end().catch(() => undefined);
  }

  protected notReadyYet(e: { code?: string; message?: string }): boolean {
    if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === '57P03') return true;
    return /starting up|shutting down|timeout|terminated/i.test(e.message ?? '');
  }

  /**
   * The master as RDS makes it: LOGIN, CREATEROLE, CREATEDB, a member of rds_superuser, not a
   * superuser; it owns the `postgres` database (as on RDS) while `rdsadmin` stays the admin's.
   */
  protected async createMaster(ctx: ServerContext<PostgresBinaries>, port: number, spec: DbServerSpec) {
    await this.withAdminSafely(ctx, port, 'creating the master role', spec.masterPassword, async (c) => {
      const master = escapeIdentifier(spec.masterUsername);
      await c.query('CREATE ROLE rds_superuser NOLOGIN');
      await c.query(`GRANT ${RDS_SUPERUSER_GRANTS.join(', ')} TO rds_superuser`);
      await c.query(
        `CREATE ROLE ${master} LOGIN CREATEROLE CREATEDB PASSWORD ${escapeLiteral(spec.masterPassword)}`,
      );
      await c.query(`GRANT rds_superuser TO ${master}`);
      await c.query(`ALTER DATABASE postgres OWNER TO ${master}`);
      await c.query(`CREATE DATABASE ${PG_ADMIN_ROLE}`);
      await c.query(`REVOKE ALL ON DATABASE ${PG_ADMIN_ROLE} FROM PUBLIC`);
    });
  }

  /** The password login engines will use, checked once after initialisation (over verified TLS). */
  protected async checkMasterLogin(
    port: number,
    spec: DbServerSpec,
    caBundle: string | undefined,
  ): Promise<void> {
    const client = new Client({
      host: HOST,
      port,
      user: spec.masterUsername,
      password: spec.masterPassword,
      database: 'postgres',
      connectionTimeoutMillis: 5000,
      ssl: caBundle ? { ca: readFileSync(caBundle, 'utf8'), rejectUnauthorized: true } : false,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      throw new DbServerError(`the master cannot log in over TCP after initdb: ${(err as Error).message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** As RDS creates it: the master owns the initial database. */
  protected async ensureDatabase(
    ctx: ServerContext<PostgresBinaries>,
    port: number,
    dbName: string,
    master: string,
  ) {
    await this.withAdmin(ctx, port, async (c) => {
      const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
      if (exists.rowCount === 0)
        await c.query(`CREATE DATABASE ${escapeIdentifier(dbName)} OWNER ${escapeIdentifier(master)}`);
    });
  }

  protected async changeMasterPassword(
    ctx: ServerContext<PostgresBinaries>,
    port: number,
    master: string,
    password: string,
  ): Promise<void> {
    await this.withAdminSafely(ctx, port, 'setting the master password', password, (c) =>
      c.query(`ALTER ROLE ${escapeIdentifier(master)} WITH PASSWORD ${escapeLiteral(password)}`),
    );
  }

  protected async dumpTo(
    ctx: ServerContext<PostgresBinaries>,
    port: number,
    file: string,
    database?: string,
  ) {
    const args = ['-h', ctx.layout.runDir, '-p', String(port), '-U', ctx.admin, '--no-password', '-f', file];
    await runCommand(ctx.binaries.pgDump, [...args, database ?? 'postgres'], {
      cwd: ctx.layout.dataDir,
      runAs: { groups: [] },
      timeoutMs: 300_000,
      what: 'pg_dump',
    });
  }
}

const launcher = new PostgresLauncher();

export function startPostgres(spec: DbServerSpec): Promise<RunningServer> {
  return launcher.start(spec);
}
