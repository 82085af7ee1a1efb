import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import type { LocalCloud } from '../../local/cloud';

/** Debian's AWS CLI v2 (the `aws` on PATH may be an older v1). */
export const AWS_CLI = '/usr/bin/aws';
export const haveAwsCli = existsSync(AWS_CLI);

/** Runs `aws --endpoint-url <cloud> --output json <args>` with the cloud's printed credentials only. */
export async function awsCli(cloud: LocalCloud, ...args: string[]): Promise<Record<string, unknown>> {
  const c = cloud.clientConfig();
  const env = {
    PATH: '/usr/bin:/bin',
    HOME: '/tmp',
    AWS_ACCESS_KEY_ID: c.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: c.credentials.secretAccessKey,
    AWS_DEFAULT_REGION: c.region,
    AWS_PAGER: '',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const { stdout } = await promisify(execFile)(
    AWS_CLI,
    ['--endpoint-url', cloud.endpoint, '--output', 'json', ...args],
    {
      env,
      timeout: 60_000,
    },
  );
  return stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
}
