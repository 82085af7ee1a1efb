/**
 * `credflow up --detach` as a user runs it: the export lines carry the token the local routes
 * want, `credflow alerts` sends it, and the cloud's log file is the owner's alone and never holds
 * the secret access key or the token.
 */

import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

const root = path.resolve(__dirname, '../..');
const exec = promisify(execFile);
const parent = mkdtempSync(path.join(os.tmpdir(), 'credflow-up-'));
chmodSync(parent, 0o711);
const stateDir = path.join(parent, 'state');
const elsewhere = path.join(parent, 'no-cloud-here');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as a subprocess, from source; the cloud it starts logs at debug level. */
async function credflow(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const base: Record<string, string | undefined> = { ...process.env };
  for (const k of [
    'AWS_ENDPOINT_URL',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_REGION',
    'CREDFLOW_TOKEN',
  ])
    delete base[k];
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      ['--require', './test/support/register-ts.js', 'cli/credflow.ts', ...args],
      {
        cwd: root,
        env: { ...base, CREDFLOW_LOG_LEVEL: 'debug', LOG_LEVEL: 'DEBUG', NO_COLOR: '1', ...env },
        timeout: 120_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const exported: Record<string, string> = {};
let upStdout = '';
const modeOf = (p: string) => (statSync(p).mode & 0o777).toString(8).padStart(4, '0');

beforeAll(async () => {
  const up = await credflow(['up', '--detach', '--port', '0', '--state-dir', stateDir]);
  expect(up.code).toBe(0);
  for (const m of up.stdout.matchAll(/^export ([A-Z_]+)=(.*)$/gm)) exported[m[1]!] = m[2]!;
  upStdout = up.stdout;
}, 120_000);

afterAll(async () => {
  await credflow(['down', '--state-dir', stateDir]);
  rmSync(parent, { recursive: true, force: true });
}, 120_000);

describe('credflow up --detach', () => {
  it('prints CREDFLOW_TOKEN with the other export lines: the state dir token, kept 0600', () => {
    expect(Object.keys(exported).sort()).toEqual([
      'AWS_ACCESS_KEY_ID',
      'AWS_ENDPOINT_URL',
      'AWS_REGION',
      'AWS_SECRET_ACCESS_KEY',
      'CREDFLOW_TOKEN',
    ]);
    expect(exported['CREDFLOW_TOKEN']).toBe(readFileSync(path.join(stateDir, 'token'), 'utf8').trim());
    expect(modeOf(path.join(stateDir, 'token'))).toBe('0600');
  });

  // As RDS publishes its CA bundle for clients to verify the databases' certificates against.
  it("prints where the local RDS's CA bundle is, as a comment eval ignores; its key is 0600", () => {
    const bundle = path.join(stateDir, 'rds-ca', 'rds-ca-bundle.pem');
    expect(upStdout).toContain(`# local RDS CA bundle: ${bundle} `);
    expect(readFileSync(bundle, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(modeOf(path.join(stateDir, 'rds-ca', 'rds-ca.key'))).toBe('0600');
  });

  it('credflow alerts sends the token: with --local, or CREDFLOW_TOKEN beside AWS_ENDPOINT_URL; without it, exit 2', async () => {
    const local = await credflow(['--local', '--state-dir', stateDir, '--json', 'alerts']);
    expect(local).toMatchObject({ code: 0 });
    expect(JSON.parse(local.stdout)).toEqual([]);
    const viaEnv = await credflow(['--state-dir', elsewhere, '--json', 'alerts'], exported);
    expect(viaEnv).toMatchObject({ code: 0 });
    const { CREDFLOW_TOKEN: _, ...noToken } = exported;
    const without = await credflow(['--state-dir', elsewhere, 'alerts'], noToken);
    expect(without.code).toBe(2);
    expect(without.stderr).toMatch(/CREDFLOW_TOKEN/);
    expect((await fetch(`${exported['AWS_ENDPOINT_URL']}/_credflow/alerts`)).status).toBe(401);
  });

  it('logs every request to cloud.log (0600), never the secret access key or the token', async () => {
    const config = {
      endpoint: exported['AWS_ENDPOINT_URL']!,
      region: exported['AWS_REGION']!,
      maxAttempts: 1,
    };
    const sm = new SecretsManagerClient({
      ...config,
      credentials: {
        accessKeyId: exported['AWS_ACCESS_KEY_ID']!,
        secretAccessKey: exported['AWS_SECRET_ACCESS_KEY']!,
      },
    });
    const wrong = new SecretsManagerClient({
      ...config,
      credentials: {
        accessKeyId: exported['AWS_ACCESS_KEY_ID']!,
        secretAccessKey: `${exported['AWS_SECRET_ACCESS_KEY']}x`,
      },
    });
    await sm.send(new ListSecretsCommand({}));
    await expect(wrong.send(new ListSecretsCommand({}))).rejects.toThrow(/signature/);
    sm.destroy();
    wrong.destroy();
    await fetch(
      `${exported['AWS_ENDPOINT_URL']}/_credflow/alerts?credflow_token=${exported['CREDFLOW_TOKEN']}`,
    );
    const logFile = path.join(stateDir, 'cloud.log');
    const log = readFileSync(logFile, 'utf8');
    expect(log).toMatch(/"message":"request".*"error":"InvalidSignatureException"/);
    expect(log).toMatch(/"message":"local request","path":"\/_credflow\/alerts","status":200/);
    expect(log).not.toContain(exported['AWS_SECRET_ACCESS_KEY']);
    expect(log).not.toContain(exported['CREDFLOW_TOKEN']);
    expect(modeOf(logFile)).toBe('0600');
    expect(modeOf(path.join(stateDir, 'endpoint.json'))).toBe('0600');
    expect(modeOf(stateDir)).toBe('0700');
  });
});
