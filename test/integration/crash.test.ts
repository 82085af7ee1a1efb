/**
 * kill -9 during a burst of writes: the local cloud runs in a child process (local/main.ts, as
 * `credflow up` will), the test writes with the SDK until the child dies mid-burst, restarts it on
 * the same state dir, and reads back every write that had been acknowledged.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

const ROOT = path.resolve(__dirname, '../..');

interface Ready {
  endpoint: string;
  port: number;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

interface Child {
  proc: ChildProcess;
  ready: Ready;
  exited: Promise<number | null>;
}

/** Starts `local/main.ts` in a child and waits for its JSON ready line. */
function startChild(stateDir: string): Promise<Child> {
  const proc = spawn(
    process.execPath,
    [
      '--require',
      './test/support/register-ts.js',
      'local/main.ts',
      '--port',
      '0',
      '--state-dir',
      stateDir,
      '--log-level',
      'silent',
      // Eight writers on eight secrets go well past Secrets Manager's 50 writes/s on purpose: this
      // test is about what survives a kill, so AWS's request rates are off here
      // (test/integration/quotas proves them).
      '--no-quotas',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready in 60 s: ${stderr}`)), 60_000);
    const lines = createInterface({ input: proc.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve({ proc, ready: JSON.parse(line) as Ready, exited });
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before ready: ${stderr}`));
    });
  });
}

function clientFor(ready: Ready): SecretsManagerClient {
  return new SecretsManagerClient({
    endpoint: ready.endpoint,
    region: ready.region,
    credentials: { accessKeyId: ready.accessKeyId, secretAccessKey: ready.secretAccessKey },
    maxAttempts: 1,
  });
}

let stateDir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-crash-'));
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(stateDir, { recursive: true, force: true });
});

it('keeps every acknowledged write across a kill -9 in the middle of a burst', async () => {
  const first = await startChild(stateDir);
  children.push(first.proc);
  const sm = clientFor(first.ready);

  const secrets: string[] = [];
  for (let i = 0; i < 8; i++) {
    const out = await sm.send(
      new CreateSecretCommand({ Name: `crash/secret-${i}`, SecretString: `initial-${i}` }),
    );
    secrets.push(out.ARN!);
  }

  // Eight writers in parallel; the child is killed once enough writes were acknowledged, while
  // the others are still in flight.
  const acked: { arn: string; token: string; value: string; stage: string | undefined }[] = [];
  let next = 0;
  let killed = false;
  const KILL_AFTER = 200;
  const writer = async () => {
    while (!killed) {
      const i = next++;
      const arn = secrets[i % secrets.length]!;
      const token = `crash-${i}-${crypto.randomUUID()}`;
      const value = JSON.stringify({ i, password: crypto.randomUUID() });
      // Most writes carry their own label (so no write is ever deprecated away); every fifth
      // moves AWSCURRENT, exercising the multi-row label change.
      const stage = i % 5 === 0 ? undefined : `W${i}`;
      try {
        await sm.send(
          new PutSecretValueCommand({
            SecretId: arn,
            ClientRequestToken: token,
            SecretString: value,
            ...(stage ? { VersionStages: [stage] } : {}),
          }),
        );
      } catch {
        if (killed) return;
        throw new Error(`write ${i} failed before the kill`);
      }
      acked.push({ arn, token, value, stage });
      if (acked.length >= KILL_AFTER && !killed) {
        killed = true;
        first.proc.kill('SIGKILL');
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
  await first.exited;
  sm.destroy();
  expect(first.proc.signalCode).toBe('SIGKILL');
  expect(acked.length).toBeGreaterThanOrEqual(KILL_AFTER);

  const second = await startChild(stateDir);
  children.push(second.proc);
  // Same state dir, same credentials.
  expect(second.ready.accessKeyId).toBe(first.ready.accessKeyId);
  const again = clientFor(second.ready);
  try {
    for (const w of acked) {
      const got = await again.send(new GetSecretValueCommand({ SecretId: w.arn, VersionId: w.token }));
      expect(got.SecretString).toBe(w.value);
      if (w.stage) expect(got.VersionStages).toContain(w.stage);
    }
    // Exactly one AWSCURRENT per secret, still readable.
    for (const arn of secrets) {
      const current = await again.send(new GetSecretValueCommand({ SecretId: arn }));
      expect(current.VersionStages).toContain('AWSCURRENT');
    }
  } finally {
    again.destroy();
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }
}, 180_000);
