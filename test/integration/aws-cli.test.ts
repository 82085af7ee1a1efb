/**
 * The real AWS CLI v2 (Debian's `awscli`) against the local endpoint, with nothing but
 * `--endpoint-url` and the printed credentials. The CLI signs differently from the SDK (other
 * headers), which is what this proves works.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Harness, startLocalCloud } from '../support/cloud';

const AWS = '/usr/bin/aws';
const run = promisify(execFile);
const haveCli = existsSync(AWS);
if (!haveCli) {
  console.warn(
    `SKIPPED: ${AWS} is absent; install Debian's awscli (apt-get install awscli) to run the AWS CLI tests.`,
  );
}
const describeCli = haveCli ? describe : describe.skip;

let h: Harness;
let home: string;

function env(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  const config = h.cloud.clientConfig();
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: home,
    AWS_ACCESS_KEY_ID: config.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: config.credentials.secretAccessKey,
    AWS_REGION: config.region,
    AWS_DEFAULT_REGION: config.region,
    AWS_CONFIG_FILE: path.join(home, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    ...overrides,
  };
}

async function aws(args: string[], overrides: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const { stdout } = await run(
    AWS,
    ['--endpoint-url', h.cloud.endpoint, '--output', 'json', 'secretsmanager', ...args],
    { env: env(overrides), timeout: 60_000 },
  );
  return stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
}

/** Runs a CLI call that must fail; returns its stderr. */
async function awsFails(args: string[], overrides: Record<string, string> = {}): Promise<string> {
  try {
    await aws(args, overrides);
  } catch (err) {
    return String((err as { stderr?: string }).stderr);
  }
  throw new Error(`aws ${args.join(' ')} succeeded`);
}

beforeAll(async () => {
  if (!haveCli) return;
  h = await startLocalCloud();
  home = mkdtempSync(path.join(os.tmpdir(), 'credflow-cli-home-'));
});
afterAll(async () => {
  await h?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

describeCli('AWS CLI v2 against the local cloud', () => {
  it('create-secret, get-secret-value, put-secret-value, describe-secret, delete-secret', async () => {
    const name = `cli/${Date.now()}/db-user`;
    const created = await aws([
      'create-secret',
      '--name',
      name,
      '--secret-string',
      '{"username":"app","password":"p1"}',
    ]);
    expect(created['Name']).toBe(name);
    expect(String(created['ARN'])).toMatch(
      /^arn:aws:secretsmanager:us-east-1:000000000000:secret:cli\/.*-[A-Za-z0-9]{6}$/,
    );
    const v1 = String(created['VersionId']);

    const got = await aws(['get-secret-value', '--secret-id', name]);
    expect(got).toMatchObject({ Name: name, VersionId: v1, VersionStages: ['AWSCURRENT'] });
    expect(JSON.parse(String(got['SecretString']))).toEqual({ username: 'app', password: 'p1' });

    const put = await aws([
      'put-secret-value',
      '--secret-id',
      name,
      '--secret-string',
      '{"username":"app","password":"p2"}',
    ]);
    expect(put['VersionStages']).toEqual(['AWSCURRENT']);
    const v2 = String(put['VersionId']);

    const described = await aws(['describe-secret', '--secret-id', String(created['ARN'])]);
    expect(described['VersionIdsToStages']).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });
    expect(typeof described['CreatedDate']).toBe('string');

    const previous = await aws(['get-secret-value', '--secret-id', name, '--version-stage', 'AWSPREVIOUS']);
    expect(JSON.parse(String(previous['SecretString'])).password).toBe('p1');

    const deleted = await aws(['delete-secret', '--secret-id', name, '--recovery-window-in-days', '7']);
    expect(deleted['Name']).toBe(name);
    expect(typeof deleted['DeletionDate']).toBe('string');
    expect(await awsFails(['get-secret-value', '--secret-id', name])).toMatch(
      /InvalidRequestException.*marked for deletion/,
    );
  });

  it('round-trips a binary secret from a file and lists with a filter', async () => {
    const name = `cli/${Date.now()}/blob`;
    const file = path.join(home, 'blob.bin');
    writeFileSync(file, Buffer.from([0, 255, 1, 254, 2]));
    await aws(['create-secret', '--name', name, '--secret-binary', `fileb://${file}`]);
    const got = await aws(['get-secret-value', '--secret-id', name]);
    expect(Buffer.from(String(got['SecretBinary']), 'base64')).toEqual(Buffer.from([0, 255, 1, 254, 2]));
    const listed = await aws(['list-secrets', '--filters', `Key=name,Values=${name}`]);
    expect((listed['SecretList'] as { Name: string }[]).map((s) => s.Name)).toEqual([name]);
  });

  it('reports errors by their AWS names', async () => {
    expect(await awsFails(['describe-secret', '--secret-id', 'cli/does-not-exist'])).toMatch(
      /ResourceNotFoundException/,
    );
    expect(await awsFails(['list-secrets'], { AWS_SECRET_ACCESS_KEY: 'wrong-secret' })).toMatch(
      /InvalidSignatureException/,
    );
    expect(await awsFails(['list-secrets'], { AWS_ACCESS_KEY_ID: 'AKIAUNKNOWN000000000' })).toMatch(
      /UnrecognizedClientException/,
    );
  });
});
