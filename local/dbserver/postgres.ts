import { chownSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  assertTraversable,
  freePort,
  isRoot,
  logSize,
  lookupOsUser,
  processRunning,
  type RunAs,
  readSince,
  runCommand,
  type SpawnedServer,
  spawnServer,
  waitUntilReady,
} from './process';
import { ensureSelfSignedCert } from './tls';
import { DbServerError, type DbServerSpec, type RunningServer } from './types';

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

function chownTo(runAs: RunAs, ...paths: string[]): void {
  if (runAs.uid === undefined) return;
  for (const p of paths) chownSync(p, runAs.uid, runAs.gid ?? -1);
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

/**
 * Client authentication. The launcher's own OS user administers through the socket with peer
 * authentication mapped to the master (as MariaDB's root does with unix_socket), so restarts and
 * password resets never need the password; everyone else logs in with SCRAM, and TCP is
 * loopback only.
 */
function writeAuthConfig(layout: Layout, master: string): void {
  const osUser = isRoot() ? 'root' : os.userInfo().username;
  writeFileSync(
    path.join(layout.data, 'pg_hba.conf'),
    [
      '# Written by credflow (local/dbserver). TYPE DATABASE USER ADDRESS METHOD',
      `local all ${master} peer map=credflow`,
      'local all all scram-sha-256',
      `host all all ${HOST}/32 scram-sha-256`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(layout.data, 'pg_ident.conf'),
    [
      '# Written by credflow (local/dbserver). MAPNAME SYSTEM-USERNAME PG-USERNAME',
      `credflow ${osUser} ${master}`,
      '',
    ].join('\n'),
  );
}

async function initdb(
  spec: DbServerSpec,
  layout: Layout,
  runAs: RunAs,
  binaries: { initdb: string },
): Promise<void> {
  const pwfile = path.join(layout.dataDir, '.initdb-pw');
  writeFileSync(pwfile, `${spec.masterPassword}\n`, { mode: 0o600 });
  chownTo(runAs, pwfile);
  try {
    await runCommand(
      binaries.initdb,
      [
        '-D',
        layout.data,
        '-U',
        spec.masterUsername,
        `--pwfile=${pwfile}`,
        '--auth-local=scram-sha-256',
        '--auth-host=scram-sha-256',
        '--no-locale',
        '--encoding=UTF8',
        '--no-instructions',
      ],
      { cwd: layout.dataDir, runAs, timeoutMs: 120_000, what: 'initdb' },
    );
  } finally {
    rmSync(pwfile, { force: true });
  }
  writeAuthConfig(layout, spec.masterUsername);
}

function adminClient(layout: Layout, port: number, master: string, database = 'postgres'): Client {
  const client = new Client({
    host: layout.runDir,
    port,
    user: master,
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
  master: string,
  fn: (c: Client) => Promise<T>,
): Promise<T> {
  const client = adminClient(layout, port, master);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Ready when the socket accepts the admin; "starting up" and a missing socket mean "not yet". */
async function probe(layout: Layout, port: number, master: string): Promise<boolean> {
  const client = adminClient(layout, port, master);
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

function assertNotRunning(layout: Layout): void {
  const pidFile = path.join(layout.data, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (processRunning(pid, 'postgres')) {
    throw new DbServerError(`a PostgreSQL server (pid ${pid}) is already running on ${layout.data}`);
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
  if (!marker) {
    clearUnfinishedInit(layout, (entries) => entries.includes('PG_VERSION') || entries.includes('global'));
    await initdb(spec, layout, runAs, binaries);
  } else {
    assertNotRunning(layout);
  }
  const master = marker?.masterUsername ?? spec.masterUsername;
  const tls = await ensureSelfSignedCert(layout.tlsDir, runAs);
  makeRunDir(layout);
  chownTo(runAs, layout.runDir);

  const timeoutMs = spec.startTimeoutMs ?? 60_000;
  let server: SpawnedServer | undefined;
  let port = 0;
  try {
    // A port we picked may be taken before the server binds it: pick again, a few times.
    for (let attempt = 1; ; attempt++) {
      port = spec.port ? spec.port : await freePort();
      const logStart = logSize(layout.logFile);
      server = await spawnServer(binaries.postgres, serverArgs(layout, port, tls), {
        cwd: layout.dataDir,
        runAs,
        logFile: layout.logFile,
        stopSignal: 'SIGINT', // "fast" shutdown: SIGTERM would wait for every client to leave
      });
      try {
        await waitUntilReady(() => probe(layout, port, master), {
          exited: server.exited,
          timeoutMs,
          what: `PostgreSQL on port ${port}`,
          logFile: layout.logFile,
        });
        break;
      } catch (err) {
        await server.stop(5000);
        const addressInUse = /already in use/i.test(readSince(layout.logFile, logStart));
        if (spec.port || attempt >= 3 || !addressInUse) throw err;
      }
    }
    if (initialised) await checkPasswordLogin(port, spec);
    if (spec.dbName) {
      const dbName = spec.dbName;
      await withAdmin(layout, port, master, async (c) => {
        const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
        if (exists.rowCount === 0) await c.query(`CREATE DATABASE ${escapeIdentifier(dbName)}`);
      });
    }
    if (!marker) {
      marker = {
        kind: 'postgres',
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
  return {
    kind: 'postgres',
    host: HOST,
    port,
    pid: running.pid,
    dataDir: layout.dataDir,
    initialised,
    tls: tls !== undefined,
    socketPath: path.join(layout.runDir, `.s.PGSQL.${port}`),
    logFile: layout.logFile,
    exited: running.exited,
    async setMasterPassword(newPassword: string) {
      if (newPassword.length === 0 || newPassword.includes('\0')) {
        throw new DbServerError('master password must be non-empty and contain no NUL');
      }
      await withAdmin(layout, port, master, (c) =>
        c.query(`ALTER ROLE ${escapeIdentifier(master)} WITH PASSWORD ${escapeLiteral(newPassword)}`),
      );
    },
    async stop() {
      await running.stop();
      if (layout.runDirIsTemp) removeQuietly(layout.runDir);
    },
  };
}
