import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import path from 'node:path';
import { DbServerError, type ServerKind } from './types';

export interface PostgresBinaries {
  kind: 'postgres';
  binDir: string;
  initdb: string;
  postgres: string;
  pgDump: string;
}

export interface MariadbBinaries {
  kind: 'mariadb';
  mariadbd: string;
  installDb: string;
  /** mariadb-dump (or mysqldump), for snapshots. */
  dump: string;
}

export type ServerBinaries = PostgresBinaries | MariadbBinaries;

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function pathDirs(): string[] {
  return (process.env['PATH'] ?? '').split(path.delimiter).filter((d) => d.length > 0);
}

function firstExecutable(names: readonly string[], dirs: readonly string[]): string | undefined {
  for (const dir of dirs) {
    for (const name of names) {
      const file = path.join(dir, name);
      if (isExecutable(file)) return file;
    }
  }
  return undefined;
}

/** Debian installs each major version side by side; the newest wins. */
function debianPostgresBinDirs(): string[] {
  const root = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    return [];
  }
  return versions
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    .map((v) => path.join(root, v, 'bin'));
}

function pgConfigBinDir(): string | undefined {
  const pgConfig = firstExecutable(['pg_config'], pathDirs());
  if (!pgConfig) return undefined;
  try {
    return execFileSync(pgConfig, ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/**
 * Finds initdb and postgres: `CREDFLOW_PG_BINDIR`, then Debian's /usr/lib/postgresql/<newest>/bin,
 * then PATH, then `pg_config --bindir`. Both must come from the same directory.
 */
export function findPostgresBinaries(): PostgresBinaries {
  const override = process.env['CREDFLOW_PG_BINDIR'];
  const candidates = [
    ...(override ? [override] : []),
    ...debianPostgresBinDirs(),
    ...pathDirs(),
    ...[pgConfigBinDir()].filter((d): d is string => d !== undefined),
  ];
  for (const dir of candidates) {
    const initdb = path.join(dir, 'initdb');
    const postgres = path.join(dir, 'postgres');
    if (isExecutable(initdb) && isExecutable(postgres))
      return { kind: 'postgres', binDir: dir, initdb, postgres, pgDump: path.join(dir, 'pg_dump') };
  }
  throw new DbServerError(
    'PostgreSQL server binaries not found (looked for initdb and postgres in CREDFLOW_PG_BINDIR, ' +
      '/usr/lib/postgresql/*/bin, PATH and pg_config --bindir): install the Debian package `postgresql` ' +
      '(apt-get install postgresql) or set CREDFLOW_PG_BINDIR',
  );
}

/** Finds mariadbd (or a MariaDB `mysqld`) and mariadb-install-db (or mysql_install_db). */
export function findMariadbBinaries(): MariadbBinaries {
  const override = process.env['CREDFLOW_MARIADB_BINDIR'];
  const dirs = [
    ...(override ? [override] : []),
    '/usr/sbin',
    '/usr/libexec',
    '/usr/bin',
    '/usr/local/sbin',
    '/usr/local/bin',
    ...pathDirs(),
  ];
  const mariadbd = firstExecutable(['mariadbd'], dirs) ?? firstMariadbMysqld(dirs);
  const installDb = firstExecutable(['mariadb-install-db', 'mysql_install_db'], [...dirs, '/usr/scripts']);
  const dump = firstExecutable(['mariadb-dump', 'mysqldump'], dirs);
  if (mariadbd && installDb && dump) return { kind: 'mariadb', mariadbd, installDb, dump };
  const missing = [
    mariadbd ? undefined : 'mariadbd',
    installDb ? undefined : 'mariadb-install-db',
    dump ? undefined : 'mariadb-dump',
  ].filter(Boolean);
  throw new DbServerError(
    `MariaDB server not found (missing ${missing.join(' and ')} in /usr/sbin, /usr/bin, PATH): ` +
      'install the Debian package `mariadb-server` (apt-get install mariadb-server) or set CREDFLOW_MARIADB_BINDIR',
  );
}

/** An older layout names the server `mysqld`; accept it only when it is MariaDB. */
function firstMariadbMysqld(dirs: readonly string[]): string | undefined {
  const mysqld = firstExecutable(['mysqld'], dirs);
  if (!mysqld) return undefined;
  try {
    const version = execFileSync(mysqld, ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return /mariadb/i.test(version) ? mysqld : undefined;
  } catch {
    return undefined;
  }
}

/** `openssl` from PATH or the usual places; undefined when absent (servers then run without TLS). */
export function findOpenssl(): string | undefined {
  return firstExecutable(['openssl'], [...pathDirs(), '/usr/bin', '/usr/local/bin']);
}

/** The server binaries for one kind; throws DbServerError naming the Debian package to install. */
export function findServerBinaries(kind: 'postgres'): PostgresBinaries;
export function findServerBinaries(kind: 'mariadb'): MariadbBinaries;
export function findServerBinaries(kind: ServerKind): ServerBinaries;
export function findServerBinaries(kind: ServerKind): ServerBinaries {
  return kind === 'postgres' ? findPostgresBinaries() : findMariadbBinaries();
}

const versions = new Map<ServerKind, string | undefined>();

/**
 * The version of the server binary that runs databases of `kind` (`15.18`, `10.11.19`), from its
 * `--version`; undefined when it is not installed. What the local RDS reports as EngineVersion,
 * so a `mysql` instance says plainly that MariaDB runs it.
 */
export function serverVersion(kind: ServerKind): string | undefined {
  if (versions.has(kind)) return versions.get(kind);
  let version: string | undefined;
  try {
    const b = findServerBinaries(kind);
    const text = execFileSync(b.kind === 'postgres' ? b.postgres : b.mariadbd, ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    // `postgres (PostgreSQL) 15.18 (Debian ...)`; `mysqld  Ver 10.11.19-MariaDB-0+deb12u1 for ...`
    version = /(?:PostgreSQL\)|Ver)\s+(\d+(?:\.\d+)+)/.exec(text)?.[1];
  } catch {
    version = undefined;
  }
  versions.set(kind, version);
  return version;
}
