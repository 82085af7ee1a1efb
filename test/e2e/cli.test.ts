import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(__dirname, '../..');
const exec = promisify(execFile);
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-cli-'));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it: a subprocess, from source. */
async function credflow(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      ['--require', './test/support/register-ts.js', 'cli/credflow.ts', ...args],
      {
        cwd: root,
        env: { ...process.env, LOG_LEVEL: 'WARN', CREDFLOW_LOG_LEVEL: 'warn', NO_COLOR: '1' },
        timeout: 240_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const local = (...args: string[]) => credflow('--local', '--state-dir', stateDir, ...args);

beforeAll(async () => {
  const up = await credflow('up', '--detach', '--port', '0', '--state-dir', stateDir);
  expect(up.code).toBe(0);
  expect(up.stdout).toMatch(/^export AWS_ENDPOINT_URL=http:\/\/127\.0\.0\.1:\d+$/m);
}, 120_000);

afterAll(async () => {
  await credflow('down', '--state-dir', stateDir);
  rmSync(stateDir, { recursive: true, force: true });
}, 120_000);

describe('the credflow CLI against the local cloud', () => {
  const secrets: Record<string, string> = {};

  it('provisions a database and creates one user per strategy', async () => {
    const p = await local('--json', 'provision', 'cli-db', '--engine', 'postgres');
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout)).toMatchObject({
      status: 'SUCCEEDED',
      output: { identifier: 'cli-db', status: 'available' },
    });
    for (const strategy of ['single-user', 'alternating-users', 'admin-single-user']) {
      const u = await local(
        '--json',
        'create-user',
        'cli-db',
        `cli_${strategy.split('-')[0]}`,
        '--privileges',
        'SELECT',
        '--strategy',
        strategy,
      );
      expect(u.code).toBe(0);
      secrets[strategy] = JSON.parse(u.stdout).output.secretArn;
    }
  });

  it.each(['single-user', 'alternating-users', 'admin-single-user'])(
    'rotate-now (%s) exits 0 and the secret rotated',
    async (strategy) => {
      const before = JSON.parse((await local('--json', 'secrets')).stdout) as {
        arn: string;
        lastRotated?: string;
      }[];
      const r = await local('rotate-now', secrets[strategy] as string);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('✓ FinishSecret');
      expect(r.stderr).toContain('rotate-now: SUCCEEDED');
      const after = JSON.parse((await local('--json', 'secrets')).stdout) as {
        arn: string;
        lastRotated?: string;
        strategy: string;
      }[];
      const row = after.find((s) => s.arn === secrets[strategy]);
      expect(row?.strategy).toBe(strategy);
      expect(row?.lastRotated).toBeDefined();
      expect(row?.lastRotated).not.toBe(before.find((s) => s.arn === secrets[strategy])?.lastRotated);
    },
  );

  it('a failing rotation exits non-zero and names the error code', async () => {
    const r = await local('rotate-now', 'credflow/cli-db/no-such-user');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/\(NotFoundError\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--no-wait prints the execution ARN; history and executions read it back as JSON', async () => {
    const r = await local('rotate-now', secrets['single-user'] as string, '--no-wait');
    expect(r.code).toBe(0);
    const arn = r.stdout.trim();
    expect(arn).toMatch(/^arn:aws:states:us-east-1:000000000000:execution:credflow-local-rotate-secret:/);
    for (let i = 0; i < 100; i++) {
      const ex = JSON.parse((await local('--json', 'executions', '--workflow', 'rotate-secret')).stdout) as {
        executionArn: string;
        status: string;
      }[];
      if (ex.find((e) => e.executionArn === arn)?.status === 'SUCCEEDED') break;
      await new Promise((res) => setTimeout(res, 200));
    }
    const h = JSON.parse((await local('--json', 'history', arn)).stdout) as {
      state: string;
      status: string;
    }[];
    expect(h.map((s) => s.state)).toEqual(
      expect.arrayContaining(['CreateSecret', 'SetSecret', 'TestSecret', 'FinishSecret', 'VerifyRotation']),
    );
    expect(h.every((s) => s.status === 'succeeded')).toBe(true);
  });

  it('bad arguments exit 2 with one line', async () => {
    const r = await local('create-user', 'cli-db', 'x', '--privileges', 'DROP');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown privilege DROP');
    const s = await credflow('--state-dir', path.join(stateDir, 'nowhere'), '--local', 'secrets');
    expect(s.code).toBe(4);
    expect(s.stderr).toContain('LocalCloudNotRunning');
  });

  it('reconcile runs reconcile-rotations over the managed secrets; a bad threshold exits 2', async () => {
    const r = await local('--json', 'reconcile', '--older-than-minutes', '0');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { status: string; output: { scanned: number; stalled: number } };
    expect(out.status).toBe('SUCCEEDED');
    expect(out.output.scanned).toBeGreaterThanOrEqual(3);
    expect(out.output.stalled).toBe(0);
    const bad = await local('reconcile', '--older-than-minutes', '-5');
    expect(bad.code).toBe(2);
  });

  it('status, verify, rotate-master and decommission', async () => {
    const st = await credflow('--json', 'status', '--state-dir', stateDir);
    expect(JSON.parse(st.stdout)).toMatchObject({
      running: true,
      databases: [{ identifier: 'cli-db', status: 'available' }],
    });
    expect((await local('verify', secrets['alternating-users'] as string)).code).toBe(0);
    expect((await local('rotate-master', 'cli-db')).code).toBe(0);
    const d = await local('decommission', 'cli-db', '--final-snapshot', 'cli-db-final');
    expect(d.code).toBe(0);
  });
});

describe('the demo (npm start)', () => {
  it('runs the whole lifecycle and reports every part', async () => {
    const r = await credflow('demo', '--json');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as {
      ok: boolean;
      parts: { part: string; ok: boolean }[];
      executions: number;
    };
    expect(summary.ok).toBe(true);
    expect(summary.parts.map((p) => p.ok)).toEqual(summary.parts.map(() => true));
    expect(summary.parts.map((p) => p.part).join('\n')).toMatch(
      /provision[\s\S]*create[\s\S]*rotate[\s\S]*verify[\s\S]*master[\s\S]*break[\s\S]*decommission/,
    );
    expect(summary.executions).toBeGreaterThanOrEqual(30);
    expect(r.stderr).toContain('Summary');
  });
});
