import { processArgs, processesWhere } from '../../local/dbserver/process';

/**
 * Database server processes (postgres, mariadbd) whose command line points into `dir`: what a
 * suite that kills clouds must leave none of when it ends.
 */
export function serverProcessesUnder(dir: string): { pid: number; args: string }[] {
  const under = (a: string) => a.includes(dir);
  return processesWhere(
    (args) => /(^|\/)(postgres|mariadbd|mysqld)$/.test(args[0] ?? '') && args.some(under),
  ).map((pid) => ({ pid, args: (processArgs(pid) ?? []).join(' ') }));
}

/** Kills (SIGKILL) every server process under `dir` and returns what it found, for a test to assert on. */
export function killServersUnder(dir: string): { pid: number; args: string }[] {
  const found = serverProcessesUnder(dir);
  for (const p of found) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
