/**
 * A server outlives its launcher when the launcher is killed with SIGKILL. What a later launcher
 * needs to find it again, and to adopt or stop it, lives in the data directory: the server's own
 * pid file and `credflow-run.json` (port and socket directory of the running server).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Layout, layoutFor, removeQuietly } from './layout';
import { processArgs, processesWhere, terminatePid } from './process';
import type { ServerKind } from './types';

export interface RuntimeInfo {
  pid: number;
  port: number;
  runDir: string;
  runDirIsTemp: boolean;
}

/** The signal each server treats as a clean, prompt shutdown. */
export const STOP_SIGNAL: Record<ServerKind, NodeJS.Signals> = {
  // "fast" shutdown: SIGTERM would wait for every client to leave.
  postgres: 'SIGINT',
  mariadb: 'SIGTERM',
};

const RUNTIME_FILE = 'credflow-run.json';

/** Where each server writes its pid: inside its data directory, so a crash never loses it. */
export function pidFileOf(kind: ServerKind, layout: Layout): string {
  return path.join(layout.data, kind === 'postgres' ? 'postmaster.pid' : 'mariadbd.pid');
}

export function writeRuntime(layout: Layout, info: RuntimeInfo): void {
  writeFileSync(path.join(layout.dataDir, RUNTIME_FILE), `${JSON.stringify(info)}\n`, { mode: 0o600 });
}

export function readRuntime(layout: Layout): RuntimeInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path.join(layout.dataDir, RUNTIME_FILE), 'utf8')) as RuntimeInfo;
    return Number.isInteger(info.pid) && Number.isInteger(info.port) ? info : undefined;
  } catch {
    return undefined;
  }
}

export function clearRuntime(layout: Layout): void {
  rmSync(path.join(layout.dataDir, RUNTIME_FILE), { force: true });
}

/**
 * The live server of this data directory: the process its pid file names, provided that
 * process's command line points at this very data directory (a recycled pid never matches).
 * When the pid file names none (a launcher killed after spawning the server but before the
 * server wrote it), the process table is searched for a server of this data directory.
 */
export function liveServerOf(kind: ServerKind, layout: Layout): number | undefined {
  const ours = (args: readonly string[]) =>
    kind === 'postgres'
      ? args.some((a, i) => a === layout.data && args[i - 1] === '-D')
      : args.includes(`--datadir=${layout.data}`);
  let pid: number | undefined;
  try {
    pid = Number(readFileSync(pidFileOf(kind, layout), 'utf8').split('\n')[0]?.trim());
  } catch {
    pid = undefined;
  }
  const args = pid === undefined ? undefined : processArgs(pid);
  if (pid !== undefined && args && ours(args)) return pid;
  // A postmaster's children carry no -D: only the server itself matches.
  return processesWhere(ours)[0];
}

/** Stops a live server found by liveServerOf and removes what its run left behind. */
export async function stopLiveServer(kind: ServerKind, layout: Layout, pid: number): Promise<void> {
  const runtime = readRuntime(layout);
  await terminatePid(pid, STOP_SIGNAL[kind]);
  if (runtime?.runDirIsTemp && runtime.runDir.startsWith('/tmp/credflow-')) removeQuietly(runtime.runDir);
  clearRuntime(layout);
}

/**
 * Stops whatever server still runs on `dataDir` (an orphan of a killed launcher), cleanly and
 * only after checking that its command line names that data directory. Returns its pid, or
 * undefined when none was running (or the directory holds no server).
 */
export async function stopServerIn(dataDir: string): Promise<number | undefined> {
  const layout = layoutFor(dataDir, '');
  let kind: ServerKind;
  try {
    if (!existsSync(layout.marker)) return undefined;
    kind = (JSON.parse(readFileSync(layout.marker, 'utf8')) as { kind: ServerKind }).kind;
  } catch {
    return undefined;
  }
  if (kind !== 'postgres' && kind !== 'mariadb') return undefined;
  const pid = liveServerOf(kind, layout);
  if (pid === undefined) return undefined;
  await stopLiveServer(kind, layout, pid);
  return pid;
}
