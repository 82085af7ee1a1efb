import {
  chmodSync,
  closeSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';

/**
 * Writes a small file so that a crash leaves either the old content or the new, never a torn
 * one: temp file, fsync, rename, fsync of the directory.
 */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): void {
  const tmp = writeTemp(file, data, mode);
  renameSync(tmp, file);
  fsyncDir(file);
}

/**
 * Like `writeFileAtomic`, but only if `file` does not exist yet (hard links are created
 * exclusively), so two processes starting on one state dir agree on one key. Returns false when
 * another writer got there first.
 */
export function createFileExclusive(file: string, data: string | Buffer, mode = 0o600): boolean {
  const tmp = writeTemp(file, data, mode);
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  fsyncDir(file);
  return true;
}

function writeTemp(file: string, data: string | Buffer, mode: number): string {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

function fsyncDir(file: string): void {
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/**
 * The state dir's subdirectory holding the database servers' own directories (the local RDS's
 * data root). PostgreSQL and MariaDB run as their own OS users when the cloud runs as root, so
 * they must be able to pass through the state dir and this directory to reach their data.
 */
export const SERVERS_DIR = 'rds';

/**
 * Creates the state dir (0700; parents it needs as the umask makes them, since a database
 * server running as its own OS user must pass through them) and its `rds/` (0711: made here so
 * that it is never created listable), and tightens what is already there with `secureStateDir`.
 * Returns how many modes it changed.
 */
export function ensureStateDir(stateDir: string): number {
  mkdirSync(path.dirname(stateDir), { recursive: true });
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  mkdirSync(path.join(stateDir, SERVERS_DIR), { recursive: true, mode: 0o711 });
  return secureStateDir(stateDir);
}

/**
 * Brings every mode in the state dir to the least that still works, also for a state dir made by
 * an older credflow or another umask: files are the owner's alone (0600); directories 0700;
 * except on the way to the database servers' data, which a PostgreSQL or MariaDB server running
 * as its own OS user must pass through: `rds/` is 0711 (search only, no listing), the state dir
 * too once `rds/` holds a server's directory, and directories inside `rds/` keep their search
 * bits and lose the rest. Symlinks and sockets are left alone; what this process may not change
 * (another user's file when not root) is skipped. Returns how many modes it changed.
 */
export function secureStateDir(stateDir: string): number {
  const serversRoot = path.join(stateDir, SERVERS_DIR);
  const hasServers = hasEntries(serversRoot);
  let changed = 0;
  const stack: { dir: string; inServers: boolean }[] = [];
  const visit = (p: string, inServers: boolean) => {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(p);
    } catch {
      return; // removed meanwhile (a server's temporary file)
    }
    const mode = st.mode & 0o7777;
    let wanted: number;
    if (st.isDirectory()) {
      if (p === stateDir) wanted = hasServers ? 0o711 : 0o700;
      else if (p === serversRoot) wanted = 0o711;
      else wanted = inServers ? (mode & 0o711) | 0o700 : 0o700;
      stack.push({ dir: p, inServers: inServers || p === serversRoot });
    } else if (st.isFile()) {
      wanted = mode & 0o700;
    } else {
      return;
    }
    if (wanted === mode) return;
    try {
      chmodSync(p, wanted);
      changed++;
    } catch {
      // not ours to change (another user's file while not root), or gone meanwhile
    }
  };
  visit(stateDir, false);
  for (let next = stack.pop(); next; next = stack.pop()) {
    let names: string[];
    try {
      names = readdirSync(next.dir);
    } catch {
      continue;
    }
    for (const name of names) visit(path.join(next.dir, name), next.inServers);
  }
  return changed;
}

function hasEntries(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}
