import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { cliOnTerminal } from '../support/terminal';

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
  return credflowWith({ LOG_LEVEL: 'WARN', CREDFLOW_LOG_LEVEL: 'warn' }, ...args);
}

/** The same with an environment of the test's choosing (on top of this process's). */
async function credflowWith(env: Record<string, string | undefined>, ...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      ['--require', './test/support/register-ts.js', 'cli/credflow.ts', ...args],
      {
        cwd: root,
        env: { ...process.env, NO_COLOR: '1', ...env },
        timeout: 290_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const local = (...args: string[]) => credflow('--local', '--state-dir', stateDir, ...args);

/** The CLI on a terminal, `typed` sent to it as keystrokes (see cliOnTerminal). */
const onTerminal = (typed: string, ...args: string[]) =>
  cliOnTerminal(args, {
    typed,
    env: { ...process.env, NO_COLOR: '1', LOG_LEVEL: 'WARN' },
    timeoutMs: 120_000,
  });

let up: Result;

beforeAll(async () => {
  // The cloud logs at info, as `credflow up` does by default, so its log holds the metric lines.
  up = await credflowWith(
    { LOG_LEVEL: 'WARN', CREDFLOW_LOG_LEVEL: 'info' },
    'up',
    '--detach',
    '--port',
    '0',
    '--state-dir',
    stateDir,
  );
  expect(up.code).toBe(0);
  expect(up.stdout).toMatch(/^export AWS_ENDPOINT_URL=http:\/\/127\.0\.0\.1:\d+$/m);
  // boto3 and older AWS CLIs read AWS_DEFAULT_REGION, not AWS_REGION.
  expect(up.stdout).toMatch(/^export AWS_DEFAULT_REGION=us-east-1$/m);
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
      // A short result on stdout, not the execution's JSON (that is for --json).
      expect(r.stdout.trim()).toBe(`rotated ${secrets[strategy]}`);
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

  it('rotate-fleet shows its progress as plain lines off a terminal, then the summary; exit 0', async () => {
    const r = await local(
      'rotate-fleet',
      '--tag',
      'credflow:managed=true',
      '--force',
      '--write-budget',
      '30',
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^ {2}rotated \d+(\/3)?, failed 0, in flight \d+/m);
    // The summary is the result: stdout.
    expect(r.stdout).toContain('3 rotated, 0 failed');
    expect(r.stdout).toMatch(/at a budget of 30 writes\/s \(10\/s\); throttled requests \d+/);
    // Without --force, what was skipped says why.
    const again = await local('rotate-fleet', '--tag', 'credflow:managed=true');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/3 skipped \(not due 3: rotate them anyway with --force\)/);
    // Plain lines only: no carriage return or erase-line sequence when stderr is not a terminal.
    expect([r.stderr.includes('\r'), r.stderr.includes('\u001b[2K')]).toEqual([false, false]);
  });

  it("the rotations' metrics are in the local cloud's log (EMF lines), and no password is", async () => {
    const log = readFileSync(path.join(stateDir, 'cloud.log'), 'utf8');
    const metrics = log
      .split('\n')
      .filter((l) => l.startsWith('{"_aws"'))
      .map(
        (l) =>
          JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string }[] } },
      );
    const rotations = metrics.filter((m) => m['RotationSucceeded'] === 1);
    expect(rotations.map((m) => m['strategy']).sort()).toEqual(
      expect.arrayContaining(['admin-single-user', 'alternating-users', 'single-user']),
    );
    for (const m of rotations) {
      expect(m).toMatchObject({ service: 'credflow-rotation', engine: 'postgres' });
      expect(m._aws.CloudWatchMetrics[0]?.Namespace).toBe('credflow/local');
    }
    expect(metrics.filter((m) => typeof m['RotationDuration'] === 'number').length).toBe(rotations.length);
    // Every version of every secret, against the whole log.
    const info = JSON.parse(readFileSync(path.join(stateDir, 'endpoint.json'), 'utf8')) as {
      endpoint: string;
    };
    const sm = new SecretsManagerClient({
      endpoint: info.endpoint,
      region: 'us-east-1',
      credentials: JSON.parse(readFileSync(path.join(stateDir, 'credentials.json'), 'utf8')),
    });
    let passwords = 0;
    for (const secret of (await sm.send(new ListSecretsCommand({ MaxResults: 100 }))).SecretList ?? []) {
      const versions = await sm.send(new ListSecretVersionIdsCommand({ SecretId: secret.ARN }));
      for (const v of versions.Versions ?? []) {
        const value = await sm.send(
          new GetSecretValueCommand({ SecretId: secret.ARN, VersionId: v.VersionId }),
        );
        const password = (JSON.parse(value.SecretString ?? '{}') as { password?: string }).password;
        if (!password) continue;
        passwords++;
        expect(log.includes(password)).toBe(false);
      }
    }
    expect(passwords).toBeGreaterThanOrEqual(7);
    sm.destroy();
  });

  it('a failing rotation exits non-zero, names the error code and prints its text once', async () => {
    const r = await local('rotate-now', 'credflow/cli-db/no-such-user');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/\(NotFoundError\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
    const withText = r.stderr.split('\n').filter((l) => /NotFoundError: ./.test(l));
    expect(withText).toHaveLength(1);
    // The state that failed is not shown as succeeded.
    const failedState = /✗ (\w+)/.exec(r.stderr)?.[1];
    expect(failedState).toBeDefined();
    expect(r.stderr).not.toContain(`✓ ${failedState}`);
  });

  it('create-user for a user that exists refuses with what exists, nothing changed, exit 2', async () => {
    const r = await local('create-user', 'cli-db', 'cli_single', '--privileges', 'SELECT,INSERT');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('credflow/cli-db/cli_single exists');
    expect(r.stderr).toContain('strategy single-user');
    expect(r.stderr).toContain('nothing changed');
    expect(r.stderr).toContain('--reconcile');
    expect(r.stderr).toContain('(UserExists)');
  });

  it('history and watch take an execution name; executions name the secret each was for', async () => {
    const name = `cli-watch-${Date.now()}`;
    const started = await local(
      'rotate-now',
      secrets['alternating-users'] as string,
      '--no-wait',
      '--name',
      name,
    );
    expect(started.code).toBe(0);
    const w = await local('watch', name);
    expect(w.code).toBe(0);
    expect(w.stderr).toContain('✓ FinishSecret');
    expect(w.stdout.trim()).toBe(`rotated ${secrets['alternating-users']}`);
    const h = await local('history', name);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^✓ FinishSecret \d/m);
    const missing = await local('history', 'no-such-execution');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('(ExecutionDoesNotExist)');
    const ex = await local('executions', '--secret', 'credflow/cli-db/cli_alternating');
    expect(ex.code).toBe(0);
    const rows = ex.stdout.trim().split('\n').slice(2);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row).toContain(secrets['alternating-users']);
    expect(ex.stdout).toContain(name);
  });

  it('Ctrl-C while following says the execution goes on and how to follow it; exit 130', async () => {
    /** One rotate-now, interrupted as soon as it says it follows the execution. */
    const interrupted = () => {
      const child = spawn(
        process.execPath,
        [
          '--require',
          './test/support/register-ts.js',
          'cli/credflow.ts',
          '--local',
          '--state-dir',
          stateDir,
          'rotate-now',
          secrets['admin-single-user'] as string,
          '--name',
          `cli-interrupt-${Date.now()}`,
        ],
        { cwd: root, env: { ...process.env, NO_COLOR: '1', LOG_LEVEL: 'WARN' } },
      );
      let stderr = '';
      return new Promise<{ code: number | null; stderr: string }>((resolve) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (stderr.includes('rotate-now: ')) child.kill('SIGINT');
        });
        child.on('exit', (code) => resolve({ code, stderr }));
      });
    };
    // A rotation that ended before the interrupt reached the CLI (it prints its result) is not a
    // test of the interrupt: try again, at most three times.
    let run = await interrupted();
    for (let i = 0; i < 2 && /rotate-now:? (SUCCEEDED|FAILED)/.test(run.stderr); i++)
      run = await interrupted();
    const { code, stderr } = run;
    // With what it printed, so that a run that ended otherwise says how it ended.
    expect({ code, stderr }).toEqual({ code: 130, stderr: expect.stringContaining('goes on') });
    const name = /goes on\. Follow it with `credflow --local --state-dir \S+ watch (cli-interrupt-\d+)`/.exec(
      stderr,
    )?.[1];
    expect(name).toBeDefined();
    // It did go on: following it again sees it through.
    const w = await local('watch', name as string);
    expect(w.code).toBe(0);
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
    // Without --json the states are the result too: on stdout, so they can be piped.
    const plain = await local('history', arn);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toBe('');
    expect(plain.stdout).toMatch(/^✓ CreateSecret \d/m);
    expect(plain.stdout).toMatch(/^✓ FinishSecret \d/m);
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
    // Off a terminal, without --yes: refused, nothing changed.
    const refused = await local('decommission', 'cli-db');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    // On a terminal it shows what it would delete and asks for the identifier: a typo refuses.
    const typo = await onTerminal(
      'cli-db-typo\n',
      '--local',
      '--state-dir',
      stateDir,
      'decommission',
      'cli-db',
    );
    expect(typo.code).toBe(2);
    expect(typo.text).toContain('decommission cli-db deletes:');
    expect(typo.text).toContain('credflow/cli-db/cli_single');
    expect(typo.text).toMatch(/Type the database identifier \(cli-db\) to delete it: .*cli-db-typo/);
    expect(typo.text).toContain(
      'the identifier typed was not cli-db; nothing changed (ConfirmationMismatch)',
    );
    const dry = await local('decommission', 'cli-db', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/final snapshot: +cli-db-final-\d{8}-\d{6}/);
    expect(dry.stdout).toContain('credflow/cli-db/cli_single');
    const still = JSON.parse((await credflow('--json', 'status', '--state-dir', stateDir)).stdout);
    expect(still.databases).toEqual([expect.objectContaining({ identifier: 'cli-db', status: 'available' })]);
    const d = await local('decommission', 'cli-db', '--yes', '--final-snapshot', 'cli-db-final');
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('deleted cli-db; final snapshot cli-db-final');
    expect(d.stdout).toMatch(/3 child secret\(s\) scheduled for deletion/);
    // Nine CLI runs, each a process of its own: more than the default time on a busy machine.
  }, 300_000);
});

describe('what the CLI prints, and where', () => {
  const endpoint = () => /^export AWS_ENDPOINT_URL=(.+)$/m.exec(up.stdout)?.[1] ?? '';
  const token = () => readFileSync(path.join(stateDir, 'token'), 'utf8').trim();

  it('credflow up names the console, with its token, on stderr', () => {
    expect(up.stderr).toContain(`console: ${endpoint()}/_credflow/console/?credflow_token=${token()}`);
    expect(up.stdout).not.toContain('console:');
  });

  it('credflow console prints the URL on stdout; it opens the page and sets the cookie', async () => {
    const r = await local('console');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${endpoint()}/_credflow/console/?credflow_token=${token()}`);
    const page = await fetch(r.stdout.trim(), { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/_credflow/console/');
    expect(page.headers.get('set-cookie')).toMatch(
      /^credflow_token=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/,
    );
    expect((await fetch(`${endpoint()}/_credflow/console/`)).status).toBe(401);
  });

  it('--version prints the version alone on stdout', async () => {
    const r = await credflow('--version');
    expect(r).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
  });

  it('with no AWS credentials: one line naming them, exit 4, no SDK warning, no stack trace', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'credflow-nohome-'));
    const env: Record<string, string | undefined> = {
      HOME: home,
      AWS_REGION: 'eu-west-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_') && !(k in env)) env[k] = undefined;
    try {
      const r = await credflowWith(env, 'secrets');
      expect(r.code).toBe(4);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringContaining('no AWS credentials found')]);
      expect(r.stderr).toContain('(CredentialsMissing)');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
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
    // The whole lifecycle on two engines, with IAM checked on every call: minutes, not seconds.
  }, 300_000);
});
