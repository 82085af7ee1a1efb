import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chownSync,
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  statSync,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { DbServerError, type ServerExit } from './types';

/** The OS identity a server runs as; undefined fields mean "as this process". */
export interface RunAs {
  uid?: number | undefined;
  gid?: number | undefined;
  groups: readonly number[];
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Looks up an OS user with `id` (covers NSS sources that parsing /etc/passwd would miss). */
export function lookupOsUser(name: string): RunAs | undefined {
  try {
    const id = (flag: string) =>
      execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const gid = Number(id('-g'));
    // A process spawned with uid/gid has no supplementary groups, so only the primary one counts.
    return { uid: Number(id('-u')), gid, groups: [gid] };
  } catch {
    return undefined;
  }
}

/** Gives `paths` (not recursively) to the OS user a server runs as. */
export function chownTo(runAs: RunAs, ...paths: string[]): void {
  if (runAs.uid === undefined) return;
  for (const p of paths) chownSync(p, runAs.uid, runAs.gid ?? -1);
}

/** Gives a whole tree to `runAs` when its top is someone else's (data made by an older launcher). */
export function chownTreeIfNeeded(dir: string, runAs: RunAs): void {
  if (runAs.uid === undefined || statSync(dir).uid === runAs.uid) return;
  execFileSync('chown', ['-R', `${runAs.uid}:${runAs.gid ?? runAs.uid}`, dir], { stdio: 'ignore' });
}

/**
 * Throws unless `runAs` can reach `dir`: every ancestor needs the search (x) bit for it. A
 * temporary directory made by mkdtemp (0700, root) is the usual culprit.
 */
export function assertTraversable(dir: string, runAs: RunAs, who: string): void {
  if (runAs.uid === undefined) return;
  let current = path.dirname(path.resolve(dir));
  for (;;) {
    const st = statSync(current);
    const ok =
      (st.uid === runAs.uid && (st.mode & 0o100) !== 0) ||
      (st.uid !== runAs.uid && runAs.groups.includes(st.gid) && (st.mode & 0o010) !== 0) ||
      (st.uid !== runAs.uid && !runAs.groups.includes(st.gid) && (st.mode & 0o001) !== 0);
    if (!ok) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new DbServerError(
        `${who} cannot reach ${dir}: ${current} (mode ${mode}, uid ${st.uid}) is not traversable by it; ` +
          `use a data directory it can reach, or allow traversal (chmod o+x ${current})`,
      );
    }
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

/** A port the kernel just handed out on 127.0.0.1. A race is possible; callers retry on EADDRINUSE. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new DbServerError('could not pick a free port'));
      });
    });
  });
}

/** A small, predictable environment: no PG or MYSQL variables leak in, messages in English. */
export function serverEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };
}

/** The last `bytes` of a file, for error messages; '' when unreadable. */
export function tail(file: string, bytes = 4000): string {
  try {
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    try {
      const length = Math.min(size, bytes);
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, size - length);
      return buf.toString('utf8').trim();
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

/** The size of a log file now, so a later readSince() returns only what a new start wrote. */
export function logSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** What was appended to `file` after byte `offset` (at most the last 64 KiB of it). */
export function readSince(file: string, offset: number): string {
  const size = logSize(file);
  return size > offset ? tail(file, Math.min(size - offset, 65_536)) : '';
}

/** Runs a setup command to completion; throws DbServerError with its output when it fails. */
export function runCommand(
  file: string,
  args: readonly string[],
  opts: { cwd: string; runAs: RunAs; timeoutMs: number; what: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: serverEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.runAs.uid !== undefined ? { uid: opts.runAs.uid } : {}),
      ...(opts.runAs.gid !== undefined ? { gid: opts.runAs.gid } : {}),
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-8000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new DbServerError(`${opts.what}: could not run ${file}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else
        reject(
          new DbServerError(
            `${opts.what} failed (${signal ? `killed by ${signal}` : `exit code ${code}`}): ${output.trim().slice(-2000)}`,
          ),
        );
    });
  });
}

/** Server processes this process started and has not seen exit: stopped if we exit first. */
const live = new Map<ChildProcess, NodeJS.Signals>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A server outliving its launcher would hold its port and data directory; a synchronous
  // signal is all an 'exit' handler can do, and the server's own shutdown finishes the job.
  process.once('exit', () => {
    for (const [child, signal] of live) child.kill(signal);
  });
}

export interface SpawnedServer {
  child: ChildProcess;
  pid: number;
  exited: Promise<ServerExit>;
  /** Sends `signal`, waits up to `graceMs`, then SIGKILL; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a long-running server with stdout and stderr appended to `logFile`. */
export function spawnServer(
  file: string,
  args: readonly string[],
  opts: { cwd: string; runAs: RunAs; logFile: string; stopSignal: NodeJS.Signals },
): Promise<SpawnedServer> {
  const logFd = openSync(opts.logFile, 'a', 0o600);
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        cwd: opts.cwd,
        env: serverEnv(),
        // A file, not a pipe: the server must not die of SIGPIPE if this process goes away.
        stdio: ['ignore', logFd, logFd],
        ...(opts.runAs.uid !== undefined ? { uid: opts.runAs.uid } : {}),
        ...(opts.runAs.gid !== undefined ? { gid: opts.runAs.gid } : {}),
      });
    } finally {
      closeSync(logFd);
    }
    let exit: ServerExit | undefined;
    const exited = new Promise<ServerExit>((res) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        exit = { code, signal };
        res(exit);
      });
    });
    child.on('error', (err) => reject(new DbServerError(`could not start ${file}: ${err.message}`)));
    child.once('spawn', () => {
      installExitHook();
      live.set(child, opts.stopSignal);
      const pid = child.pid ?? -1;
      resolve({
        child,
        pid,
        exited,
        async stop(graceMs = 30_000) {
          if (exit) return;
          child.kill(opts.stopSignal);
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        },
      });
    });
  });
}

/** True when `pid` is a live process (a zombie nobody reaped yet counts as gone). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // The state follows the command name in parentheses, which may itself hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The argv of a live process, from /proc; undefined when it is gone or unreadable. */
export function processArgs(pid: number): string[] | undefined {
  if (!pidAlive(pid)) return undefined;
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.length > 0 ? raw.replace(/\0$/, '').split('\0') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Live processes whose command line satisfies `matches`, found by scanning /proc: how a server
 * is found when its pid file does not name it (killed between spawn and writing the pid file).
 */
export function processesWhere(matches: (args: readonly string[]) => boolean): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const args = processArgs(pid);
    if (args && matches(args)) found.push(pid);
  }
  return found;
}

/** True when this process started `pid` and has not seen it exit. */
export function isOwnChild(pid: number): boolean {
  for (const child of live.keys()) if (child.pid === pid) return true;
  return false;
}

/** Settles when `pid` is gone; polls, since a process we did not start sends us no exit event. */
function watchPid(pid: number): Promise<ServerExit> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (pidAlive(pid)) return;
      clearInterval(timer);
      resolve({ code: null, signal: null });
    }, 200);
    timer.unref();
  });
}

/**
 * A server process this process did not start (left behind by a launcher that was killed):
 * the same stop() contract as a spawned one, by pid.
 */
export function adoptProcess(pid: number, stopSignal: NodeJS.Signals): Omit<SpawnedServer, 'child'> {
  const exited = watchPid(pid);
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  return {
    pid,
    exited,
    async stop(graceMs = 30_000) {
      if (gone || !pidAlive(pid)) return;
      signal(pid, stopSignal);
      const timer = setTimeout(() => signal(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Sends `sig` to a process we did not start, waits up to `graceMs`, then SIGKILL; waits it out. */
export async function terminatePid(pid: number, sig: NodeJS.Signals, graceMs = 30_000): Promise<void> {
  await adoptProcess(pid, sig).stop(graceMs);
}

/** Whether 127.0.0.1:`port` can be bound right now (nothing else listens there). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * Polls `probe` until it returns true, the process exits, or the time is up. `probe` throwing
 * means "fatal, stop waiting".
 */
export async function waitUntilReady(
  probe: () => Promise<boolean>,
  opts: { exited: Promise<ServerExit>; timeoutMs: number; what: string; logFile: string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let exit: ServerExit | undefined;
  void opts.exited.then((e) => {
    exit = e;
  });
  for (;;) {
    if (exit) {
      const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
      throw new DbServerError(`${opts.what} exited during start (${how}): ${tail(opts.logFile, 2000)}`);
    }
    if (await probe()) return;
    if (Date.now() > deadline) {
      throw new DbServerError(
        `${opts.what} did not accept connections within ${opts.timeoutMs} ms: ${tail(opts.logFile, 2000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * When `pid` started (clock ticks since boot, /proc/<pid>/stat field 22); undefined when it is
 * gone. A pid the kernel hands to a new process gets a new start time, so pid and start time
 * together name one process for its whole life.
 */
export function processStartTicks(pid: number): string | undefined {
  if (!pidAlive(pid)) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces or parentheses) start at field 3.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The socket inodes listening on TCP `port` (any local address), from /proc/net/tcp and tcp6. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is f[1] (addr:PORT in hex), st f[3] (0A = LISTEN), inode f[9].
      if (f.length > 9 && f[1]?.endsWith(`:${hexPort}`) && f[3] === '0A' && f[9] !== '0')
        inodes.add(f[9] as string);
    }
  }
  return inodes;
}

/**
 * Which process listens on TCP `port`: its pid and command line when this user can see it (a
 * socket inode from /proc/net/tcp matched against /proc/<pid>/fd), `{}` when something listens
 * but its owner is hidden (another user's process), undefined when nothing listens.
 */
export function portHolder(port: number): { pid?: number; args?: string } | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  const wanted = new Set([...inodes].map((i) => `socket:[${i}]`));
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return {};
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${e}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${e}/fd/${fd}`);
      } catch {
        continue;
      }
      if (wanted.has(link)) {
        const pid = Number(e);
        return { pid, args: (processArgs(pid) ?? []).join(' ') };
      }
    }
  }
  return {};
}
