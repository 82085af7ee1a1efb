/**
 * Runs the serverless CLI (osls) offline on the project: fake credentials (nothing is called),
 * no telemetry and no notifications, so `package` and `print` work with no AWS account.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

export const root = path.resolve(__dirname, '../..');

/** `osls <args>` in the project root; resolves with its stdout. */
export async function osls(args: string[], timeout = 300_000): Promise<string> {
  const { stdout } = await promisify(execFile)(path.join(root, 'node_modules/.bin/osls'), args, {
    cwd: root,
    timeout,
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'AKIDOFFLINE',
      AWS_SECRET_ACCESS_KEY: 'offline',
      SLS_TELEMETRY_DISABLED: '1',
      SLS_NOTIFICATIONS_MODE: 'off',
    },
  });
  return stdout;
}
