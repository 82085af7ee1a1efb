/**
 * `credflow up --detach` as a user runs it: the export lines carry the token the local routes
 * want, `credflow alerts` sends it, and the cloud's log file is the owner's alone and never holds
 * the secret access key or the token.
 */

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type EndpointInfo, notTheCloud } from '../../cli/context';

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
      'AWS_DEFAULT_REGION',
      'AWS_ENDPOINT_URL',
      'AWS_REGION',
      'AWS_SECRET_ACCESS_KEY',
      'CREDFLOW_TOKEN',
    ]);
    // boto3 and older tools read AWS_DEFAULT_REGION, not AWS_REGION.
    expect(exported['AWS_DEFAULT_REGION']).toBe(exported['AWS_REGION']);
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

describe('credflow console --open', () => {
  it("never puts the token on the browser's command line: a one-time code, traded for the HttpOnly cookie", async () => {
    // A stand-in browser opener that records the command line it was given.
    const bin = path.join(parent, 'bin');
    const argvFile = path.join(parent, 'opener-argv');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${argvFile}'\n`, {
      mode: 0o755,
    });
    const r = await credflow(['--local', '--state-dir', stateDir, 'console', '--open'], {
      PATH: `${bin}:${process.env['PATH']}`,
    });
    expect(r.code).toBe(0);
    const token = exported['CREDFLOW_TOKEN'] as string;
    await eventuallyExists(argvFile);
    const argv = readFileSync(argvFile, 'utf8').trim();
    expect(argv).not.toContain(token);
    const url = new URL(argv);
    expect(`${url.origin}`).toBe(exported['AWS_ENDPOINT_URL']);
    expect(url.pathname).toBe('/_credflow/console/');
    const code = url.searchParams.get('credflow_code');
    expect(code).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const first = await fetch(url, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/_credflow/console/');
    expect(first.headers.get('set-cookie')).toBe(
      `credflow_token=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`,
    );
    // Once only.
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(401);
  });
});

async function eventuallyExists(file: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} was not written`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('credflow up checks what a state dir records before trusting it', () => {
  /** A zombie: `sleep 0`, whose parent (`sh`, exec'd into `sleep 30`) never reaps it. */
  async function zombie(): Promise<{ zombiePid: number; parent: ChildProcess }> {
    const parent = spawn('sh', ['-c', 'sleep 0 & exec sleep 30'], { stdio: 'ignore' });
    const pid = parent.pid as number;
    for (let i = 0; i < 100; i++) {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      const z = Number(kids.split(' ')[0]);
      if (z > 0 && /\) Z /.test(readFileSync(`/proc/${z}/stat`, 'utf8'))) return { zombiePid: z, parent };
      await new Promise((r) => setTimeout(r, 20));
    }
    parent.kill('SIGKILL');
    throw new Error('no zombie appeared');
  }

  it('says it is already running only when the recorded cloud answers with its pid', async () => {
    const again = await credflow(['up', '--detach', '--port', '0', '--state-dir', stateDir]);
    expect(again.code).toBe(0);
    const info = JSON.parse(readFileSync(path.join(stateDir, 'endpoint.json'), 'utf8')) as { pid: number };
    expect(again.stderr).toContain(`already running (pid ${info.pid})`);
    expect(notTheCloud(info as EndpointInfo)).toBeUndefined();
  });

  it('a record naming a zombie or a pid now used by another process is not a running cloud', async () => {
    const { zombiePid, parent } = await zombie();
    try {
      const record = { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', stage: 'local', startedAt: '' };
      expect(notTheCloud({ ...record, pid: zombiePid })).toBe(`pid ${zombiePid} is gone`);
      expect(notTheCloud({ ...record, pid: parent.pid as number })).toBe(
        `pid ${parent.pid} is not a credflow cloud (sleep 30)`,
      );
      expect(notTheCloud({ ...record, pid: process.pid, pidStart: '1' })).toMatch(
        new RegExp(`^pid ${process.pid} now belongs to another process`),
      );
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('after a kill -9 left a zombie behind the record, up starts a new cloud', async () => {
    const dir = path.join(parent, 'zombie-state');
    const { zombiePid, parent: holder } = await zombie();
    try {
      mkdirSync(dir, { mode: 0o700 });
      writeFileSync(
        path.join(dir, 'endpoint.json'),
        JSON.stringify({
          endpoint: 'http://127.0.0.1:9',
          pid: zombiePid,
          region: 'us-east-1',
          stage: 'local',
          startedAt: new Date().toISOString(),
        }),
      );
      const up = await credflow(['up', '--detach', '--port', '0', '--state-dir', dir]);
      expect(up.code).toBe(0);
      expect(up.stderr).toContain(`not running (pid ${zombiePid} is gone): starting a new one`);
      expect(up.stderr).toMatch(/local cloud running \(pid \d+\)/);
      const endpoint = /^export AWS_ENDPOINT_URL=(.*)$/m.exec(up.stdout)?.[1];
      expect((await fetch(`${endpoint}/_credflow/health`)).status).toBe(200);
    } finally {
      holder.kill('SIGKILL');
      await credflow(['down', '--state-dir', dir]);
    }
  }, 120_000);

  it('a port held by another process: says which pid and command hold it, starts nothing', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const dir = path.join(parent, 'port-state');
    try {
      const up = await credflow(['up', '--detach', '--port', String(port), '--state-dir', dir]);
      expect(up.code).not.toBe(0);
      expect(up.stderr).toContain(`port ${port} on 127.0.0.1 is in use by pid ${process.pid} (`);
      expect(up.stderr).not.toContain('see cloud.log');
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});
