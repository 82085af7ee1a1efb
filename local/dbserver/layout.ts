import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { DbServerError, type DbServerSpec, type ServerKind } from './types';

/**
 * What lives in a server's directory:
 *   data/                   the server's own data directory (PGDATA / MariaDB datadir)
 *   tls/                    server.crt + server.key, issued by the local RDS's CA (or ca/)
 *   ca/                     a CA of the server's own, when the caller gives none (tests)
 *   run/                    unix socket (and MariaDB's pid file) when the path is short enough
 *   server.log              the server's stdout and stderr
 *   credflow-dbserver.json  written last on first start: its absence means "not initialised"
 */
export interface Layout {
  dataDir: string;
  data: string;
  tlsDir: string;
  caDir: string;
  runDir: string;
  /** True when runDir is a temporary directory under /tmp to be removed on stop. */
  runDirIsTemp: boolean;
  logFile: string;
  marker: string;
}

export interface Marker {
  kind: ServerKind;
  masterUsername: string;
  initialisedAt: string;
  /**
   * PostgreSQL: the bootstrap superuser the launcher administers as (`rdsadmin`). Absent in data
   * directories made before the master stopped being the superuser: there the master is it.
   */
  adminRole?: string;
}

/** Linux limits unix socket paths to 107 bytes; stay well under, with room for a port suffix. */
const MAX_SOCKET_PATH = 100;

export function layoutFor(dataDir: string, socketName: string): Layout {
  const abs = path.resolve(dataDir);
  const runDir = path.join(abs, 'run');
  const longest = path.join(runDir, socketName);
  const runDirIsTemp = Buffer.byteLength(longest) >= MAX_SOCKET_PATH;
  return {
    dataDir: abs,
    data: path.join(abs, 'data'),
    tlsDir: path.join(abs, 'tls'),
    caDir: path.join(abs, 'ca'),
    runDir: runDirIsTemp ? '' : runDir,
    runDirIsTemp,
    logFile: path.join(abs, 'server.log'),
    marker: path.join(abs, 'credflow-dbserver.json'),
  };
}

/**
 * Creates the data directory (0700). Parents it has to create are made 0711 so that a server
 * running as another OS user (postgres) can pass through them; existing ones are left alone.
 */
export function makeDataDir(layout: Layout): void {
  mkdirSync(path.dirname(layout.dataDir), { recursive: true, mode: 0o711 });
  mkdirSync(layout.dataDir, { recursive: true, mode: 0o700 });
}

/** Creates the run directory (a short one under /tmp when the data directory's path is long). */
export function makeRunDir(layout: Layout): string {
  if (layout.runDirIsTemp) layout.runDir = mkdtempSync('/tmp/credflow-');
  else mkdirSync(layout.runDir, { recursive: true, mode: 0o700 });
  return layout.runDir;
}

export function readMarker(layout: Layout, kind: ServerKind): Marker | undefined {
  if (!existsSync(layout.marker)) return undefined;
  let marker: Marker;
  try {
    marker = JSON.parse(readFileSync(layout.marker, 'utf8')) as Marker;
  } catch {
    throw new DbServerError(`${layout.marker} is not readable JSON; remove the directory to start afresh`);
  }
  if (marker.kind !== kind) {
    throw new DbServerError(`${layout.dataDir} holds a ${marker.kind} server, not ${kind}`);
  }
  return marker;
}

export function writeMarker(layout: Layout, marker: Marker): void {
  writeFileSync(layout.marker, `${JSON.stringify(marker, null, 2)}\n`, { mode: 0o600 });
}

/**
 * A data/ directory without the marker is a first start that did not finish: remove it so
 * initialisation can run again, but only when it looks like ours (never someone else's files).
 */
export function clearUnfinishedInit(layout: Layout, looksLikeOurs: (entries: string[]) => boolean): void {
  if (!existsSync(layout.data)) return;
  const entries = readdirSync(layout.data);
  if (entries.length > 0 && !looksLikeOurs(entries)) {
    throw new DbServerError(
      `${layout.data} exists and was not made by credflow; choose another data directory`,
    );
  }
  rmSync(layout.data, { recursive: true, force: true });
}

const MASTER_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** RDS's own rules for master usernames, which also keep pg_hba/pg_ident free of quoting. */
export function checkSpec(spec: DbServerSpec, maxUsername: number): void {
  if (!MASTER_NAME.test(spec.masterUsername) || spec.masterUsername.length > maxUsername) {
    throw new DbServerError(
      `master username must start with a letter and contain only letters, digits and underscores ` +
        `(at most ${maxUsername}); got ${JSON.stringify(spec.masterUsername)}`,
    );
  }
  if (spec.masterPassword.length === 0 || /[\0\r\n]/.test(spec.masterPassword)) {
    throw new DbServerError('master password must be non-empty and contain no NUL or line breaks');
  }
  if (spec.port !== undefined && (!Number.isInteger(spec.port) || spec.port < 0 || spec.port > 65535)) {
    throw new DbServerError(`port must be an integer 0-65535; got ${spec.port}`);
  }
  if (
    spec.dbName !== undefined &&
    (spec.dbName.length === 0 || spec.dbName.length > 63 || /\0/.test(spec.dbName))
  ) {
    throw new DbServerError('dbName must be 1-63 characters without NUL');
  }
}

export function removeQuietly(p: string): void {
  try {
    rmSync(p, { recursive: true, force: true });
  } catch {
    // best effort: a leftover temporary socket directory is harmless
  }
}
