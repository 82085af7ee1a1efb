/**
 * A local cloud in a child process (test/fault/cloud-child.ts), for tests that kill it with
 * SIGKILL as a crash would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { LocalClientConfig } from '../../local/cloud';
import { trustLocalRds } from './trust';

const root = path.resolve(__dirname, '../..');

export interface CloudProcess {
  proc: ChildProcess;
  config: LocalClientConfig;
  /** kill -9, then waits for the process to be gone. */
  crash(): Promise<void>;
  /** SIGTERM (a clean stop), then waits for the process to be gone. */
  stop(): Promise<void>;
}

export function startCloudProcess(stateDir: string): Promise<CloudProcess> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ['--require', './test/support/register-ts.js', 'test/fault/cloud-child.ts', stateDir],
      {
        cwd: root,
        env: { ...process.env, LOG_LEVEL: 'ERROR', CREDFLOW_LOG_LEVEL: 'error' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    const end = async (signal: NodeJS.Signals) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await gone;
    };
    let out = '';
    proc.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        // The child's local RDS CA exists now; this process logs in to its databases too.
        trustLocalRds(stateDir);
        resolve({ proc, config: JSON.parse(line), crash: () => end('SIGKILL'), stop: () => end('SIGTERM') });
      }
    });
    proc.once('exit', (code) => reject(new Error(`cloud child exited ${code}`)));
  });
}
