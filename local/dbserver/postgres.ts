import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, escapeIdentifier, escapeLiteral } from 'pg';
import { findPostgresBinaries } from './binaries';
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
  readRuntime,
  STOP_SIGNAL,
  stopLiveServer,
  writeRuntime,
} from './runtime';
import { ensureSelfSignedCert, type TlsFiles } from './tls';
import { DbServerError, type DbServerSpec, PortInUseError, type RunningServer } from './types';

const HOST = '127.0.0.1';

function postgresRunAs(): RunAs {
  if (!isRoot()) return { groups: [] };
  const user = lookupOsUser('postgres');
  if (!user) {
    throw new DbServerError(
      'PostgreSQL refuses to run as root and there is no `postgres` OS user: install the Debian package ' +
        '`postgresql` (it creates one) or add a system user named postgres',
    );
  }
  return user;
}

/** Settings passed on the command line, so a restart can change port and socket directory. */
function serverArgs(layout: Layout, port: number, tls: { cert: string; key: string } | undefined): string[] {
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
 * loopback only.
 */
function writeAuthConfig(layout: Layout, admin: string): void {
  const osUser = isRoot() ? 'root' : os.userInfo().username;
  writeFileSync(
    path.join(layout.data, 'pg_hba.conf'),
    [
      '# Written by credflow (local/dbserver). TYPE DATABASE USER ADDRESS METHOD',
      `local all ${admin} peer map=credflow`,
      'local all all scram-sha-256',
      `host all all ${HOST}/32 scram-sha-256`,
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

async function initdb(layout: Layout, runAs: RunAs, binaries: { initdb: string }): Promise<void> {
  await runCommand(
    binaries.initdb,
    [
      '-D',
      layout.data,
      '-U',
      PG_ADMIN_ROLE,
      // Replaced by writeAuthConfig before the server first starts.
      '--auth-local=peer',
      '--auth-host=reject',
      '--no-locale',
      '--encoding=UTF8',
      '--no-instructions',
    ],
    { cwd: layout.dataDir, runAs, timeoutMs: 120_000, what: 'initdb' },
  );
  writeAuthConfig(layout, PG_ADMIN_ROLE);
}

/**
 * The master as RDS makes it: LOGIN, CREATEROLE, CREATEDB, a member of rds_superuser, not a
 * superuser; it owns the `postgres` database (as on RDS) while `rdsadmin` stays the admin's.
 */
async function bootstrapRoles(c: Client, spec: DbServerSpec): Promise<void> {
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
}

function adminClient(layout: Layout, port: number, admin: string, database = 'postgres'): Client {
  const client = new Client({
    host: layout.runDir,
    port,
    user: admin,
    database,
    connectionTimeoutMillis: 3000,
    application_name: 'credflow-dbserver',
  });
  client.on('error', () => {
    // A dropped admin connection surfaces through the pending query; do not crash the process.
  });
  return client;
}

async function withAdmin<T>(
  layout: Layout,
  port: number,
  admin: string,
  fn: (c: Client) => Promise<T>,
): Promise<T> {
  const client = adminClient(layout, port, admin);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Ready when the socket accepts the admin; "starting up" and a missing socket mean "not yet". */
async function probe(layout: Layout, port: number, admin: string): Promise<boolean> {
  const client = adminClient(layout, port, admin);
  try {
    await client.connect();
    return true;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === '57P03') return false;
    if (/starting up|shutting down|timeout|terminated/i.test(e.message ?? '')) return false;
    throw new DbServerError(
      `PostgreSQL started but the launcher could not log in: ${e.message ?? String(err)}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The password login engines will use, checked once after initialisation. */
async function checkPasswordLogin(port: number, spec: DbServerSpec): Promise<void> {
  const client = new Client({
    host: HOST,
    port,
    user: spec.masterUsername,
    password: spec.masterPassword,
    database: 'postgres',
    connectionTimeoutMillis: 5000,
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

type ServerProcess = Omit<SpawnedServer, 'child'>;

/**
 * A server of this data directory still running without a launcher (the last one was killed):
 * adopted when it answers the admin socket on the port asked for, else stopped cleanly.
 */
async function takeOverLeftover(
  layout: Layout,
  spec: DbServerSpec,
  admin: string,
): Promise<{ proc: ServerProcess; port: number } | undefined> {
  const pid = liveServerOf('postgres', layout);
  if (pid === undefined) return undefined;
  if (isOwnChild(pid)) {
    throw new DbServerError(`a PostgreSQL server (pid ${pid}) is already running on ${layout.data}`);
  }
  const runtime = readRuntime(layout);
  if (runtime && runtime.pid === pid && (!spec.port || runtime.port === spec.port)) {
    const saved = { runDir: layout.runDir, runDirIsTemp: layout.runDirIsTemp };
    layout.runDir = runtime.runDir;
    layout.runDirIsTemp = runtime.runDirIsTemp;
    if (await probe(layout, runtime.port, admin).catch(() => false)) {
      return { proc: adoptProcess(pid, STOP_SIGNAL.postgres), port: runtime.port };
    }
    Object.assign(layout, saved);
  }
  await stopLiveServer('postgres', layout, pid);
  return undefined;
}

async function launch(
  layout: Layout,
  spec: DbServerSpec,
  runAs: RunAs,
  postgres: string,
  admin: string,
  tls: TlsFiles | undefined,
): Promise<{ proc: SpawnedServer; port: number }> {
  const timeoutMs = spec.startTimeoutMs ?? 60_000;
  // A port we picked may be taken before the server binds it: pick again, a few times.
  for (let attempt = 1; ; attempt++) {
    const port = spec.port ? spec.port : await freePort();
    if (spec.port && !(await portIsFree(port))) throw new PortInUseError(port);
    const logStart = logSize(layout.logFile);
    const proc = await spawnServer(postgres, serverArgs(layout, port, tls), {
      cwd: layout.dataDir,
      runAs,
      logFile: layout.logFile,
      stopSignal: STOP_SIGNAL.postgres,
    });
    try {
      await waitUntilReady(() => probe(layout, port, admin), {
        exited: proc.exited,
        timeoutMs,
        what: `PostgreSQL on port ${port}`,
        logFile: layout.logFile,
      });
      return { proc, port };
    } catch (err) {
      await proc.stop(5000);
      const addressInUse = /already in use/i.test(readSince(layout.logFile, logStart));
      if (addressInUse && spec.port) throw new PortInUseError(port);
      if (spec.port || attempt >= 3 || !addressInUse) throw err;
    }
  }
}

export async function startPostgres(spec: DbServerSpec): Promise<RunningServer> {
  checkSpec(spec, 63);
  const binaries = findPostgresBinaries();
  const runAs = postgresRunAs();
  const layout = layoutFor(spec.dataDir, '.s.PGSQL.65535.lock');
  makeDataDir(layout);
  chownTo(runAs, layout.dataDir);
  assertTraversable(layout.dataDir, runAs, 'PostgreSQL (OS user postgres)');

  let marker = readMarker(layout, 'postgres');
  const initialised = marker === undefined;
  // Older data directories: the master itself is the bootstrap superuser.
  const admin = marker ? (marker.adminRole ?? marker.masterUsername) : PG_ADMIN_ROLE;
  const master = marker?.masterUsername ?? spec.masterUsername;
  let adopted: { proc: ServerProcess; port: number } | undefined;
  if (!marker) {
    clearUnfinishedInit(layout, (entries) => entries.includes('PG_VERSION') || entries.includes('global'));
    await initdb(layout, runAs, binaries);
  } else {
    adopted = await takeOverLeftover(layout, spec, admin);
  }
  const tls = await ensureSelfSignedCert(layout.tlsDir, runAs);

  let proc: ServerProcess | undefined = adopted?.proc;
  let port = adopted?.port ?? 0;
  try {
    if (!adopted) {
      makeRunDir(layout);
      chownTo(runAs, layout.runDir);
      const started = await launch(layout, spec, runAs, binaries.postgres, admin, tls);
      proc = started.proc;
      port = started.port;
    }
    if (initialised) {
      await withAdmin(layout, port, admin, (c) => bootstrapRoles(c, spec)).catch((err: unknown) => {
        const message = String((err as Error).message)
          .split(spec.masterPassword)
          .join('[redacted]');
        throw new DbServerError(`creating the master role: ${message}`);
      });
      await checkPasswordLogin(port, spec);
    }
    if (spec.dbName) {
      const dbName = spec.dbName;
      await withAdmin(layout, port, admin, async (c) => {
        const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
        // As RDS creates it: the master owns the initial database.
        if (exists.rowCount === 0)
          await c.query(`CREATE DATABASE ${escapeIdentifier(dbName)} OWNER ${escapeIdentifier(master)}`);
      });
    }
    if (!marker) {
      marker = {
        kind: 'postgres',
        masterUsername: spec.masterUsername,
        initialisedAt: new Date().toISOString(),
        adminRole: PG_ADMIN_ROLE,
      };
      writeMarker(layout, marker);
    }
  } catch (err) {
    await proc?.stop(5000);
    if (layout.runDirIsTemp) removeQuietly(layout.runDir);
    throw err;
  }

  const running = proc as ServerProcess;
  writeRuntime(layout, { pid: running.pid, port, runDir: layout.runDir, runDirIsTemp: layout.runDirIsTemp });
  return {
    kind: 'postgres',
    host: HOST,
    port,
    pid: running.pid,
    dataDir: layout.dataDir,
    initialised,
    adopted: adopted !== undefined,
    tls: tls !== undefined,
    socketPath: path.join(layout.runDir, `.s.PGSQL.${port}`),
    logFile: layout.logFile,
    exited: running.exited,
    async setMasterPassword(newPassword: string) {
      if (newPassword.length === 0 || newPassword.includes('\0')) {
        throw new DbServerError('master password must be non-empty and contain no NUL');
      }
      await withAdmin(layout, port, admin, (c) =>
        c.query(`ALTER ROLE ${escapeIdentifier(master)} WITH PASSWORD ${escapeLiteral(newPassword)}`),
      );
    },
    async dump(file: string, database?: string) {
      await runCommand(
        binaries.pgDump,
        [
          '-h',
          layout.runDir,
          '-p',
          String(port),
          '-U',
          admin,
          '--no-password',
          '-f',
          file,
          database ?? 'postgres',
        ],
        { cwd: layout.dataDir, runAs: { groups: [] }, timeoutMs: 300_000, what: 'pg_dump' },
      );
    },
    async stop() {
      await running.stop();
      clearRuntime(layout);
      if (layout.runDirIsTemp) removeQuietly(layout.runDir);
    },
  };
}
