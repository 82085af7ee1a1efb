/**
 * Secret values at rest: sealed with AES-256-GCM, never in the database file, its WAL, the
 * event log or the logs; keys and credentials survive a restart; a ciphertext moved to another
 * version does not decrypt.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { LocalCloud } from '../../local/cloud';
import { CREDENTIALS_FILE } from '../../local/credentials';
import { createLogger } from '../../local/log';
import { ROOT_KEY_FILE } from '../../local/store/keyring';
import { awsError } from '../support/cloud';

let stateDir: string;
const logLines: string[] = [];
const logger = createLogger({ level: 'debug', write: (line) => logLines.push(line) });

beforeEach(() => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'credflow-enc-'));
  logLines.length = 0;
});
afterEach(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

async function withCloud<T>(fn: (cloud: LocalCloud, sm: SecretsManagerClient) => Promise<T>): Promise<T> {
  const cloud = await LocalCloud.start({ stateDir, port: 0, logger });
  const sm = new SecretsManagerClient({ ...cloud.clientConfig(), maxAttempts: 1 });
  try {
    return await fn(cloud, sm);
  } finally {
    sm.destroy();
    await cloud.stop();
  }
}

/** Every encoding of `value` a careless store might write. */
function encodings(value: Buffer): Buffer[] {
  return [
    value,
    Buffer.from(value.toString('base64')),
    Buffer.from(value.toString('base64url')),
    Buffer.from(value.toString('hex')),
    Buffer.from(value.toString('hex').toUpperCase()),
    Buffer.from(value.toString('latin1'), 'utf16le'),
  ];
}

/** Every file under the state dir, at any depth (the store, keys, logs, rds/, snapshots). */
function stateFiles(): string[] {
  return (readdirSync(stateDir, { recursive: true }) as string[])
    .map((f) => path.join(stateDir, f))
    .filter((f) => statSync(f).isFile());
}

function expectNowhere(values: Buffer[]): void {
  const files = stateFiles();
  expect(files.some((f) => f.endsWith('credflow.db'))).toBe(true);
  for (const file of files) {
    const content = readFileSync(file);
    for (const v of values) {
      for (const enc of encodings(v)) {
        if (content.includes(enc))
          throw new Error(`${path.basename(file)} contains a secret value (${enc.length} bytes)`);
      }
    }
  }
  for (const line of logLines) {
    for (const v of values) expect(line).not.toContain(v.toString('utf8'));
  }
}

it('never writes a plaintext value to the db file, its WAL, the event log or the logs', async () => {
  const canary = `CANARY-${crypto.randomUUID()}-plaintext`;
  const binary = Buffer.from(`BINARY-CANARY-${crypto.randomUUID()}`);
  const values = [
    Buffer.from(`{"password":"${canary}-1"}`),
    Buffer.from(`${canary}-1`),
    Buffer.from(`${canary}-2`),
    Buffer.from(`${canary}-3`),
    binary,
  ];
  await withCloud(async (cloud, sm) => {
    const first = `first-version-${crypto.randomUUID()}`;
    const a = await sm.send(
      new CreateSecretCommand({
        Name: 'enc/a',
        SecretString: `{"password":"${canary}-1"}`,
        KmsKeyId: 'alias/custom',
        ClientRequestToken: first,
      }),
    );
    await sm.send(new PutSecretValueCommand({ SecretId: a.ARN, SecretString: `${canary}-2` }));
    await sm.send(new UpdateSecretCommand({ SecretId: a.ARN, SecretString: `${canary}-3` }));
    await sm.send(new CreateSecretCommand({ Name: 'enc/b', SecretBinary: binary }));
    // A refused write must not leak the value in its error either.
    const e = await awsError(
      () =>
        sm.send(
          new PutSecretValueCommand({
            SecretId: a.ARN,
            SecretString: `${canary}-4`,
            ClientRequestToken: first,
          }),
        ),
      'ResourceExistsException',
    );
    expect(e.message).not.toContain(canary);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'enc/a' }))).SecretString).toBe(
      `${canary}-3`,
    );
    // While running: the WAL holds the recent pages.
    expect(stateFiles().some((f) => f.endsWith('-wal'))).toBe(true);
    expectNowhere(values);
    expect(JSON.stringify(cloud.events.list())).not.toContain(canary);
  });
  // After a clean stop: everything checkpointed into the main file.
  expectNowhere(values);
});

it('keeps the root key and credentials private (0600) and reuses them after a restart', async () => {
  const first = await withCloud(async (cloud, sm) => {
    await sm.send(new CreateSecretCommand({ Name: 'enc/persist', SecretString: 'still-here' }));
    return cloud.credentials;
  });
  for (const f of [ROOT_KEY_FILE, CREDENTIALS_FILE]) {
    expect(statSync(path.join(stateDir, f)).mode & 0o777).toBe(0o600);
  }
  await withCloud(async (cloud, sm) => {
    expect(cloud.credentials).toEqual(first);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'enc/persist' }))).SecretString).toBe(
      'still-here',
    );
  });
});

it('binds each ciphertext to its secret and version: a swapped one fails with DecryptionFailure', async () => {
  await withCloud(async (cloud, sm) => {
    const a = await sm.send(new CreateSecretCommand({ Name: 'enc/one', SecretString: 'value-one' }));
    const b = await sm.send(new CreateSecretCommand({ Name: 'enc/two', SecretString: 'value-two' }));
    // Someone with write access to the file copies one secret's ciphertext onto the other.
    cloud.store.db
      .prepare(
        'UPDATE sm_versions SET ciphertext = (SELECT ciphertext FROM sm_versions WHERE secret_arn = ?) WHERE secret_arn = ?',
      )
      .run(a.ARN, b.ARN);
    const e = await awsError(
      () => sm.send(new GetSecretValueCommand({ SecretId: 'enc/two' })),
      'DecryptionFailure',
    );
    expect(e.message).not.toContain('value-one');
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'enc/one' }))).SecretString).toBe(
      'value-one',
    );
  });
});

it('cannot read the values with another root key', async () => {
  await withCloud(async (_cloud, sm) => {
    await sm.send(new CreateSecretCommand({ Name: 'enc/rooted', SecretString: 'needs-the-root-key' }));
  });
  writeFileSync(path.join(stateDir, ROOT_KEY_FILE), `${Buffer.alloc(32, 7).toString('base64')}\n`, {
    mode: 0o600,
  });
  await withCloud(async (_cloud, sm) => {
    await awsError(() => sm.send(new GetSecretValueCommand({ SecretId: 'enc/rooted' })), 'DecryptionFailure');
  });
});

it('two clouds starting together on one fresh state dir agree on credentials and keys', async () => {
  const [a, b] = await Promise.all([
    LocalCloud.start({ stateDir, port: 0, logger }),
    LocalCloud.start({ stateDir, port: 0, logger }),
  ]);
  const smA = new SecretsManagerClient({ ...a.clientConfig(), maxAttempts: 1 });
  const smB = new SecretsManagerClient({ ...b.clientConfig(), maxAttempts: 1 });
  try {
    expect(a.credentials).toEqual(b.credentials);
    await smA.send(
      new CreateSecretCommand({ Name: 'enc/shared', SecretString: 'written-by-a', KmsKeyId: 'alias/k' }),
    );
    await smB.send(
      new CreateSecretCommand({ Name: 'enc/shared-b', SecretString: 'written-by-b', KmsKeyId: 'alias/k' }),
    );
    expect((await smB.send(new GetSecretValueCommand({ SecretId: 'enc/shared' }))).SecretString).toBe(
      'written-by-a',
    );
    expect((await smA.send(new GetSecretValueCommand({ SecretId: 'enc/shared-b' }))).SecretString).toBe(
      'written-by-b',
    );
  } finally {
    smA.destroy();
    smB.destroy();
    await Promise.all([a.stop(), b.stop()]);
  }
});
